"""The figures on the operator console's front page (Django admin's index).

A handful of COUNT queries and one Redis pipeline, read when the page is opened; the queue
depth is the one /metrics reports (``linkflow.core.metrics.queue_depth``), None while Redis
cannot be read, so the page still opens during a Redis outage.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from executions.maintenance.dead_letters import dead_letters_pending_count
from executions.models import Execution, ExecutionStatus
from linkflow.core.metrics import queue_depth

FAILED_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ConsoleFigures:
    queue_depth: int | None
    queued: int
    running: int
    waiting: int
    failed_last_24h: int
    dead_letters_pending: int


def console_figures() -> ConsoleFigures:
    """The fleet's state now: messages in the queue, executions by live status, failures
    of the last 24 hours and dead letters waiting for an operator (all workspaces)."""
    live = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
    by_status = dict(
        Execution.objects.filter(status__in=live)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    failed = Execution.objects.filter(
        status=ExecutionStatus.FAILED, finished_at__gte=timezone.now() - FAILED_WINDOW
    ).count()
    return ConsoleFigures(
        queue_depth=queue_depth(),
        queued=by_status.get(ExecutionStatus.QUEUED, 0),
        running=by_status.get(ExecutionStatus.RUNNING, 0),
        waiting=by_status.get(ExecutionStatus.WAITING, 0),
        failed_last_24h=failed,
        dead_letters_pending=dead_letters_pending_count(),
    )
