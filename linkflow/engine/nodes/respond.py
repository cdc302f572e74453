"""The webhook response node: decides what a waiting webhook caller receives.

The headers it may set are an allowlist (linkflow/engine/reply_headers.py): a literal
header name outside it is refused when the workflow is saved, a name computed by an
expression is dropped when the node runs, with a note on its run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.registry import Items, NodeType, or_expression
from linkflow.engine.reply_headers import (
    header_name_refusal,
    header_value_refusal,
    reply_headers_split,
)

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class RespondToWebhook(NodeType):
    """Sets the HTTP response of a sync webhook run and passes its items on."""

    type = "webhook.respond"
    pure = True
    label = "Respond to webhook"
    description = (
        "Sets the status, headers and body returned to the webhook caller. Headers: "
        "Content-Type, Content-Disposition, Content-Language, Cache-Control, Expires, ETag, "
        "Last-Modified, Retry-After and custom X- headers."
    )
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

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Each literal header name outside the allowlist, and each literal value that
        cannot be sent, as (field, message). Expressions are checked when the node runs."""
        headers = params.get("headers")
        if not isinstance(headers, dict):
            return []
        problems = []
        for name, value in headers.items():
            reason = header_name_refusal(name)
            if reason is None and "{{" not in value:
                reason = header_value_refusal(name, value)
            if reason is not None:
                problems.append((f"params.headers.{name}", reason))
        return problems

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Set ``ctx.run.response`` to ``{"status", "headers", "body"}`` evaluated with the
        first item as ``json`` (a later respond node in the same run replaces it). Without
        ``body`` the body is the single input item, or the list when there are several.
        Emits the input items unchanged on "main". Headers outside the allowlist (a name an
        expression computed, or a value with a line break) are dropped and named in a note
        on the run. Raises NodeError when ``status`` is not a whole number from 200 to 599
        or ``headers`` is not an object."""
        first = 0 if items else None
        body = ctx.param("body", item_index=first) if "body" in ctx.params else _items_body(items)
        headers, dropped = reply_headers_split(
            _headers(ctx.param("headers", item_index=first, default={}))
        )
        for reason in dropped.values():
            ctx.note(f"Header dropped: {reason}")
        ctx.run.response = {
            "status": _status(ctx.param("status", item_index=first, default=200)),
            "headers": headers,
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
