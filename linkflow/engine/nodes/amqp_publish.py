"""amqp.publish: publish each item to a RabbitMQ (AMQP 0-9-1) exchange.

py-amqp connects to the address the policy checked (the name stays the TLS server
name); the channel is in confirm mode, so a publish returns only once the broker took
the message, and the message carries a stable ``message_id`` (see publish.message_id).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, ClassVar

import amqp

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.publish import BODY_SCHEMA, message_body, message_id
from linkflow.engine.nodes.servers import server
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class AmqpPublish(NodeType):
    """Publishes one message per item to an AMQP exchange."""

    type = "amqp.publish"
    credential_types = ("amqp",)
    label = "AMQP publish"
    description = (
        "Publishes each item to a RabbitMQ exchange with a routing key, confirmed by the "
        "broker, persistent by default (amqp credential)."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "exchange": {
                "description": "Empty: the default exchange.",
                "type": "string",
                "default": "",
            },
            "routing_key": {
                "description": "For the default exchange: the queue name.",
                "type": "string",
            },
            "body": BODY_SCHEMA,
            "headers": {"type": ["object", "string"]},
            "persistent": {**or_expression({"type": "boolean"}), "default": True},
        },
        "required": ["routing_key"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """The input items, each once the broker confirmed its message. Raises NodeError
        for a refused or unreachable broker, a refused login, or a message the broker
        did not take (an unknown exchange)."""
        target = server(ctx, kind="amqp", default_port=5672)
        connection = amqp.Connection(
            host=f"[{target.address}]:{target.port}"
            if ":" in target.address
            else f"{target.address}:{target.port}",
            userid=str(target.fields.get("username") or "guest"),
            password=str(target.fields.get("password") or "guest"),
            virtual_host=str(target.fields.get("virtual_host") or "/"),
            connect_timeout=target.timeout,
            read_timeout=target.timeout,
            write_timeout=target.timeout,
            ssl={"server_hostname": target.host, "cert_reqs": ssl.CERT_REQUIRED}
            if target.tls
            else False,
        )
        try:
            connection.connect()
            self._channel = connection.channel()
            self._channel.confirm_select()
            return {
                "main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]
            }
        except (OSError, amqp.exceptions.AMQPError) as error:
            raise NodeError(f"AMQP: {error}") from None
        finally:
            _close(connection)

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        body, content_type = message_body(ctx, item, index)
        headers = ctx.param("headers", item_index=index, default=None) or {}
        if not isinstance(headers, dict):
            raise NodeError("'headers' must be an object.", param="params.headers", item=index)
        message = amqp.Message(
            body,
            content_type=content_type,
            message_id=message_id(ctx, index),
            delivery_mode=2 if ctx.param("persistent", item_index=index, default=True) else 1,
            application_headers={str(k): v for k, v in headers.items()},
        )
        self._channel.basic_publish_confirm(
            message,
            exchange=str(ctx.param("exchange", item_index=index, default="")),
            routing_key=str(ctx.param("routing_key", item_index=index)),
        )
        return [item]


def _close(connection: amqp.Connection) -> None:
    # A broken connection cannot close politely; collect() drops its socket all the same.
    try:
        connection.close()
    except (OSError, amqp.exceptions.AMQPError, AttributeError):
        connection.collect()
