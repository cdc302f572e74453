"""Live feeds of executions: what an event says, the log it is kept in, its publishing."""
