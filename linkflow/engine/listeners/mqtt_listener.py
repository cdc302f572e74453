"""trigger.mqtt: subscribe to a topic filter with QoS 0 or 1.

QoS 0 is at-most-once (the broker sends once, nothing is kept). QoS 1 runs on a
persistent session (a stable client id per trigger, clean_session off) with manual
acknowledgements: PUBACK goes back only after the message's run is stored, so a listener
that died before it gets the message again from the broker (at-least-once; MQTT 3.1.1
gives a message no stable id, so that window can run a message twice). The socket comes
from mqtt.publish's guarded client.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections import deque
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from linkflow.engine.nodes.mqtt_publish import _connect, _GuardedClient, _loop

from . import POLL_SECONDS, Message, Session, Target, deliver_checked


class MqttListener:
    """Subscribes to one topic filter for one trigger."""

    def __init__(self, target: Target) -> None:
        self._target = target
        params = target.params
        self._qos = int(params.get("qos", 0))
        self._parse_json = bool(params.get("parse_json", True))
        suffix = hashlib.sha256(target.name.encode()).hexdigest()[:16]
        self.client_id = str(target.fields.get("client_id") or f"linkflow-{suffix}")

    def listen(self, session: Session) -> None:
        """Consume until ``session.stop``; raises OSError, ValueError or NodeError when the
        connection fails or the broker refuses it."""
        fields = self._target.fields
        client = _GuardedClient(
            address_policy=self._target.policy,
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=self._qos == 0,
            manual_ack=True,
        )
        if fields.get("username"):
            client.username_pw_set(str(fields["username"]), str(fields.get("password") or ""))
        if fields.get("security") == "tls":
            client.tls_set_context(ssl.create_default_context())
        client.connect_timeout = 10
        received: deque[Any] = deque()
        client.on_message = lambda _c, _u, message: received.append(message)
        try:
            _connect(
                client,
                host=str(fields.get("host") or ""),
                port=int(fields.get("port") or 1883),
                deadline=time.monotonic() + 10,
            )
            client.subscribe(str(self._target.params["topic"]), qos=self._qos)
            session.connected()
            while not session.stop.is_set():
                _loop(client, time.monotonic() + POLL_SECONDS + 1, what="message")
                while received and not session.stop.is_set():
                    self._one(client, session, received.popleft())
        finally:
            client.disconnect()

    def _one(self, client: mqtt.Client, session: Session, message: Any) -> None:
        deliver_checked(
            session,
            body=bytes(message.payload),
            parse_json=self._parse_json,
            build=lambda v: Message(
                item={
                    "topic": message.topic,
                    "payload": v,
                    "qos": message.qos,
                    "retain": bool(message.retain),
                }
            ),
        )
        if message.qos > 0:
            client.ack(message.mid, message.qos)
