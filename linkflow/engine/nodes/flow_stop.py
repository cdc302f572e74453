"""flow.stop: end the execution as failed, with the user's own message (n8n's Stop and Error)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

STOPPED_CODE = "flow_stopped"
MAX_MESSAGE_LENGTH = 2000


class Stopped(NodeError):
    """The run was ended on purpose by a flow.stop node; stored with ``code: flow_stopped``
    so a failure the user asked for is told apart from one that happened to them."""

    def as_dict(self) -> dict[str, Any]:
        """As NodeError.as_dict, with ``code: flow_stopped``."""
        return {**super().as_dict(), "code": STOPPED_CODE}


class Stop(NodeType):
    """Fails the execution with a message of the user's when items reach it."""

    type = "flow.stop"
    pure = True
    label = "Stop and error"
    description = "Ends the execution as failed with your message (items must reach it)."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "message": {
                "description": "Why the run stops; may use expressions ({{ json.reason }}).",
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_MESSAGE_LENGTH,
            }
        },
        "required": ["message"],
        "additionalProperties": False,
    }
    # Never emits; the port exists for a disabled stop node, which passes its items on.
    outputs = ("main",)

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Always raises Stopped with ``message`` evaluated against the first item (cut to
        MAX_MESSAGE_LENGTH characters; a non-string result is shown as JSON text). Like any
        node it only runs when items reach it, so it sits on the branch that should end
        the run. Raises ExpressionError if the message cannot be evaluated."""
        message = ctx.param("message", item_index=0 if items else None)
        text = message if isinstance(message, str) else _as_text(message)
        raise Stopped(text[:MAX_MESSAGE_LENGTH] or "Stopped.", param="params.message")


def _as_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
