"""The web UI's pages for executions: the list, the run view, the wait endpoints."""
