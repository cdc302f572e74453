"""Saving a caller of another workflow: its ``fields`` against the inputs that workflow's
trigger declares (workflow.execute version 3, docs/nodes.md "Sub-workflows")."""

import uuid
from typing import Any

from linkflow.core.errors import LinkflowError
from linkflow.engine import Graph
from linkflow.engine.nodes.subworkflow import ITEMS_AS_ITEMS_SINCE, caller_problems, declared_inputs

from .error_codes import WorkflowErrorCode
from .models import Workflow

CALL_NODE_TYPE = "workflow.execute"


def subworkflow_callers_check(*, workspace_id: Any, graph: Any) -> None:
    """Raise ``workflow_graph_invalid`` (400) with a problem per node and field when a
    workflow.execute node of ``graph`` (version 3 on) maps fields that the workflow it
    names does not declare, misses a required one or gives a literal of the wrong type.

    Only a literal workflow id of ``workspace_id`` that declares inputs is checked: an
    expression, a missing or foreign workflow (point 9's checks report those) and a
    workflow that declares nothing take any items. ``graph`` is already valid."""
    problems = []
    calls = Graph.from_dict(graph).nodes_of_type(CALL_NODE_TYPE, include_disabled=True)
    for node in calls:
        if node.version < ITEMS_AS_ITEMS_SINCE:
            continue
        params = node.params
        declared = _declared_by(workspace_id=workspace_id, workflow_id=params.get("workflow"))
        if declared is None:
            continue
        for field, message in caller_problems(params, declared):
            problems.append(
                {
                    "code": "subworkflow_input_invalid",
                    "message": message,
                    "node_id": node.id,
                    "field": field,
                }
            )
    if problems:
        raise LinkflowError(
            WorkflowErrorCode.WORKFLOW_GRAPH_INVALID,
            f"The workflow graph has {len(problems)} problem(s).",
            details={"problems": problems},
        )


def workflow_inputs(workflow: Workflow) -> list[dict[str, Any]] | None:
    """The inputs ``workflow``'s current version declares for its callers, or None."""
    version = workflow.current_version
    return declared_inputs(version.graph) if version is not None else None


def _declared_by(*, workspace_id: Any, workflow_id: Any) -> list[dict[str, Any]] | None:
    try:
        pk = uuid.UUID(str(workflow_id))
    except ValueError:
        return None  # an expression, or not an id at all
    workflow = (
        Workflow.objects.filter(pk=pk, workspace_id=workspace_id)
        .select_related("current_version")
        .first()
    )
    return workflow_inputs(workflow) if workflow is not None else None
