"""mqtt.publish: publish each item to an MQTT topic (QoS 0 or 1).

paho-mqtt's socket comes from ``open_guarded_socket``; the network loop is driven here,
in this thread, until every QoS 1 message is acknowledged or the node's time is up.
"""

from __future__ import annotations

import ssl
import time
from typing import TYPE_CHECKING, Any, ClassVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from linkflow.engine.errors import NodeError
from linkflow.engine.net import AddressPolicy, open_guarded_socket
from linkflow.engine.nodes.publish import BODY_SCHEMA, message_body
from linkflow.engine.nodes.servers import node_timeout, policy
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class _GuardedClient(mqtt.Client):
    """A paho client whose TCP connection passes the address policy."""

    def __init__(self, *, address_policy: AddressPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._address_policy = address_policy

    def _create_socket_connection(self) -> Any:
        return open_guarded_socket(
            self._host, self._port, timeout=self._connect_timeout, policy=self._address_policy
        )


class MqttPublish(NodeType):
    """Publishes one message per item to an MQTT topic."""

    type = "mqtt.publish"
    credential_types = ("mqtt",)
    label = "MQTT publish"
    description = "Publishes each item to an MQTT topic with QoS 0 or 1 (mqtt credential)."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "topic": {"type": "string", "minLength": 1, "maxLength": 1000},
            "body": BODY_SCHEMA,
            "qos": {"enum": [0, 1], "default": 0},
            "retain": {**or_expression({"type": "boolean"}), "default": False},
        },
        "required": ["topic"],
        "additionalProperties": False,
    }
    # Set per execution: the connected client and the publications awaiting their ack.
    _client: mqtt.Client
    _pending: list[mqtt.MQTTMessageInfo]

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """The input items once sent (QoS 0) or acknowledged by the broker (QoS 1).
        Raises NodeError for a refused or unreachable broker, a refused login, a bad
        topic, or acknowledgements missing at the node's deadline."""
        fields = ctx.credential()
        timeout = node_timeout(ctx)
        deadline = time.monotonic() + timeout
        client = _GuardedClient(
            address_policy=policy(ctx),
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=str(fields.get("client_id") or ""),
        )
        if fields.get("username"):
            client.username_pw_set(str(fields["username"]), str(fields.get("password") or ""))
        if fields.get("security") == "tls":
            client.tls_set_context(ssl.create_default_context())
        client.connect_timeout = timeout
        try:
            _connect(
                client,
                host=str(fields.get("host") or ""),
                port=int(fields.get("port") or 1883),
                deadline=deadline,
            )
            self._client, self._pending = client, []
            out = [o for i, item in enumerate(items) for o in self._one(ctx, item, i)]
            while not all(info.is_published() for info in self._pending):
                _loop(client, deadline, what="the broker's acknowledgements")
            return {"main": out}
        except (OSError, ValueError) as error:
            raise NodeError(f"MQTT: {error}") from None
        finally:
            client.disconnect()

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        body, _ = message_body(ctx, item, index)
        info = self._client.publish(
            str(ctx.param("topic", item_index=index)),
            body,
            qos=int(ctx.params.get("qos", 0)),
            retain=bool(ctx.param("retain", item_index=index, default=False)),
        )
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise NodeError(f"MQTT: {mqtt.error_string(info.rc)}", item=index)
        self._pending.append(info)
        return [item]


def _connect(client: _GuardedClient, *, host: str, port: int, deadline: float) -> None:
    result: list[Any] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: result.append(reason)
    client.connect(host, port, keepalive=60)
    while not result:
        _loop(client, deadline, what="the broker's answer to connect")
    if result[0].is_failure:
        raise NodeError(f"MQTT: the broker refused the connection: {result[0]}", param="credential")


def _loop(client: mqtt.Client, deadline: float, *, what: str) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise NodeError(f"MQTT: no {what} within the node's time.")
    rc = client.loop(timeout=min(left, 1.0))
    if rc != mqtt.MQTT_ERR_SUCCESS:
        raise NodeError(f"MQTT: {mqtt.error_string(rc)}")
