"""What starts executions besides the API: cron fires, broker messages, polls, test runs."""
