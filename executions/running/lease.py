"""What a worker holds while it runs an execution: a lease, renewed and fenced.

The lease (owner, expiry) is taken with a conditional UPDATE. Every write a run makes
(NodeRun flushes, the final status) and every start of a node with outside effects first
checks, in the same transaction, that the row still names this lease's owner
(``lease_fence``; on PostgreSQL a checkpoint does it inside its one statement,
checkpoint_statement.py); the check locks the row, so no other worker can take the
execution over between that check and the commit. A worker that lost its lease stops (LeaseLost)
without writing: an execution is never run by two workers at once, whatever happened
to a heartbeat. See docs/security/worker-limits.md.
"""

import functools
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from executions.models import Execution, ExecutionMode, ExecutionStatus
from executions.months import month_partitions
from executions.running.lost import WORKER_LOST, execution_fail_lost
from linkflow.core.prepared import prepared_cursor

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This worker no longer holds the execution's lease: it must stop without writing."""


def owner_prefix(pid: int | None = None) -> str:
    """The start of every lease owner taken by the process ``pid`` (default: this one).

    Read at claim time, not import time: prefork children are forked from a parent that
    already imported this module, and the parent renews its children's leases by pid
    (executions/running/worker.py).
    """
    return f"{socket.gethostname()}:{pid or os.getpid()}:"


@dataclass
class Lease:
    execution_id: str
    owner: str
    expires_at: datetime
    # True when the execution had never started: it has no NodeRuns to resume from.
    fresh: bool
    # The claimed row as the claim left it, when the claim read it back (a fresh claim).
    execution: Execution | None = field(default=None, repr=False)


def lease_length() -> timedelta:
    return timedelta(seconds=settings.LINKFLOW_LEASE_SECONDS)


def lease_claim(*, execution_id: str) -> Lease | None:
    """Take the execution if it is queued, or running under an expired lease.

    A conditional UPDATE decides: of two workers, or two copies of one message, exactly
    one gets a row count of 1. The case of an execution that never ran is tried first, as
    its own statement that also reads the row back (``Lease.execution``), so the common
    path knows there is nothing to resume and needs no second query. Returns None when somebody else
    holds the execution, it is finished, or it does not exist.

    Taking over a running execution whose lease expired counts as one lost lease; past
    LINKFLOW_MAX_LOST_LEASES the execution is failed (``worker_lost``) instead of run,
    so an execution that kills or stalls every worker it reaches ends.
    """
    now = timezone.now()
    owner = f"{owner_prefix()}{uuid.uuid4().hex[:12]}"
    expires_at = now + lease_length()
    take = {"status": ExecutionStatus.RUNNING, "lease_owner": owner, "lease_expires_at": expires_at}
    try:
        claimed = _claim_fresh(
            execution_id=execution_id, owner=owner, now=now, expires_at=expires_at
        )
    except (ValueError, ValidationError):  # not a UUID: a malformed message
        return None
    if claimed is not None:
        return Lease(
            execution_id=execution_id,
            owner=owner,
            expires_at=expires_at,
            fresh=True,
            execution=claimed,
        )
    rows = Execution.objects.filter(pk=execution_id)  # a well-formed id by now
    started_at = Coalesce(F("started_at"), now)
    # Resumed after a wait or re-run from a node.
    if rows.filter(status=ExecutionStatus.QUEUED).update(**take, started_at=started_at):
        return Lease(execution_id=execution_id, owner=owner, expires_at=expires_at, fresh=False)
    # Taken over from a worker that died or stalled: counted.
    expired = rows.filter(status=ExecutionStatus.RUNNING, lease_expires_at__lt=now)
    limit = settings.LINKFLOW_MAX_LOST_LEASES
    taken = expired.filter(lost_leases__lt=limit).update(
        **take, started_at=started_at, lost_leases=F("lost_leases") + 1
    )
    if taken:
        return Lease(execution_id=execution_id, owner=owner, expires_at=expires_at, fresh=False)
    execution_fail_lost(
        execution_id=execution_id,
        lease=Q(lease_expires_at__lt=now, lost_leases__gte=limit),
        code=WORKER_LOST,
        message=(
            f"The worker running this execution was lost {limit + 1} times (killed by a "
            "limit, crashed or stalled); it is not handed to another worker again."
        ),
    )
    return None


def _claim_fresh(
    *, execution_id: str, owner: str, now: datetime, expires_at: datetime
) -> Execution | None:
    """Claim an execution that never ran and read it back in the same statement.

    The common case of every execution, so one round trip (UPDATE ... RETURNING) instead
    of an UPDATE and a SELECT. A test run may start with pinned or reused outputs
    recorded: it is never fresh (it resumes from them).

    The message names the execution, not the month it was created in, so the claim
    looks in this month's partition first (where all but a month's last few seconds of
    executions are claimed), by name: through the partitioned table every month kept
    would be locked and searched (executions/months.py). Elsewhere, the partitioned table.
    """
    meta = Execution._meta
    # to_python raises ValidationError for a malformed id.
    pk = meta.pk.get_db_prep_value(meta.pk.to_python(execution_id), connection)
    moment = meta.get_field("started_at")
    params = [
        ExecutionStatus.RUNNING.value,
        owner,
        moment.get_db_prep_value(expires_at, connection),
        moment.get_db_prep_value(now, connection),
        pk,
        ExecutionStatus.QUEUED.value,
        "",
        ExecutionMode.TEST.value,
    ]
    this_month = month_partitions(now)
    for table in ([this_month[0]] if this_month else []) + [meta.db_table]:
        with prepared_cursor() as cursor:
            cursor.execute(_claim_fresh_sql(table), params)
            row = cursor.fetchone()
        if row is not None:
            return _execution_from_row(row)
    return None


@functools.cache
def _claim_fresh_sql(table: str) -> str:
    ops = connection.ops
    columns = ", ".join(ops.quote_name(str(f.column)) for f in Execution._meta.concrete_fields)
    return (
        f"UPDATE {ops.quote_name(table)} SET status = %s, lease_owner = %s, "
        "lease_expires_at = %s, started_at = %s WHERE id = %s AND status = %s "
        f"AND started_at IS NULL AND rerun_from_node = %s AND mode <> %s RETURNING {columns}"
    )


def _execution_from_row(row: tuple[Any, ...]) -> Execution:
    """The Execution of a row of every concrete column, in field order, converted as the
    ORM would (a RawQuerySet resolved the columns and converters anew on every claim)."""
    values = list(row)
    for index, expression, converters in _converters(connection.vendor):
        value = values[index]
        for convert in converters:
            value = convert(value, expression, connection)
        values[index] = value
    return Execution.from_db(connection.alias, _attnames(), values)


@functools.cache
def _attnames() -> list[str]:
    return [model_field.attname for model_field in Execution._meta.concrete_fields]


@functools.cache
def _converters(vendor: str) -> list[tuple[int, Any, list[Any]]]:
    found = []
    for index, model_field in enumerate(Execution._meta.concrete_fields):
        expression = model_field.get_col(Execution._meta.db_table)
        converters = connection.ops.get_db_converters(expression)
        converters += expression.get_db_converters(connection)
        if converters:
            found.append((index, expression, converters))
    return found


def lease_renew(lease: Lease) -> bool:
    """Push the lease's expiry forward; False means it was lost (taken over or cancelled)."""
    expires_at = timezone.now() + lease_length()
    renewed = Execution.objects.filter(
        pk=lease.execution_id, lease_owner=lease.owner, status=ExecutionStatus.RUNNING
    ).update(lease_expires_at=expires_at)
    if renewed:
        lease.expires_at = expires_at
    return bool(renewed)


def lease_fence(lease: Lease) -> None:
    """Inside the caller's transaction: lock the execution's row if this lease still holds
    it (pushing the expiry forward), else raise LeaseLost.

    Call it first in every transaction that writes a run's progress, and before a node
    with outside effects starts: the row lock lasts until commit, so a takeover (a
    conditional UPDATE on the same row) waits and then finds the lease renewed.
    """
    expires_at = timezone.now() + lease_length()
    held = Execution.objects.filter(pk=lease.execution_id, lease_owner=lease.owner).update(
        lease_expires_at=expires_at
    )
    if not held:
        raise LeaseLost(lease.execution_id)
    lease.expires_at = expires_at


class Heartbeat:
    """Renews a lease in the background while a long node blocks the runner.

    Every heartbeat of a process is served by one shared thread (``_Beats``), so a run
    costs no thread start: fast executions finish before their first beat is due and
    never touch the database from there.
    """

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.lost = False
        self.due = 0.0

    def start(self) -> None:
        _beats().add(self)

    def stop(self) -> None:
        """No renewal of this lease starts after this returns (one under way may end)."""
        _beats().discard(self)


def _interval() -> float:
    return max(settings.LINKFLOW_LEASE_SECONDS / 3, 0.5)


class _Beats:
    """The process's heartbeat thread: renews each registered lease once per interval.

    It looks every half interval, never woken by a registration (waking a thread costs a
    run a GIL hand-over), so a lease is renewed at most 1.5 intervals after it was taken
    or last renewed: at half its length, well before it runs out.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.beating: set[Heartbeat] = set()
        self.thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)
        self.thread.start()

    def add(self, heartbeat: Heartbeat) -> None:
        heartbeat.due = time.monotonic() + _interval()
        with self.lock:
            self.beating.add(heartbeat)

    def discard(self, heartbeat: Heartbeat) -> None:
        with self.lock:
            self.beating.discard(heartbeat)

    def _run(self) -> None:
        while True:
            time.sleep(_interval() / 2)
            now = time.monotonic()
            with self.lock:
                due = [beat for beat in self.beating if beat.due <= now]
            if not due:
                continue
            try:
                for beat in due:
                    beat.due = now + _interval()
                    if beat in self.beating and not lease_renew(beat.lease):
                        beat.lost = True
                        self.discard(beat)
            except Exception:  # an outage: the next look tries again; fencing still holds
                logger.exception("could not renew a lease")
            finally:
                # Renewals are rare (long runs only): no connection is kept for them.
                connection.close()


_beats_lock = threading.Lock()
_beats_state: dict[str, Any] = {"pid": None, "beats": None}


def _beats() -> _Beats:
    # Started lazily and again after a fork: a prefork child needs its own thread.
    with _beats_lock:
        if _beats_state["pid"] != os.getpid():
            _beats_state.update(pid=os.getpid(), beats=_Beats())
        beats: _Beats = _beats_state["beats"]
        return beats
