"""Retention: finished executions older than their workspace's retention are deleted.

Retention comes from the workspace's plan (``billing.limits.retention_days``) when the
billing app provides it, else from ``settings.LINKFLOW_RETENTION_DAYS``. Stored payloads
and files go first, then the rows (NodeRuns and sub-workflow executions cascade): a
failure in between leaves rows whose payloads read back as missing, which the next run
deletes, never files that no row points at any more.
"""

import importlib
import importlib.util
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from linkflow.accounts.models import Workspace

from .files import files_delete
from .models import FINISHED_STATUSES, Execution
from .payloads import payloads_delete

_ACTIVE_STATUSES = ("queued", "running", "waiting")


def _plan_retention() -> Callable[[object], int | None] | None:
    # Billing may not be installed in every deployment; when it is, its plans decide.
    if importlib.util.find_spec("billing.limits") is None:
        return None
    return importlib.import_module("billing.limits").retention_days  # type: ignore[no-any-return]


def retention_days_for(workspace_id: object) -> int | None:
    """Days of executions the workspace keeps; None keeps them for ever."""
    plan_retention = _plan_retention()
    if plan_retention is None:
        return int(settings.LINKFLOW_RETENTION_DAYS)
    return plan_retention(workspace_id)


def executions_cleanup(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete every workspace's finished executions older than its retention; return how
    many executions (sub-workflow children included) were deleted.

    Works ``batch`` executions at a time, one transaction each, so no statement or lock
    grows with the backlog. Executions still queued, running or waiting, and finished ones
    with an active sub-workflow child, are kept. Safe to run concurrently (deleting twice
    deletes nothing). Raises storage and database errors; what was deleted stays deleted.
    """
    now = now or timezone.now()
    deleted = 0
    for workspace_id in Workspace.objects.order_by("pk").values_list("pk", flat=True).iterator():
        days = retention_days_for(workspace_id)
        if days is not None:
            deleted += _cleanup_workspace(
                workspace_id, cutoff=now - timedelta(days=days), batch=batch
            )
    return deleted


def _cleanup_workspace(workspace_id: object, *, cutoff: datetime, batch: int) -> int:
    expired = (
        Execution.objects.filter(
            workspace_id=workspace_id, created_at__lt=cutoff, status__in=FINISHED_STATUSES
        )
        .exclude(children__status__in=_ACTIVE_STATUSES)
        .order_by("created_at")
    )
    deleted = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch]):
        deleted += _delete_executions(ids)
    return deleted


def _delete_executions(ids: list[object]) -> int:
    """Delete these executions, their descendants' and their own stored objects."""
    family = _with_descendants(ids)
    for execution_id in family:
        payloads_delete(execution_id=str(execution_id))
        files_delete(execution_id=str(execution_id))
    with transaction.atomic():
        _, per_model = Execution.objects.filter(pk__in=ids).delete()
    return per_model.get(Execution._meta.label, 0)


def _with_descendants(ids: list[object]) -> list[object]:
    # Sub-workflow children cascade with their parent; their storage must go with them.
    family, level = list(ids), list(ids)
    for _ in range(settings.LINKFLOW_SUBWORKFLOW_MAX_DEPTH + 1):
        level = list(Execution.objects.filter(parent_id__in=level).values_list("pk", flat=True))
        if not level:
            break
        family.extend(level)
    return family
