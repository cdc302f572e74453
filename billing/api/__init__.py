"""The billing API."""
