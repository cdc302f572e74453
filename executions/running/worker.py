"""What a prefork worker's main process does for the executions its children run.

The child that runs an execution renews its lease from a heartbeat thread, but a node or
expression holding the GIL in C freezes that thread with it: the lease would run out and
recovery would hand the execution to the next child, and the next. So the main process,
which holds no GIL of theirs, keeps the leases of its live children (LeaseKeeper), and
when the hard time limit kills a child it fails that child's execution with the reason
(RunRequest): nobody else is ever given it to be killed again.

The thread pool (the embedded mode, the test workers) has no such parent: there the
expression cost model and the lost-lease count are the defence (docs/security/worker-limits.md).
"""

import logging
import threading
from datetime import timedelta
from typing import Any

from celery import bootsteps
from celery.worker import state
from celery.worker.request import Request
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from executions.models import Execution, ExecutionStatus
from executions.running.lease import owner_prefix
from executions.running.lost import WORKER_TIME_LIMIT, execution_fail_lost

logger = logging.getLogger(__name__)

RUN_TASK = "executions.run"


def execution_fail_time_limit(*, execution_id: str, pid: int, seconds: float) -> bool:
    """Fail the execution the process ``pid`` holds, for running past a ``seconds`` limit.

    Only an execution still leased by that process is touched (it may have finished or
    been taken over meanwhile). Returns True when it was failed.
    """
    return execution_fail_lost(
        execution_id=execution_id,
        lease=Q(lease_owner__startswith=owner_prefix(pid)),
        code=WORKER_TIME_LIMIT,
        message=(
            f"The execution ran past the worker's time limit ({seconds:g} s); its worker "
            "was stopped and the execution is not run again."
        ),
    )


def _execution_id(request: Request) -> str | None:
    args, kwargs = request.args or (), request.kwargs or {}
    found = args[0] if args else kwargs.get("execution_id")
    return str(found) if found else None


class RunRequest(Request):  # type: ignore[misc]  # Celery ships no types
    """The main process's view of one ``executions.run`` message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The sender writes its own configured limits into the message; the limit a worker
        # cannot outlive is the worker's own (task_time_limit), never the message's.
        self.time_limits = (None, None)

    def on_timeout(self, soft: bool, timeout: float) -> None:
        """On the hard limit, fail the execution the killed child held (Celery kills it
        right after this returns, so its own writes are fenced out by the cleared lease).

        First, before Celery's own handling, whose task_failure would otherwise make it a
        dead letter with an internal error."""
        execution_id = _execution_id(self)
        if not soft and self.worker_pid is not None and execution_id is not None:
            execution_fail_time_limit(
                execution_id=execution_id, pid=self.worker_pid, seconds=timeout
            )
        super().on_timeout(soft, timeout)


class LeaseKeeper(bootsteps.StartStopStep):  # type: ignore[misc]  # Celery ships no types
    """Renews, from a thread of the main process, the leases of executions its prefork
    children are running, for as long as each child lives with the task."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, parent: Any) -> None:
        from celery.concurrency.prefork import TaskPool

        if not isinstance(parent.pool, TaskPool):
            return  # threads share the process: the run's own heartbeat is all there is
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()

    def stop(self, parent: Any) -> None:
        self._stop.set()

    def _run(self) -> None:
        interval = max(settings.LINKFLOW_LEASE_SECONDS / 3, 0.5)
        while not self._stop.wait(interval):
            try:
                leases_keep(held=running_children())
            except Exception:  # an outage: the children's own heartbeats still try
                logger.exception("could not renew the children's leases")
                connection.close()


def running_children() -> list[tuple[str, int]]:
    """(execution id, child pid) of every executions.run message a child has accepted."""
    try:
        requests = list(state.active_requests)
    except RuntimeError:  # the main thread changed the set meanwhile: next time
        return []
    held = []
    for request in requests:
        execution_id = _execution_id(request)
        if request.name == RUN_TASK and request.worker_pid and execution_id:
            held.append((execution_id, request.worker_pid))
    return held


def leases_keep(*, held: list[tuple[str, int]]) -> int:
    """Push forward the leases that the processes named in ``held`` (execution id, pid)
    still hold on running executions; return how many were renewed."""
    if not held:
        return 0
    match = Q()
    for execution_id, pid in held:
        match |= Q(pk=execution_id, lease_owner__startswith=owner_prefix(pid))
    expires_at = timezone.now() + timedelta(seconds=settings.LINKFLOW_LEASE_SECONDS)
    return Execution.objects.filter(match, status=ExecutionStatus.RUNNING).update(
        lease_expires_at=expires_at
    )
