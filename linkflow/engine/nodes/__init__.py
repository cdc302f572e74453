"""The built-in node library, one module per type family (see registry.py for the names)."""
