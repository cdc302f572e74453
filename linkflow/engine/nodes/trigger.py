"""Trigger nodes: where a run starts. They emit the trigger input as the run's first item."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.registry import OBJECT_SCHEMA_WITHOUT_PARAMS, Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class ManualTrigger(NodeType):
    """Started by a person or an API call; emits the given input as one item."""

    type = "trigger.manual"
    pure = True
    label = "Manual trigger"
    description = "Starts the workflow by hand or through the API with an optional input."
    params_schema: ClassVar[dict[str, Any]] = OBJECT_SCHEMA_WITHOUT_PARAMS
    is_trigger = True

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Emit ``[trigger_input]`` on "main" (``[{}]`` when there is no input). Never fails."""
        return {"main": [dict(ctx.run.trigger_input or {})]}
