"""A worker that is told to stop hands its executions back instead of holding them.

Celery's warm shutdown (SIGTERM) stops taking messages and waits for the running tasks.
An execution can run far longer than a process manager waits before SIGKILL, and a killed
worker leaves a lease that only expires later. So on the shutdown signal every execution
of this process stops before its next node, writes what it recorded, and goes back to the
broker with its lease released (``ExecutionRecorder.hand_back``); a message this process
receives from then on is sent back unclaimed. Another worker takes them at once and, as
for any resumed execution, does not repeat a node already recorded as succeeded.

The flag is per process: it reaches the executions of the thread pool (and the embedded
worker) at once. A prefork child runs in a process of its own, so the main process passes
the word on with SIGUSR2 to every child running an execution (Celery itself leaves that
signal alone); each child installs the handler when it starts.
"""

import logging
import os
import signal
import threading
from typing import Any

logger = logging.getLogger(__name__)
_stopping = threading.Event()
HAND_BACK_SIGNAL = signal.SIGUSR2


def shutdown_requested() -> bool:
    """True once this process's worker began a warm shutdown."""
    return _stopping.is_set()


def on_worker_shutting_down(**kwargs: Any) -> None:
    """Celery ``worker_shutting_down`` handler: from now on, hand executions back, here and
    in every prefork child running one."""
    from executions.running.worker import (
        running_children,  # worker.py imports Celery's worker machinery
    )

    _stopping.set()
    for _execution_id, pid in running_children():
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, HAND_BACK_SIGNAL)
        except ProcessLookupError:  # the child ended meanwhile: nothing to hand back
            continue
        logger.info("asked worker child %s to hand its execution back", pid)


def on_worker_process_init(**kwargs: Any) -> None:
    """Celery ``worker_process_init`` handler (prefork children): the main process's word
    to stop arrives as HAND_BACK_SIGNAL."""
    signal.signal(HAND_BACK_SIGNAL, lambda signum, frame: _stopping.set())


def shutdown_reset() -> None:
    """Forget a shutdown (tests running several workers in one process)."""
    _stopping.clear()
