"""Writes on workflows. Every graph is validated by the engine before it is stored."""

from typing import Any

from django.db import transaction
from django.db.models import Max

from billing.limits import check_activation_allowed
from linkflow.accounts.models import User, Workspace
from linkflow.accounts.selectors import require_writer
from linkflow.audit.services import audit_record
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.engine import validate_graph

from .models import Workflow, WorkflowVersion
from .schedules import schedule_triggers_remove, schedule_triggers_sync
from .triggers import webhook_triggers_sync


def graph_check(graph: Any) -> None:
    """Raise ``workflow_graph_invalid`` (400) listing every problem the engine finds."""
    problems = validate_graph(graph)
    if problems:
        raise LinkflowError(
            ErrorCode.WORKFLOW_GRAPH_INVALID,
            f"The workflow graph has {len(problems)} problem(s).",
            details={"problems": [p.as_dict() for p in problems]},
        )


@transaction.atomic
def workflow_create(
    *, user: User, workspace: Workspace, name: str, graph: Any, description: str = ""
) -> Workflow:
    """Create a workflow with version 1 of ``graph`` in ``workspace``.

    Raises NotFound/PermissionDenied unless the user may write there, and
    ``workflow_graph_invalid`` for a bad graph and ``webhook_path_taken`` (409) for a
    webhook path used elsewhere in the workspace (nothing is stored then).
    """
    require_writer(user=user, workspace_id=workspace.id)
    graph_check(graph)
    workflow = Workflow.objects.create(
        workspace=workspace, name=name, description=description, created_by=user
    )
    _version_add(workflow=workflow, graph=graph, user=user)
    webhook_triggers_sync(workflow=workflow)
    schedule_triggers_sync(workflow=workflow)
    return workflow


@transaction.atomic
def workflow_update(*, user: User, workflow: Workflow, changes: dict[str, Any]) -> Workflow:
    """Apply ``changes`` (name, description, active, graph); a changed graph adds a version.

    The workflow row is locked so two concurrent saves cannot take the same version number.
    Activating past the plan's active workflows raises ``plan_limit_exceeded`` (402).
    """
    require_writer(user=user, workspace_id=workflow.workspace_id)
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    was_active = workflow.active
    if changes.get("active") and not workflow.active:
        check_activation_allowed(workspace_id=workflow.workspace_id)
    fields = [f for f in ("name", "description", "active") if f in changes]
    for field in fields:
        setattr(workflow, field, changes[field])
    if "graph" in changes:
        graph_check(changes["graph"])
        current = workflow.current_version
        if current is None or current.graph != changes["graph"]:
            _version_add(workflow=workflow, graph=changes["graph"], user=user)
            webhook_triggers_sync(workflow=workflow)
    if fields:
        workflow.save(update_fields=[*fields, "updated_at"])
    if "active" in fields or "graph" in changes:
        schedule_triggers_sync(workflow=workflow)  # (de)activation adds or drops cron tasks
    if workflow.active != was_active:
        audit_record(
            action="workflow.activate" if workflow.active else "workflow.deactivate",
            workspace_id=workflow.workspace_id,
            actor=user,
            target=workflow,
            data={"name": workflow.name},
        )
    return workflow


def workflow_delete(*, user: User, workflow: Workflow) -> None:
    """Delete the workflow with its versions and executions."""
    require_writer(user=user, workspace_id=workflow.workspace_id)
    with transaction.atomic():
        schedule_triggers_remove(workflow=workflow)  # PeriodicTasks have no FK to cascade
        workflow.delete()


def _version_add(*, workflow: Workflow, graph: Any, user: User | None) -> WorkflowVersion:
    last = workflow.versions.aggregate(n=Max("number"))["n"] or 0
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=last + 1, graph=graph, created_by=user
    )
    workflow.current_version = version
    workflow.save(update_fields=["current_version", "updated_at"])
    return version
