"""The webhook response node: decides what a waiting webhook caller receives."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class RespondToWebhook(NodeType):
    """Sets the HTTP response of a sync webhook run and passes its items on."""

    type = "webhook.respond"
    pure = True
    label = "Respond to webhook"
    description = "Sets the status, headers and body returned to the webhook caller."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "status": {
                **or_expression({"type": "integer", "minimum": 200, "maximum": 599}),
                "default": 200,
            },
            "headers": or_expression(
                {"type": "object", "additionalProperties": {"type": "string"}}
            ),
            "body": {"description": "Any JSON value; by default the input item(s)."},
        },
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Set ``ctx.run.response`` to ``{"status", "headers", "body"}`` evaluated with the
        first item as ``json`` (a later respond node in the same run replaces it). Without
        ``body`` the body is the single input item, or the list when there are several.
        Emits the input items unchanged on "main". Raises NodeError when ``status`` is not
        a whole number from 200 to 599 or ``headers`` is not an object."""
        first = 0 if items else None
        body = ctx.param("body", item_index=first) if "body" in ctx.params else _items_body(items)
        ctx.run.response = {
            "status": _status(ctx.param("status", item_index=first, default=200)),
            "headers": _headers(ctx.param("headers", item_index=first, default={})),
            "body": body,
        }
        return {"main": list(items)}


def _items_body(items: Items) -> Any:
    return items[0] if len(items) == 1 else list(items)


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise NodeError(
            f"'status' must be a whole number from 200 to 599, got {value!r}.",
            param="params.status",
        )
    return value


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise NodeError("'headers' must be an object of strings.", param="params.headers")
    # An expression may give a number or flag; the wire only carries text.
    return {
        str(name): text if isinstance(text, str) else json.dumps(text)
        for name, text in value.items()
    }
