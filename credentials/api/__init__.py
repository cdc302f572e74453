"""The credentials API."""
