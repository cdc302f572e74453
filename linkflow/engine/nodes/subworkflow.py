"""The sub-workflow node: runs another workflow of the workspace through the host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.registry import REFERENCE_KEYWORD, Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class ExecuteWorkflow(NodeType):
    """Hands its items to another workflow and emits what that workflow returns."""

    type = "workflow.execute"
    # Not pure: it starts another execution, which a replay must not start twice.
    pure = False
    label = "Execute workflow"
    description = "Runs another workflow with the items as its input."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "workflow": {
                "description": "The id of the workflow to run, or an expression giving it.",
                "type": "string",
                "minLength": 1,
                # A literal id must name a workflow of the workspace (checked on save).
                REFERENCE_KEYWORD: "workflow",
            },
            "mode": {
                "description": (
                    "'once': all items to one run of the workflow; 'per_item' (version 2): "
                    "one run per item, results and errors per item, in input order."
                ),
                "enum": ["once", "per_item"],
                "default": "once",
            },
            "wait": {
                "description": "Wait for its last items; else emit its execution id at once.",
                "type": "boolean",
                "default": True,
            },
        },
        "required": ["workflow"],
        "additionalProperties": False,
    }

    @classmethod
    def handles_items(cls, params: Mapping[str, Any], version: int) -> bool:
        """Item by item in ``per_item`` mode; ``once`` hands all items over as a batch."""
        return version >= 2 and params.get("mode", "once") == "per_item"

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        """``per_item`` mode: run the workflow with this one item (``workflow`` evaluated
        against it) and emit what it returns; the key is the node's idempotency key and
        the item's index, so a repeated call of one item finds its own child run. Errors
        as in ``execute``."""
        return self._call(ctx, [item], index, key=f"{ctx.idempotency_key}:{index}")

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Call ``ctx.run.subworkflows.run`` once with all items and this node's
        idempotency key, and emit the items it returns on "main" (with ``wait`` false:
        ``[{"execution_id": ...}]``). ``workflow`` is evaluated with the first item as
        ``json``. Raises NodeError when the host offers no sub-workflows or the id is not a
        non-empty string; NodeError and Suspend from the host pass through."""
        if self.handles_items(ctx.params, ctx.version):
            return super().execute(ctx, items)
        first = 0 if items else None
        return {"main": self._call(ctx, list(items), first, key=ctx.idempotency_key)}

    def _call(self, ctx: NodeContext, items: Items, index: int | None, *, key: str) -> Items:
        runner = ctx.run.subworkflows
        if runner is None:
            raise NodeError("Sub-workflows are not available here.")
        workflow_id = ctx.param("workflow", item_index=index)
        if not isinstance(workflow_id, str) or not workflow_id.strip():
            raise NodeError(
                f"'workflow' must be a workflow id, got {workflow_id!r}.",
                param="params.workflow",
            )
        returned = runner.run(
            workflow_id=workflow_id.strip(),
            items=items,
            wait=bool(ctx.params.get("wait", True)),
            key=key,
        )
        return list(returned)
