"""nats.publish: publish each item to a NATS subject.

nats-py connects to the one address the policy checked, with reconnects off and the
cluster addresses a server announces dropped: a server cannot steer the client to
another address. The name stays the TLS server name.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING, Any, ClassVar

import nats
import nats.errors
from nats.aio.client import Client

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.publish import BODY_SCHEMA, message_body, message_id
from linkflow.engine.nodes.servers import Server, server
from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class _PinnedClient(Client):
    """A NATS client that ignores the servers a cluster announces (``connect_urls``)."""

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        await super()._process_info(
            {k: v for k, v in info.items() if k != "connect_urls"}, initial_connection
        )


class NatsPublish(NodeType):
    """Publishes one message per item to a NATS subject."""

    type = "nats.publish"
    credential_types = ("nats",)
    label = "NATS publish"
    description = "Publishes each item to a NATS subject and flushes (nats credential)."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "subject": {"type": "string", "minLength": 1, "maxLength": 1000},
            "body": BODY_SCHEMA,
        },
        "required": ["subject"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """The input items, once the server answered a flush after the last message.
        Raises NodeError for a refused or unreachable server, a refused login or a
        missing answer within the node's time."""
        target = server(ctx, kind="nats", default_port=4222)
        messages = [
            (
                str(ctx.param("subject", item_index=i)),
                *message_body(ctx, item, i),
                message_id(ctx, i),
            )
            for i, item in enumerate(items)
        ]
        try:
            asyncio.run(asyncio.wait_for(_publish(target, messages), target.timeout))
        except (TimeoutError, OSError, nats.errors.Error) as error:
            raise NodeError(f"NATS: {type(error).__name__} {error}".strip()) from None
        return {"main": list(items)}


async def _publish(target: Server, messages: list[tuple[str, bytes, str, str]]) -> None:
    client = _PinnedClient()
    host = f"[{target.address}]" if ":" in target.address else target.address
    scheme = "tls" if target.tls else "nats"
    options: dict[str, Any] = {
        "servers": [f"{scheme}://{host}:{target.port}"],
        "dont_randomize": True,
        "allow_reconnect": False,
        "max_reconnect_attempts": 0,
        "connect_timeout": target.timeout,
        "user": target.fields.get("username") or None,
        "password": target.fields.get("password") or None,
        "token": target.fields.get("token") or None,
    }
    if target.tls:
        options |= {"tls": ssl.create_default_context(), "tls_hostname": target.host}
    await client.connect(**options)
    try:
        for subject, body, content_type, identity in messages:
            headers = {"Content-Type": content_type, "Nats-Msg-Id": identity}
            await client.publish(subject, body, headers=headers)
        await client.flush(timeout=max(1, int(target.timeout)))
    finally:
        await client.close()
