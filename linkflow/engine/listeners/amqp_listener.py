"""trigger.amqp: consume a RabbitMQ queue, acknowledging each message once its run is
stored.

A message the listener received but did not acknowledge (it died, or the broker went
away) is delivered again by RabbitMQ, ``redelivered`` set; its ``message_id`` is the
execution's dedupe key, so it makes no second run. A message without a message_id is
delivered at least once and may run twice in that window. One message in flight at a
time (prefetch 1): a run is stored before the next message is taken.
"""

from __future__ import annotations

import ssl
from typing import Any

import amqp

from linkflow.engine.nodes.amqp_publish import _close
from linkflow.engine.nodes.servers import checked_address

from . import POLL_SECONDS, Message, Session, Target, deliver_checked

HEARTBEAT_SECONDS = 30


class AmqpListener:
    """Consumes one queue for one trigger."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._parse_json = bool(target.params.get("parse_json", True))

    def listen(self, session: Session) -> None:
        """Consume until ``session.stop``; raises OSError or amqp errors when the
        connection fails, NodeError when the policy refuses the host."""
        fields, params = self._target.fields, self._target.params
        host = str(fields.get("host") or "").strip()
        port = int(fields.get("port") or 5672)
        address = checked_address(host, port, policy=self._target.policy)
        tls = fields.get("security") not in (None, "", "none", "disable")
        connection = amqp.Connection(
            host=f"[{address}]:{port}" if ":" in address else f"{address}:{port}",
            userid=str(fields.get("username") or "guest"),
            password=str(fields.get("password") or "guest"),
            virtual_host=str(fields.get("virtual_host") or "/"),
            connect_timeout=10,
            heartbeat=HEARTBEAT_SECONDS,
            # Shown in the broker's connection list: which trigger holds this connection.
            client_properties={"connection_name": f"linkflow listener {self._target.name}"},
            ssl={"server_hostname": host, "cert_reqs": ssl.CERT_REQUIRED} if tls else False,
        )
        try:
            connection.connect()
            channel = connection.channel()
            queue = str(params["queue"])
            if params.get("declare", True):
                channel.queue_declare(queue, durable=True, auto_delete=False)
            if params.get("exchange"):
                channel.queue_bind(
                    queue, str(params["exchange"]), str(params.get("routing_key", ""))
                )
            channel.basic_qos(0, 1, False)
            channel.basic_consume(
                queue, callback=lambda message: self._one(session, channel, message)
            )
            session.connected()
            while not session.stop.is_set():
                try:
                    connection.drain_events(timeout=POLL_SECONDS)
                except TimeoutError:
                    connection.heartbeat_tick()
        finally:
            _close(connection)

    def _one(self, session: Session, channel: Any, message: amqp.Message) -> None:
        properties = message.properties
        identity = properties.get("message_id")
        info = message.delivery_info

        def build(value: Any) -> Message:
            item = {
                "body": value,
                "exchange": info.get("exchange", ""),
                "routing_key": info.get("routing_key", ""),
                "redelivered": bool(info.get("redelivered")),
                "message_id": identity,
                "content_type": properties.get("content_type"),
                "headers": _plain(properties.get("application_headers") or {}),
            }
            return Message(item=item, dedupe_key=f"amqp:{identity}" if identity else None)

        body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        deliver_checked(session, body=body, parse_json=self._parse_json, build=build)
        channel.basic_ack(message.delivery_tag)


def _plain(headers: dict[str, Any]) -> dict[str, Any]:
    # AMQP tables carry bytes, dates and decimals; a trigger item is JSON.
    from linkflow.engine.nodes.servers import json_value

    return {str(k): json_value(v) for k, v in headers.items()}
