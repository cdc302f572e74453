"""Django's SQLite backend, its writers queued in the process instead of SQLite's sleeps."""
