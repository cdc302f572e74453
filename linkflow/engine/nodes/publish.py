"""What the three publish nodes (amqp, mqtt, nats) share: the message body of an item."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from linkflow.engine.errors import NodeError

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

# One message; brokers refuse larger ones anyway (NATS' default max_payload is 1 MiB).
MAX_MESSAGE_BYTES = 1_048_576

BODY_SCHEMA: dict[str, Any] = {
    "description": "The message: text as is, anything else as JSON. Default: the item.",
}


def message_body(ctx: NodeContext, item: dict[str, Any], index: int) -> tuple[bytes, str]:
    """The bytes of the item's message and their content type; NodeError past
    MAX_MESSAGE_BYTES."""
    value = ctx.param("body", item_index=index, default=item)
    if isinstance(value, str):
        body, content_type = value.encode(), "text/plain; charset=utf-8"
    else:
        body, content_type = json.dumps(value).encode(), "application/json"
    if len(body) > MAX_MESSAGE_BYTES:
        raise NodeError(f"The message is larger than {MAX_MESSAGE_BYTES} bytes.", item=index)
    return body, content_type


def message_id(ctx: NodeContext, index: int) -> str:
    """A stable id of the item's message: the same on a retried or re-delivered run, so
    a consumer can drop the duplicate."""
    return f"{ctx.run.execution.get('id')}:{ctx.node_id}:{index}"
