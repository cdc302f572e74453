"""A worker that is told to stop hands its executions back instead of holding them.

Celery's warm shutdown (SIGTERM) stops taking messages and waits for the running tasks.
An execution can run far longer than a process manager waits before SIGKILL, and a killed
worker leaves a lease that only expires later. So on the shutdown signal every execution
of this process stops before its next node, writes what it recorded, and goes back to the
broker with its lease released (``ExecutionRecorder.hand_back``); a message this process
receives from then on is sent back unclaimed. Another worker takes them at once and, as
for any resumed execution, does not repeat a node already recorded as succeeded.

The flag is per process: it reaches the executions of the thread pool (and the embedded
worker). A prefork child does not get the signal and finishes its current execution.
"""

import threading
from typing import Any

_stopping = threading.Event()


def shutdown_requested() -> bool:
    """True once this process's worker began a warm shutdown."""
    return _stopping.is_set()


def on_worker_shutting_down(**kwargs: Any) -> None:
    """Celery ``worker_shutting_down`` handler: from now on, hand executions back."""
    _stopping.set()


def shutdown_reset() -> None:
    """Forget a shutdown (tests running several workers in one process)."""
    _stopping.clear()
