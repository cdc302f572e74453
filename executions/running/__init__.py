"""Running one execution on a worker: the lease, the engine's host, the recorder."""
