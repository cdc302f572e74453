"""Sending executions back to the workers: due waits and back-offs, and stale ones."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from executions.models import Execution, ExecutionStatus
from executions.starting.dispatch import dispatch_promote
from executions.starting.sending import run_task

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
    ones whose lease expired, queued ones whose message seems lost (measured from when it
    was dispatched; pending ones hold no message and are never re-sent)."""
    cut = now - queued_grace()
    queued = Q(status=ExecutionStatus.QUEUED)
    lost = Q(dispatched_at__lt=cut) | Q(dispatched_at__isnull=True, queued_at__lt=cut)
    return Q(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now) | (queued & lost)


def executions_resume_due() -> int:
    """Wake the parked executions whose resume time has come; return how many.

    A parked execution holds no dispatch slot, so it wakes ``pending`` and goes to the
    broker when its workspace has one free (dispatch.py); it keeps its ``queued_at``, so
    it goes before the workspace's executions queued after it. The conditional UPDATE
    makes concurrent callers harmless: a row leaves ``waiting`` once.
    """
    now = timezone.now()
    due = Execution.objects.filter(status=ExecutionStatus.WAITING, resume_at__lte=now)
    rows = list(due.values_list("pk", "workspace_id")[:BATCH])
    if not rows:
        return 0
    Execution.objects.filter(pk__in=[pk for pk, _ in rows], status=ExecutionStatus.WAITING).update(
        status=ExecutionStatus.PENDING, resume_at=None
    )
    for workspace_id in {workspace_id for _, workspace_id in rows}:
        dispatch_promote(workspace_id=workspace_id)
    return len(rows)


def executions_requeue_stale() -> int:
    """Re-send executions whose lease expired or whose queue message seems lost.

    Only dispatched ones: a ``pending`` execution has no message to lose (dispatch.py
    sends it when a slot frees), and a queued one's grace counts from its dispatch.
    Sending twice is harmless (a worker must claim before running). Returns how many
    were sent; at most BATCH per call so one run stays short.
    """
    ids = list(
        Execution.objects.filter(stale_condition(now=timezone.now())).values_list("pk", flat=True)[
            :BATCH
        ]
    )
    task = run_task()
    for execution_id in ids:
        task.delay(str(execution_id))
    return len(ids)
