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

The two hot callers, a new execution's admission and a run's finish, promote after their
own write committed (``dispatch_after_commit``: publish, then check), so neither holds the
workspace's lock while it writes, and a look without any lock decides whether the lock is
needed at all. Each side looks after its commit, so of an admission and a finish that
overlap, at least one sees the other's row: the pending execution and the freed slot can
never miss each other (docs/admission.md).
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.admission import concurrency_limit
from executions.models import Execution, ExecutionMode, ExecutionStatus
from executions.starting.sending import run_task
from linkflow.accounts.models import Workspace
from linkflow.core.prepared import prepared_cursor
from linkflow.core.transactions import enqueue_on_commit

# What holds a slot: a message in the broker, or a worker running it.
DISPATCHED_STATUSES = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
SWEEP_BATCH = 200


def dispatch_window(*, workspace_id: UUID | str) -> int:
    """How many of the workspace's executions may be dispatched at once (at least 1)."""
    window = max(settings.LINKFLOW_DISPATCH_WINDOW, 1)
    limit = concurrency_limit(workspace_id=workspace_id)
    return window if limit is None else max(min(limit, window), 1)


def dispatch_promote(*, workspace_id: UUID | str) -> int:
    """Dispatch the workspace's oldest pending executions into its free slots; return how
    many. Their messages are sent when the surrounding transaction (or this one) commits."""
    return len(dispatch_promoted(workspace_id=workspace_id).ids)


@dataclass(frozen=True)
class Promoted:
    """The executions one promotion dispatched, and the ``dispatched_at`` it gave them."""

    ids: list[str]
    at: datetime | None = None


def dispatch_promoted(*, workspace_id: UUID | str) -> Promoted:
    """``dispatch_promote``, saying which executions it dispatched and when.

    Promoters of one workspace are serialised by a lock on its row (FOR NO KEY UPDATE, so
    inserts of executions, which only take KEY SHARE, go on), so two of them never both
    fill the last slot. Counting the held slots, picking the oldest pending rows and moving
    them is one statement run after the lock is held, so it sees every promotion committed
    before; the move is conditional, so a row cancelled meanwhile stays cancelled.
    """
    # No savepoint inside a caller's transaction: a failure here fails the caller anyway.
    with transaction.atomic(savepoint=False):
        if not _workspace_locked(workspace_id=workspace_id):
            return Promoted(ids=[])
        return _promote_locked(workspace_id=workspace_id)


def _workspace_locked(*, workspace_id: UUID | str) -> bool:
    """Lock the workspace's row for this transaction; False when there is no such row."""
    if connection.vendor != "postgresql":
        locked = Workspace.objects.select_for_update(no_key=True).filter(pk=str(workspace_id))
        return locked.exists()
    # Every web request and finish of a busy workspace comes here: a fixed statement
    # costs no ORM compilation.
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, [str(workspace_id)])
        return cursor.fetchone() is not None


_LOCK_SQL = f"SELECT 1 FROM {Workspace._meta.db_table} WHERE id = %s FOR NO KEY UPDATE"


def _promote_locked(*, workspace_id: UUID | str) -> Promoted:
    # The caller's transaction holds the workspace's row lock, taken by an earlier statement.
    now = timezone.now()
    window = dispatch_window(workspace_id=workspace_id)
    ids = _pending_moved(workspace_id=workspace_id, window=window, now=now)
    for execution_id in ids:
        enqueue_execution(execution_id=execution_id)
    return Promoted(ids=ids, at=now)


def dispatch_after_commit(*, workspace_id: UUID | str) -> Promoted:
    """Promote for a caller whose write (a pending execution, a freed slot) has committed,
    outside any transaction: one call, which takes the workspace's lock only when there is
    something pending and a slot free. The promoted executions are sent at once."""
    now = timezone.now()
    window = dispatch_window(workspace_id=workspace_id)
    if connection.vendor == "postgresql":
        with prepared_cursor() as cursor:
            cursor.execute("SELECT linkflow_dispatch(%s, %s, %s)", [str(workspace_id), window, now])
            ids = [str(row[0]) for row in cursor.fetchall()]
    else:
        # SQLite writes one statement at a time, and the move is one statement: its count
        # of held slots is exact without a lock (SQLite has no row locks to take anyway).
        ids = _pending_moved(workspace_id=workspace_id, window=window, now=now)
    for execution_id in ids:
        enqueue_execution(execution_id=execution_id)
    return Promoted(ids=ids, at=now)


# One round trip instead of three (count, select, update). Test runs have limits of their
# own (creation.py) and never hold a plan slot. CASE, not GREATEST: SQLite has no GREATEST,
# and a negative LIMIT there means no limit at all.
_PROMOTE_SQL = f"""
UPDATE {Execution._meta.db_table} SET status = %s, dispatched_at = %s
WHERE status = %s AND id IN (
    SELECT id FROM {Execution._meta.db_table}
    WHERE workspace_id = %s AND status = %s
    ORDER BY queued_at, created_at
    LIMIT (SELECT CASE WHEN n < %s THEN %s - n ELSE 0 END FROM (
        SELECT COUNT(*) AS n FROM {Execution._meta.db_table}
        WHERE workspace_id = %s AND status IN (%s, %s) AND mode <> %s) AS held)
)
RETURNING id
"""


def _pending_moved(*, workspace_id: UUID | str, window: int, now: datetime) -> list[str]:
    workspace = str(workspace_id) if connection.vendor == "postgresql" else _hex(workspace_id)
    params = [
        ExecutionStatus.QUEUED.value,
        connection.ops.adapt_datetimefield_value(now),
        ExecutionStatus.PENDING.value,
        workspace,
        ExecutionStatus.PENDING.value,
        window,
        window,
        workspace,
        *(status.value for status in DISPATCHED_STATUSES),
        ExecutionMode.TEST.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_PROMOTE_SQL, params)
        return [str(UUID(str(row[0]))) for row in cursor.fetchall()]


def _hex(value: object) -> str:
    # Django stores a UUID in SQLite as 32 hex digits, no dashes.
    return UUID(str(value)).hex


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
    enqueue_on_commit(run_task(), execution_id)
