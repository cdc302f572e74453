"""Retention: finished executions older than their workspace's retention are deleted, and
each workflow's save policy (what it keeps of its finished executions) is applied.

Retention comes from ``billing.limits.retention_days`` when the billing app is installed
(the plan's with billing on, LINKFLOW_RETENTION_DAYS with it off), else from
``settings.LINKFLOW_RETENTION_DAYS``. Stored payloads
and files go first, then the rows (NodeRuns and sub-workflow executions cascade): a
failure in between leaves rows whose payloads read back as missing, which the next run
deletes, never files that no row points at any more.

On PostgreSQL the tables are partitioned by month (partitions.py). A month whose every
row is expired for its workspace, finished, and without an active sub-workflow child goes
whole: its stored objects are deleted, what points into it from elsewhere is unlinked or
deleted (as the foreign keys' on_delete says), and both partitions are dropped in one
statement. What is left (the partly expired months, the default partition, SQLite) goes
in bounded batches of rows.
"""

import importlib
import importlib.util
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.utils import timezone

from executions.maintenance.partitions import DEDUPE, partition_lock, partition_months
from executions.models import FINISHED_STATUSES, Execution, ExecutionMode, ExecutionStatus, NodeRun
from executions.months import EXECUTIONS, NODE_RUNS, Month, month_partitions_forget
from executions.running.files import files_delete
from executions.running.payloads import payloads_delete
from linkflow.accounts.models import Workspace
from workflows.models import WorkflowVersion

_ACTIVE_STATUSES = ("pending", "queued", "running", "waiting")


def _plan_retention() -> Callable[[UUID | str], int | None] | None:
    # Billing may not be installed in every deployment; when it is, its plans decide.
    if importlib.util.find_spec("billing.limits") is None:
        return None
    retention: Callable[[UUID | str], int | None]
    retention = importlib.import_module("billing.limits").retention_days
    return retention


def retention_days_for(workspace_id: UUID | str) -> int | None:
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
    workspaces = Workspace.objects.order_by("pk").values_list("pk", flat=True).iterator()
    cutoffs: dict[UUID, datetime | None] = {}
    for workspace_id in workspaces:
        days = retention_days_for(workspace_id)
        cutoffs[workspace_id] = None if days is None else now - timedelta(days=days)
    deleted = executions_prune_unsaved(now=now, batch=batch)
    deleted += executions_drop_expired_months(cutoffs=cutoffs, now=now)
    for workspace_id, cutoff in cutoffs.items():
        if cutoff is not None:
            deleted += _cleanup_workspace(workspace_id, cutoff=cutoff, batch=batch)
    snapshots_prune(now=now)
    return deleted


# A snapshot is made in the transaction that admits its test run, so one without an
# execution is either rolled back or left by a cleanup; the grace only keeps the query
# off rows being written.
SNAPSHOT_GRACE = timedelta(minutes=10)


def snapshots_prune(*, now: datetime | None = None) -> int:
    """Delete the hidden snapshots of unsaved graphs (``WorkflowVersion.test``) that no
    execution points at any more: they go with the test runs that ran them. Returns how
    many were deleted."""
    cutoff = (now or timezone.now()) - SNAPSHOT_GRACE
    unused = WorkflowVersion.objects.filter(test=True, created_at__lt=cutoff).exclude(
        models.Exists(Execution.objects.filter(version_id=models.OuterRef("pk")))
    )
    return int(unused.delete()[0])


# A finished execution its workflow does not keep stays this long, so whoever waits on it
# (a sync webhook, an API client polling, a sub-workflow's parent) has read its outcome.
UNSAVED_GRACE = timedelta(minutes=5)


def executions_prune_unsaved(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Apply each workflow's save policy to its executions finished before ``now`` minus
    UNSAVED_GRACE: delete the ones it does not keep (succeeded, failed or cancelled, manual
    ones by ``save_manual``), and strip node inputs/outputs, trigger input and stored
    payloads from the kept ones of a workflow without ``save_node_data``.

    Sub-workflow children of an unfinished parent are left alone (the parent reads their
    result). Idempotent; returns how many executions were deleted or stripped.
    """
    finished_before = (now or timezone.now()) - UNSAVED_GRACE
    settled = (
        Execution.objects.filter(status__in=FINISHED_STATUSES, finished_at__lt=finished_before)
        .exclude(children__status__in=_ACTIVE_STATUSES)
        .exclude(parent__status__in=_ACTIVE_STATUSES)
    )
    unsaved = settled.filter(_unsaved_by_policy()).order_by("created_at")
    done = 0
    while ids := list(unsaved.values_list("pk", flat=True)[:batch]):
        done += _delete_executions(ids)
    stripped = settled.filter(workflow__save_node_data=False).filter(_holds_node_data())
    while ids := list(stripped.order_by("created_at").values_list("pk", flat=True)[:batch]):
        done += _strip_node_data(ids)
    return done


def _unsaved_by_policy() -> models.Q:
    manual = models.Q(mode=ExecutionMode.MANUAL)
    return (manual & models.Q(workflow__save_manual=False)) | (
        ~manual
        & (
            models.Q(status=ExecutionStatus.SUCCEEDED, workflow__save_succeeded=False)
            | models.Q(
                status__in=(ExecutionStatus.FAILED, ExecutionStatus.CANCELLED),
                workflow__save_failed=False,
            )
        )
    )


def _holds_node_data() -> models.Q:
    runs = NodeRun.objects.filter(execution_id=models.OuterRef("pk")).exclude(input=[], output={})
    return ~models.Q(trigger_input={}) | models.Q(models.Exists(runs))


def _strip_node_data(ids: list[UUID]) -> int:
    for execution_id in ids:
        payloads_delete(execution_id=str(execution_id))
        files_delete(execution_id=str(execution_id))
    with transaction.atomic():
        NodeRun.objects.filter(execution_id__in=ids).update(input=[], output={})
        return Execution.objects.filter(pk__in=ids).update(trigger_input={})


def _cleanup_workspace(workspace_id: UUID, *, cutoff: datetime, batch: int) -> int:
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


def _delete_executions(ids: list[UUID]) -> int:
    """Delete these executions, their descendants' and their own stored objects."""
    family = _with_descendants(ids)
    for execution_id in family:
        payloads_delete(execution_id=str(execution_id))
        files_delete(execution_id=str(execution_id))
    with transaction.atomic():
        _, per_model = Execution.objects.filter(pk__in=ids).delete()
    return per_model.get(Execution._meta.label, 0)


def _with_descendants(ids: list[UUID]) -> list[UUID]:
    # Sub-workflow children cascade with their parent; their storage must go with them.
    family, level = list(ids), list(ids)
    for _ in range(settings.LINKFLOW_SUBWORKFLOW_MAX_DEPTH + 1):
        level = list(Execution.objects.filter(parent_id__in=level).values_list("pk", flat=True))
        if not level:
            break
        family.extend(level)
    return family


def executions_drop_expired_months(
    *, cutoffs: dict[UUID, datetime | None], now: datetime | None = None
) -> int:
    """Drop each month's partitions whose rows may all go; return how many executions
    (descendants in younger months included) were deleted. 0 where unpartitioned.

    ``cutoffs`` maps every workspace to the time before which its executions expire (None:
    kept for ever). A month qualifies when it ended before ``now``, no workspace whose
    cutoff is earlier than the month's end has a row in it, and none of its executions is
    active or has an active child.
    """
    now = now or timezone.now()
    current = Month.of(now)
    deleted = 0
    for month in partition_months():
        if month.end > current.start:
            break  # this month and the ones ahead: never whole past anybody's retention
        keeping = [ws for ws, cutoff in cutoffs.items() if cutoff is None or cutoff < month.end]
        if _droppable(month, keeping=keeping):
            deleted += _drop_month(month, keeping=keeping)
    return deleted


def _droppable(month: Month, *, keeping: list[UUID]) -> bool:
    executions = month.partition(EXECUTIONS)
    active = list(_ACTIVE_STATUSES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {executions} WHERE workspace_id = ANY(%s::uuid[])"
            f" OR status = ANY(%s)) OR EXISTS (SELECT 1 FROM {EXECUTIONS} child"
            f" WHERE child.status = ANY(%s)"
            f" AND child.parent_id IN (SELECT id FROM {executions}))",
            [[str(ws) for ws in keeping], active, active],
        )
        return not cursor.fetchone()[0]


def _drop_month(month: Month, *, keeping: list[UUID]) -> int:
    executions, node_runs = month.partition(EXECUTIONS), month.partition(NODE_RUNS)
    in_month = RawSQL(f"SELECT id FROM {executions}", ())
    # Sub-workflow children created in a younger month cascade with their parent.
    younger = list(
        Execution.objects.filter(parent_id__in=in_month, created_at__gte=month.end).values_list(
            "pk", flat=True
        )
    )
    deleted = _delete_executions(younger) if younger else 0
    # Stored objects first: a failure before the drop leaves rows whose payloads read back
    # as missing, never objects nobody points at.
    ids = Execution.objects.filter(
        created_at__gte=month.start,
        created_at__lt=month.end,  # exactly the partition
    ).values_list("pk", flat=True)
    for execution_id in ids.iterator(chunk_size=2000):  # a month may hold millions
        payloads_delete(execution_id=str(execution_id))
        files_delete(execution_id=str(execution_id))
    with transaction.atomic(), connection.cursor() as cursor:
        partition_lock(cursor)
        if not _droppable(month, keeping=keeping):  # something changed meanwhile
            return deleted
        cursor.execute(f"SELECT count(*) FROM {executions}")
        count = int(cursor.fetchone()[0])
        _unlink_references(in_month, month_end=month.end)
        cursor.execute(f"DELETE FROM {DEDUPE} WHERE execution_id IN (SELECT id FROM {executions})")
        # Deferred foreign key checks still pending on the month's rows (ones written in
        # this same transaction) would make PostgreSQL refuse the drop: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP TABLE {executions}, {node_runs}")
    month_partitions_forget()
    return deleted + count


def _unlink_references(in_month: RawSQL, *, month_end: datetime) -> None:
    """Do what the foreign keys into the dropped executions ask (no database constraint
    does it): delete or unlink the rows pointing at them from outside the month."""
    relations = [  # hidden ones (related_name="+", like DeadLetter's) included
        field
        for field in Execution._meta.get_fields(include_hidden=True)
        if isinstance(field, ForeignObjectRel)
        and field.auto_created
        and not field.concrete
        and (field.one_to_many or field.one_to_one)
    ]
    for relation in relations:
        model, field = relation.related_model, relation.field
        if model is NodeRun:
            continue  # the month's NodeRuns are dropped with it
        rows = model._base_manager.filter(**{f"{field.attname}__in": in_month})
        if model is Execution:
            rows = rows.filter(created_at__gte=month_end)  # repeats and children are younger
        on_delete = field.remote_field.on_delete
        if on_delete is models.SET_NULL:
            rows.update(**{field.attname: None})
        elif on_delete is models.CASCADE:
            rows.delete()
