"""Error workflows: when an execution fails for good, its workflow's error workflow runs.

The hand-off is made inside the transaction that records the failure (recorder.py's
finish, lost.py), through ``execution_admit``: the error execution's row commits with the
failed status or not at all, and it is dispatched on commit. So a crash before the commit
loses neither (the failed run is resumed and fails again, handing off then) and a repeat
cannot double it: the dedupe key ``error:<failed execution id>`` on the error workflow
keeps it to one execution. Executions of mode ``error`` never hand off, so no chain of
error workflows (A's is B, B's is A, or a workflow its own) can loop.
"""

import logging
from typing import Any

from django.conf import settings
from django.urls import reverse

from executions.models import Execution, ExecutionMode
from executions.starting.creation import Admission, Dedupe, NewExecution, execution_admit
from linkflow.engine import Graph
from workflows.models import Workflow

logger = logging.getLogger(__name__)

ERROR_TRIGGER_TYPE = "trigger.error"


def error_handoff(*, execution: Execution, error: dict[str, Any] | None) -> Execution | None:
    """Start the error workflow of ``execution``'s workflow with a trigger.error item
    ``{"execution", "workflow": {"id", "name"}, "node", "error", "url", "mode"}``.

    Call it inside the transaction that records the failure. Returns the error execution
    (the earlier one when this failure was handed off already), or None when nothing is
    to be done: an execution of mode ``error``, no error workflow set, or one without a
    graph or without an enabled trigger.error node (logged: a misconfiguration). Never
    refused by the plan (Admission.FAILURE).
    """
    if execution.mode == ExecutionMode.ERROR:
        return None  # an error workflow's own failure: handing it off could loop
    source = Workflow.objects.filter(pk=execution.workflow_id).values("name", "error_workflow_id")
    row = source.first()
    if row is None or row["error_workflow_id"] is None:
        return None
    target = (
        Workflow.objects.select_related("current_version")
        .filter(pk=row["error_workflow_id"], workspace_id=execution.workspace_id)
        .first()
    )
    node_id = _error_trigger(target)
    if target is None or node_id is None:
        logger.warning(
            "execution %s failed; its error workflow %s has no trigger.error node",
            execution.pk,
            row["error_workflow_id"],
        )
        return None
    new = NewExecution(
        workspace_id=execution.workspace_id,
        workflow_id=target.pk,
        version_id=target.current_version_id,
        mode=ExecutionMode.ERROR,
        trigger_input=error_item(execution=execution, workflow_name=row["name"], error=error),
        trigger_node_id=node_id,
    )
    dedupe = Dedupe(key=f"error:{execution.pk}")
    return execution_admit(new=new, admission=Admission.FAILURE, dedupe=dedupe)


def error_item(
    *, execution: Execution, workflow_name: str, error: dict[str, Any] | None
) -> dict[str, Any]:
    """What the error workflow's trigger emits about the failed ``execution``."""
    error = error or {"message": "failed", "node_id": None}
    path = reverse("runs:detail", kwargs={"pk": execution.pk})
    return {
        "execution": str(execution.pk),
        "workflow": {"id": str(execution.workflow_id), "name": workflow_name},
        "node": error.get("node_id"),
        "error": error,
        "url": settings.LINKFLOW_PUBLIC_URL.rstrip("/") + path,
        "mode": str(execution.mode),
    }


def _error_trigger(workflow: Workflow | None) -> str | None:
    version = workflow.current_version if workflow is not None else None
    if version is None:
        return None
    triggers = Graph.from_dict(version.graph).nodes_of_type(ERROR_TRIGGER_TYPE)
    return triggers[0].id if triggers else None
