"""Sending executions back to the workers: due waits and back-offs, and stale ones."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from linkflow.core.transactions import enqueue_on_commit

from .models import Execution, ExecutionStatus

BATCH = 500


def queued_grace() -> timedelta:
    """How long a queued execution may wait before its message is presumed lost.

    Short enough that executions whose messages vanished (Redis flushed, or restarted
    without persistence) run again soon; long enough that a busy queue is not re-sent
    needlessly (a duplicate is harmless, only wasted work). LINKFLOW_QUEUED_GRACE_SECONDS.
    """
    return timedelta(seconds=settings.LINKFLOW_QUEUED_GRACE_SECONDS)


def stale_condition(*, now: datetime) -> Q:
    """The executions recovery re-sends (and ``linkflow_executions_stale`` counts): running
    ones whose lease expired, queued ones whose message seems lost."""
    return Q(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now) | Q(
        status=ExecutionStatus.QUEUED, queued_at__lt=now - queued_grace()
    )


def executions_resume_due() -> int:
    """Queue the parked executions whose resume time has come; return how many.

    The conditional UPDATE makes concurrent callers harmless: a row leaves ``waiting``
    once, and a duplicate message for it finds nothing to claim twice.
    """
    from .tasks import run_execution

    now = timezone.now()
    due = Execution.objects.filter(status=ExecutionStatus.WAITING, resume_at__lte=now)
    ids = list(due.values_list("pk", flat=True)[:BATCH])
    if not ids:
        return 0
    Execution.objects.filter(pk__in=ids, status=ExecutionStatus.WAITING).update(
        status=ExecutionStatus.QUEUED, resume_at=None
    )
    for execution_id in ids:
        enqueue_on_commit(run_execution, str(execution_id))
    return len(ids)


def executions_requeue_stale() -> int:
    """Re-send executions whose lease expired or whose queue message seems lost.

    Sending twice is harmless (a worker must claim before running). Returns how many
    were sent; at most BATCH per call so one run stays short.
    """
    from .tasks import run_execution

    ids = list(
        Execution.objects.filter(stale_condition(now=timezone.now())).values_list("pk", flat=True)[
            :BATCH
        ]
    )
    for execution_id in ids:
        run_execution.delay(str(execution_id))
    return len(ids)
