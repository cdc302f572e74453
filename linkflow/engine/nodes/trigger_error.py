"""trigger.error: where an error workflow starts, with the failed execution as its item.

The host starts it (mode "error") when an execution of a workflow naming this one as its
``error_workflow`` fails for good; see executions/starting/error_workflows.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.registry import OBJECT_SCHEMA_WITHOUT_PARAMS, Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class ErrorTrigger(NodeType):
    """Started when another workflow's execution failed; emits what failed, and where."""

    type = "trigger.error"
    pure = True
    label = "Error trigger"
    description = (
        "Starts this workflow when an execution of a workflow that names it as its error "
        "workflow fails: {execution, workflow, node, error, url}."
    )
    params_schema: ClassVar[dict[str, Any]] = OBJECT_SCHEMA_WITHOUT_PARAMS
    is_trigger = True

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Emit the failure the host handed over (``{"execution", "workflow", "node",
        "error", "url"}``) as one item on "main". Never fails."""
        return {"main": [dict(ctx.run.trigger_input or {})]}
