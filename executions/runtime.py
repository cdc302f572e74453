"""What a worker holds while it runs an execution: a lease, and a shared HTTP client."""

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

from .models import Execution, ExecutionStatus

_HOST = f"{socket.gethostname()}:{os.getpid()}"


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
    """
    now = timezone.now()
    owner = f"{_HOST}:{uuid.uuid4().hex[:12]}"
    expires_at = now + _lease_length()
    take = {"status": ExecutionStatus.RUNNING, "lease_owner": owner, "lease_expires_at": expires_at}
    rows = Execution.objects.filter(pk=execution_id)
    never_ran = Q(status=ExecutionStatus.QUEUED, started_at__isnull=True, rerun_from_node="")
    resumable = Q(status=ExecutionStatus.QUEUED) | Q(
        status=ExecutionStatus.RUNNING, lease_expires_at__lt=now
    )
    try:
        if rows.filter(never_ran).update(**take, started_at=now):
            return Lease(execution_id=execution_id, owner=owner, expires_at=expires_at, fresh=True)
    except (ValueError, ValidationError):  # not a UUID: a malformed message
        return None
    # Resumed after a wait, re-run from a node, or taken over from a worker that died.
    if rows.filter(resumable).update(**take, started_at=Coalesce(F("started_at"), now)):
        return Lease(execution_id=execution_id, owner=owner, expires_at=expires_at, fresh=False)
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
