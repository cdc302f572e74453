"""Reads on executions, always scoped to the caller's workspaces."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

from linkflow.accounts.models import User
from linkflow.accounts.selectors import workspace_ids_for
from linkflow.core.errors import NotFound

from .models import Execution, ExecutionMode, NodeRun


def execution_list(
    *,
    user: User,
    workflow_id: object = None,
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
    return qs


def execution_get(*, user: User, id: object) -> Execution:
    """The execution with its NodeRuns in run order, or NotFound."""
    node_runs = Prefetch("node_runs", queryset=NodeRun.objects.order_by("sequence"))
    try:
        return _scoped(user).prefetch_related(node_runs).get(pk=id)
    except (Execution.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Execution not found.") from None


def _scoped(user: User) -> QuerySet[Execution]:
    return Execution.objects.filter(workspace_id__in=workspace_ids_for(user=user)).select_related(
        "version"
    )


def execution_list_in_workspace(
    *,
    user: User,
    workspace_id: object,
    ids: list[str] | None = None,
    **filters: object,
) -> QuerySet[Execution]:
    """``execution_list`` narrowed to one of the user's workspaces (the web UI works in one
    at a time), with each workflow loaded for display; ``ids`` keeps only those executions
    (the list page asks for the rows the live feed mentions)."""
    qs = execution_list(user=user, **filters).filter(workspace_id=workspace_id)  # type: ignore[arg-type]
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    # A list row shows none of the big JSON columns but the version's graph (trigger name).
    return qs.select_related("workflow", "created_by").defer(
        "trigger_input", "error", "workflow__layout", "workflow__description"
    )
