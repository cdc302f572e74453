"""Finding executions that nobody is running and sending them to the workers again."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .models import Execution, ExecutionStatus

# How long a queued execution may wait before we assume its message was lost.
QUEUED_GRACE = timedelta(minutes=5)
BATCH = 500


def executions_requeue_stale() -> int:
    """Re-send executions whose lease expired or whose queue message seems lost.

    Sending twice is harmless (a worker must claim before running). Returns how many
    were sent; at most BATCH per call so one run stays short.
    """
    from .tasks import run_execution

    now = timezone.now()
    stale = Q(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now) | Q(
        status=ExecutionStatus.QUEUED, queued_at__lt=now - QUEUED_GRACE
    )
    ids = list(Execution.objects.filter(stale).values_list("pk", flat=True)[:BATCH])
    for execution_id in ids:
        run_execution.delay(str(execution_id))
    return len(ids)
