"""Dispatch: which admitted executions go to the broker now, fairly across workspaces.

Each workspace has at most ``window`` executions dispatched at once, ``queued`` (a message
in the broker) or ``running`` (claimed by a worker); the window is the smaller of the
plan's ``concurrent_executions`` and LINKFLOW_DISPATCH_WINDOW. The rest stay ``pending``
in the database, in the order they were queued. So the broker never holds more than a
window of one workspace, and a quiet workspace's next execution waits behind at most one
window of every other workspace, however much those submitted (docs/admission.md).

A slot frees when an execution finishes, parks (``waiting``) or is cancelled; whoever
freed it calls ``dispatch_promote``, and the beat's ``dispatch_sweep`` catches what a
crash between the two left behind.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.admission import concurrency_limit
from linkflow.accounts.models import Workspace
from linkflow.core.transactions import enqueue_on_commit

from .models import Execution, ExecutionStatus

# What holds a slot: a message in the broker, or a worker running it.
DISPATCHED_STATUSES = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
SWEEP_BATCH = 200


def dispatch_window(*, workspace_id: object) -> int:
    """How many of the workspace's executions may be dispatched at once (at least 1)."""
    window = max(settings.LINKFLOW_DISPATCH_WINDOW, 1)
    limit = concurrency_limit(workspace_id=workspace_id)
    return window if limit is None else max(min(limit, window), 1)


def dispatch_promote(*, workspace_id: object) -> int:
    """Dispatch the workspace's oldest pending executions into its free slots; return how
    many. Their messages are sent when the surrounding transaction (or this one) commits.

    Promoters of one workspace are serialised by a lock on its row (FOR NO KEY UPDATE, so
    inserts of executions, which only take KEY SHARE, go on), so two of them never both
    fill the last slot. The move is a conditional update: a row cancelled meanwhile stays
    cancelled.

    Inside a transaction it joins it (no savepoint: a failure here fails the caller's
    transaction anyway), so a finishing worker promotes in its own final commit.
    """
    with transaction.atomic(savepoint=False):
        locked = Workspace.objects.select_for_update(no_key=True).filter(pk=workspace_id)
        if not locked.exists():
            return 0
        mine = Execution.objects.filter(workspace_id=workspace_id)
        # Test runs have limits of their own (creation.py) and never hold a plan slot.
        held = mine.filter(status__in=DISPATCHED_STATUSES).exclude(mode="test").count()
        free = dispatch_window(workspace_id=workspace_id) - held
        if free <= 0:
            return 0
        pending = mine.filter(status=ExecutionStatus.PENDING).order_by("queued_at", "created_at")
        ids = list(pending.values_list("pk", flat=True)[:free])
        if not ids:
            return 0
        moved = Execution.objects.filter(pk__in=ids, status=ExecutionStatus.PENDING)
        moved.update(status=ExecutionStatus.QUEUED, dispatched_at=timezone.now())
        for execution_id in ids:
            enqueue_execution(execution_id=str(execution_id))
        return len(ids)


def dispatch_sweep() -> int:
    """Beat: promote pending executions of every workspace that has a free slot; return
    how many were dispatched. Catches slots freed by a process that died before promoting."""
    workspaces = (
        Execution.objects.filter(status=ExecutionStatus.PENDING)
        .order_by()
        .values_list("workspace_id", flat=True)
        .distinct()[:SWEEP_BATCH]
    )
    return sum(dispatch_promote(workspace_id=workspace_id) for workspace_id in list(workspaces))


def enqueue_execution(*, execution_id: str) -> None:
    """Send the execution to the workers once the current transaction commits."""
    from .tasks import run_execution  # tasks import the services that import this module

    enqueue_on_commit(run_execution, execution_id)
