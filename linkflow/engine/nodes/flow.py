"""Flow control nodes: route items between branches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.registry import OBJECT_SCHEMA_WITHOUT_PARAMS, Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class If(NodeType):
    """Sends each item to "true" or "false" depending on its condition."""

    type = "flow.if"
    pure = True
    label = "If"
    description = "Routes each item to the true or false branch by a condition."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "condition": {
                "description": "Usually an expression such as {{ json.total > 100 }}.",
                "type": ["boolean", "string", "number", "null"],
            },
        },
        "required": ["condition"],
        "additionalProperties": False,
    }
    outputs = ("true", "false")

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Evaluate ``condition`` per item; truthy (in the Python sense: not false, 0, "",
        null, [] or {}) goes to "true". Both ports are always present. Raises
        ExpressionError if the condition cannot be evaluated."""
        routed: dict[str, Items] = {"true": [], "false": []}
        for index, item in enumerate(items):
            port = "true" if ctx.param("condition", item_index=index) else "false"
            routed[port].append(item)
        return routed


class NoOp(NodeType):
    """Does nothing; useful as a junction or a placeholder."""

    type = "flow.noop"
    pure = True
    label = "No operation"
    description = "Passes its items through unchanged."
    params_schema: ClassVar[dict[str, Any]] = OBJECT_SCHEMA_WITHOUT_PARAMS

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Emit the input items on "main". Never fails."""
        return {"main": list(items)}
