"""Expression preview: what an expression gives, evaluated as a run would (nothing stored).

It uses the engine's ``evaluate`` itself, so the sandbox and every bound of the cost model
(linkflow/engine/budget.py) apply as in a worker: an expression that would exhaust a
worker is refused here the same way, before it allocates. With an execution (and a node)
the names are those the node saw: ``json`` its first input item, ``items`` its input,
``nodes`` the outputs recorded before it, ``trigger`` and ``execution`` that run's.
"""

from typing import Any
from uuid import UUID

from django.utils import timezone

from executions.models import Execution, NodeRunStatus
from executions.running.payloads import PayloadMissing, payload_load
from executions.selectors import execution_get
from linkflow.accounts.caller import Actor
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.engine.errors import ExpressionError
from linkflow.engine.expressions import evaluate


def expression_preview(
    *,
    user: Actor,
    expression: str,
    item: dict[str, Any] | None = None,
    execution_id: UUID | str | None = None,
    node_id: str | None = None,
) -> dict[str, Any]:
    """``{"value": ..., "error": None}`` or ``{"value": None, "error": {"message",
    "position", ...}}`` for ``expression`` evaluated against ``item`` (default: the node's
    first input item in the execution, else ``{}``).

    Raises NotFound (404) for an execution the user cannot see and ``validation_error``
    (400, ``node``) for a node without a run in it. An expression that fails is not an
    error of the request: its error comes back in the answer.
    """
    names = _names(user=user, execution_id=execution_id, node_id=node_id)
    if item is not None:
        names["json"] = item
    try:
        value = evaluate(expression, names=names, path="expression")
    except ExpressionError as error:
        return {"value": None, "error": error.as_dict()}
    return {"value": value, "error": None}


def _names(*, user: Actor, execution_id: UUID | str | None, node_id: str | None) -> dict[str, Any]:
    names: dict[str, Any] = {
        "json": {},
        "items": [],
        "nodes": {},
        "trigger": {},
        "execution": {},
        "now": timezone.now(),
    }
    if execution_id is None:
        return names
    execution = execution_get(user=user, id=execution_id)
    names["trigger"] = execution.trigger_input
    names["execution"] = {
        "id": str(execution.pk),
        "mode": execution.mode,
        "workflow_id": str(execution.workflow_id),
    }
    runs = list(execution.node_runs.all())  # in run order
    if node_id is not None and not any(run.node_id == node_id for run in runs):
        raise LinkflowError(
            ErrorCode.VALIDATION_ERROR,
            "Some fields are invalid.",
            details={"node": [f"Node '{node_id}' did not run in this execution."]},
        )
    names["nodes"] = _views(execution, stop_at=node_id)
    if node_id is not None:
        node_input = _loaded([run for run in runs if run.node_id == node_id][-1].input)
        items = node_input if isinstance(node_input, list) else []
        names["items"] = items
        names["json"] = items[0] if items and isinstance(items[0], dict) else {}
    return names


def _views(execution: Execution, *, stop_at: str | None) -> dict[str, Any]:
    """What expressions see as ``nodes`` at ``stop_at`` (every node when None)."""
    views: dict[str, Any] = {}
    for run in execution.node_runs.all():
        if run.node_id == stop_at:
            break
        if run.status != NodeRunStatus.SUCCEEDED:
            continue
        output = _loaded(run.output)
        items = _first_items(output if isinstance(output, dict) else {})
        views[run.node_id] = {"items": items, "json": items[0] if items else {}}
    return views


def _first_items(output: dict[str, Any]) -> list[Any]:
    if output.get("main"):
        return list(output["main"])
    return next((list(items) for items in output.values() if items), [])


def _loaded(value: Any) -> Any:
    try:
        return payload_load(value)
    except PayloadMissing:
        return []
