"""What a worker holds while it runs an execution: a lease, renewed and fenced.

The lease (owner, expiry) is taken with a conditional UPDATE. Every write a run makes
(NodeRun flushes, the final status) and every start of a node with outside effects first
checks, in the same transaction, that the row still names this lease's owner
(``lease_fence``); the UPDATE locks the row, so no other worker can take the execution
over between that check and the commit. A worker that lost its lease stops (LeaseLost)
without writing: an execution is never run by two workers at once, whatever happened
to a heartbeat. See docs/security/worker-limits.md.
"""

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .lost import WORKER_LOST, execution_fail_lost
from .models import Execution, ExecutionStatus


class LeaseLost(Exception):
    """This worker no longer holds the execution's lease: it must stop without writing."""


def owner_prefix(pid: int | None = None) -> str:
    """The start of every lease owner taken by the process ``pid`` (default: this one).

    Read at claim time, not import time: prefork children are forked from a parent that
    already imported this module, and the parent renews its children's leases by pid
    (executions/worker.py).
    """
    return f"{socket.gethostname()}:{pid or os.getpid()}:"


@dataclass
class Lease:
    execution_id: str
    owner: str
    expires_at: datetime
    # True when the execution had never started: it has no NodeRuns to resume from.
    fresh: bool


def _lease_length() -> timedelta:
    return timedelta(seconds=settings.LINKFLOW_LEASE_SECONDS)


def lease_claim(*, execution_id: str) -> Lease | None:
    """Take the execution if it is queued, or running under an expired lease.

    A conditional UPDATE decides: of two workers, or two copies of one message, exactly
    one gets a row count of 1. The queued case is tried first, as its own statement, so
    the common path knows there is nothing to resume. Returns None when somebody else
    holds the execution, it is finished, or it does not exist.

    Taking over a running execution whose lease expired counts as one lost lease; past
    LINKFLOW_MAX_LOST_LEASES the execution is failed (``worker_lost``) instead of run,
    so an execution that kills or stalls every worker it reaches ends.
    """
    now = timezone.now()
    owner = f"{owner_prefix()}{uuid.uuid4().hex[:12]}"
    expires_at = now + _lease_length()
    take = {"status": ExecutionStatus.RUNNING, "lease_owner": owner, "lease_expires_at": expires_at}
    rows = Execution.objects.filter(pk=execution_id)
    never_ran = Q(status=ExecutionStatus.QUEUED, started_at__isnull=True, rerun_from_node="")
    # A test run may start with pinned or reused outputs recorded: it resumes from them.
    never_ran &= ~Q(mode="test")
    try:
        if rows.filter(never_ran).update(**take, started_at=now):
            return Lease(execution_id=execution_id, owner=owner, expires_at=expires_at, fresh=True)
    except (ValueError, ValidationError):  # not a UUID: a malformed message
        return None
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


def lease_renew(lease: Lease) -> bool:
    """Push the lease's expiry forward; False means it was lost (taken over or cancelled)."""
    expires_at = timezone.now() + _lease_length()
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
    expires_at = timezone.now() + _lease_length()
    held = Execution.objects.filter(pk=lease.execution_id, lease_owner=lease.owner).update(
        lease_expires_at=expires_at
    )
    if not held:
        raise LeaseLost(lease.execution_id)
    lease.expires_at = expires_at


class Heartbeat:
    """Renews a lease from a background thread while a long node blocks the runner.

    Fast executions finish before the first beat and never touch the database from here.
    """

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = max(settings.LINKFLOW_LEASE_SECONDS / 3, 0.5)
        used_db = False
        try:
            while not self._stop.wait(interval):
                used_db = True
                if not lease_renew(self.lease):
                    self.lost = True
                    return
        finally:
            if used_db:
                connection.close()
