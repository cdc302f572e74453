"""Keeping the fleet healthy: recovery, retention, partitions, dead letters."""
