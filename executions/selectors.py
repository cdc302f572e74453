"""Reads on executions, always scoped to the caller's workspaces."""

from datetime import datetime
from typing import TypedDict, Unpack
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Min, Prefetch, QuerySet

from executions.models import Execution, ExecutionMode, NodeRun
from linkflow.accounts.caller import Actor
from linkflow.accounts.selectors import workspace_ids_for
from linkflow.core.errors import NotFound


class ExecutionFilters(TypedDict, total=False):
    """The narrowing ``execution_list`` takes beside the caller, as one typed bundle."""

    workflow_id: UUID | str | None
    status: str | None
    mode: str | None
    started_after: datetime | None
    started_before: datetime | None


def execution_list(
    *,
    user: Actor,
    workflow_id: UUID | str | None = None,
    status: str | None = None,
    mode: str | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
) -> QuerySet[Execution]:
    """Executions in the user's workspaces, narrowed by whichever filters are given.

    ``started_after`` is inclusive, ``started_before`` exclusive, so adjacent windows never
    count an execution twice; executions that have not started yet match neither.
    Test runs (the editor's loop) are listed apart: only with ``mode="test"``.

    The workspaces are looked up first and named in the query as values, not as a
    subquery: PostgreSQL then walks an index in the list's order and stops after the page,
    where a semi-join made it read and sort every execution of the workspaces (slow at a
    million). Each filter has an index in that order (migration 0011).
    """
    workspace_ids = list(workspace_ids_for(user=user).values_list("workspace_id", flat=True))
    qs = Execution.objects.filter(workspace_id__in=workspace_ids).select_related("version")
    if not mode:
        qs = qs.exclude(mode=ExecutionMode.TEST)
    if workflow_id is not None:
        qs = qs.filter(workflow_id=workflow_id)
    if status:
        qs = qs.filter(status=status)
    if mode:
        qs = qs.filter(mode=mode)
    if started_after is not None:
        qs = qs.filter(started_at__gte=started_after)
    if started_before is not None:
        qs = qs.filter(started_at__lt=started_before)
    if started_after is not None or started_before is not None:
        qs = _within_created_span(qs, workspace_ids, started_after, started_before)
    return qs


def _within_created_span(
    qs: QuerySet[Execution],
    workspace_ids: list[UUID],
    started_after: datetime | None,
    started_before: datetime | None,
) -> QuerySet[Execution]:
    """``qs`` also bounded by the creation times of the executions started in the range.

    The list is ordered by creation, the range is on start times: PostgreSQL would walk
    every monthly partition's creation-ordered index looking for the range (seconds at a
    million rows). The span, read from the (workspace, started_at) index that includes
    created_at, turns it into a bounded walk of the right months. It is exact (taken from
    the rows themselves, a superset of what the filters keep), not a guess about how long
    executions wait before they start.
    """
    rows = Execution.objects.filter(workspace_id__in=workspace_ids)
    if started_after is not None:
        rows = rows.filter(started_at__gte=started_after)
    if started_before is not None:
        rows = rows.filter(started_at__lt=started_before)
    # The count keeps PostgreSQL from answering min/max by walking the creation indexes
    # (the very walk this avoids); it reads the range from the started_at index instead.
    # COUNT(*), not of a column: the index holds no id, and counting ids made every entry
    # a heap fetch (a week at a million stored: 100 ms against 21 ms index-only).
    span = rows.order_by().aggregate(low=Min("created_at"), high=Max("created_at"), rows=Count("*"))
    if span["low"] is None:
        return qs.none()
    return qs.filter(created_at__gte=span["low"], created_at__lte=span["high"])


def execution_get(*, user: Actor, id: UUID | str) -> Execution:
    """The execution with its NodeRuns in run order, or NotFound."""
    node_runs = Prefetch("node_runs", queryset=NodeRun.objects.order_by("sequence"))
    try:
        return _scoped(user).prefetch_related(node_runs).get(pk=id)
    except (Execution.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Execution not found.") from None


def execution_access(*, user: Actor, id: UUID | str) -> Execution:
    """The execution alone (no NodeRuns) if it is in one of the user's workspaces, else
    NotFound: another workspace's execution is as unknown as a missing one."""
    try:
        scoped = Execution.objects.filter(workspace_id__in=workspace_ids_for(user=user))
        return scoped.only("pk", "workspace_id").get(pk=id)
    except (Execution.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Execution not found.") from None


def _scoped(user: Actor) -> QuerySet[Execution]:
    return Execution.objects.filter(workspace_id__in=workspace_ids_for(user=user)).select_related(
        "version"
    )


def execution_list_in_workspace(
    *,
    user: Actor,
    workspace_id: UUID | str,
    ids: list[str] | None = None,
    **filters: Unpack[ExecutionFilters],
) -> QuerySet[Execution]:
    """``execution_list`` narrowed to one of the user's workspaces (the web UI works in one
    at a time), with each workflow loaded for display; ``ids`` keeps only those executions
    (the list page asks for the rows the live feed mentions)."""
    qs = execution_list(user=user, **filters).filter(workspace_id=workspace_id)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    # A list row shows none of the big JSON columns but the version's graph (trigger name).
    return qs.select_related("workflow", "created_by").defer(
        "trigger_input", "error", "workflow__layout", "workflow__description"
    )
