"""Listening triggers: a run per message of a Redis list or channel, a RabbitMQ queue, an
MQTT topic or a NATS subject.

The node types here are what the graph, the editor and the run see: the schema and, in
the run, the message as the trigger item. Holding the subscription is the host's listener
process (docs/architecture.md, "Listening triggers"); the drivers that consume from each
broker are in ``linkflow.engine.listeners``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

_NAME = {"type": "string", "minLength": 1, "maxLength": 1000}
_PARSE_JSON = {
    "description": "Decode a message that is JSON; otherwise it is handed on as text.",
    "type": "boolean",
    "default": True,
}


class _ListenTrigger(NodeType):
    pure = True
    is_trigger = True

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Emit the message the listener received as one item on "main". Never fails."""
        return {"main": [dict(ctx.run.trigger_input or {})]}


class RedisTrigger(_ListenTrigger):
    """Started by each value pushed to a Redis list, or published on a channel."""

    type = "trigger.redis"
    label = "Redis trigger"
    description = (
        "Starts a run per value of a Redis list (moved to a processing list until its run "
        "is stored: at-least-once) or per message on a pub/sub channel (at-most-once)."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "mode": {
                "description": "'list': consume a list (producers LPUSH, FIFO); 'channel': "
                "subscribe to a pub/sub channel.",
                "enum": ["list", "channel"],
                "default": "list",
            },
            "key": {**_NAME, "description": "The list's key, or the channel's name."},
            "processing_list": {
                **_NAME,
                "description": "list: where a value waits until its run is stored "
                "(default '<key>:processing:<trigger>').",
            },
            "parse_json": _PARSE_JSON,
        },
        "required": ["key"],
        "additionalProperties": False,
    }


class AmqpTrigger(_ListenTrigger):
    """Started by each message of a RabbitMQ queue."""

    type = "trigger.amqp"
    label = "AMQP trigger"
    description = (
        "Starts a run per message of a RabbitMQ queue (bound to an exchange with a routing "
        "key if given), acknowledged once its run is stored; a re-delivered message with "
        "the same message_id makes no second run."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "queue": {**_NAME, "maxLength": 255},
            "exchange": {
                "description": "Bind the queue to this existing exchange (empty: no binding).",
                "type": "string",
                "maxLength": 255,
                "default": "",
            },
            "routing_key": {"type": "string", "maxLength": 255, "default": ""},
            "declare": {
                "description": "Declare the queue (durable) if it does not exist.",
                "type": "boolean",
                "default": True,
            },
            "parse_json": _PARSE_JSON,
        },
        "required": ["queue"],
        "additionalProperties": False,
    }


class MqttTrigger(_ListenTrigger):
    """Started by each message on an MQTT topic filter."""

    type = "trigger.mqtt"
    label = "MQTT trigger"
    description = (
        "Starts a run per message on an MQTT topic filter: QoS 0 at-most-once, QoS 1 "
        "acknowledged once its run is stored (at-least-once, a persistent session)."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "topic": {**_NAME, "description": "A topic filter ('sensors/+/temp', 'a/#')."},
            "qos": {"enum": [0, 1], "default": 0},
            "parse_json": _PARSE_JSON,
        },
        "required": ["topic"],
        "additionalProperties": False,
    }


class NatsTrigger(_ListenTrigger):
    """Started by each message on a NATS subject, core or JetStream."""

    type = "trigger.nats"
    label = "NATS trigger"
    description = (
        "Starts a run per message on a NATS subject: core NATS at-most-once, or a JetStream "
        "stream's durable consumer, acknowledged once its run is stored (at-least-once, "
        "one run per stream message)."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "subject": _NAME,
            "jetstream": {"type": "boolean", "default": False},
            "stream": {**_NAME, "description": "JetStream: the stream holding the subject."},
            "durable": {
                "description": "JetStream: the durable consumer's name (default: one per trigger).",
                "type": "string",
                "pattern": r"^[A-Za-z0-9_-]{1,100}$",
            },
            "ack_wait_seconds": {
                "description": "JetStream: how long an unacknowledged message waits before "
                "the server delivers it again.",
                "type": "integer",
                "minimum": 1,
                "maximum": 3600,
                "default": 30,
            },
            "queue_group": {
                "description": "Core: share the subject's messages with other members.",
                "type": "string",
                "pattern": r"^[A-Za-z0-9_.-]{1,100}$",
            },
            "parse_json": _PARSE_JSON,
        },
        "required": ["subject"],
        "additionalProperties": False,
    }

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """JetStream needs the ``stream``; returns (field, message) pairs, never raises."""
        if params.get("jetstream") and not params.get("stream"):
            return [("params.stream", "JetStream needs the stream's name.")]
        return []
