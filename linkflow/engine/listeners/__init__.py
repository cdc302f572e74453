"""Listeners: the broker consumers behind the listening triggers (trigger.redis, .amqp,
.mqtt, .nats).

A listener connects (every socket through the address policy, like the publish nodes),
hands each message to ``Session.deliver`` and acknowledges it only once ``deliver``
returned, that is once the host stored the message's execution. ``listen`` returns when
the session is stopped and raises when the connection fails; ``listen_forever`` turns
that into reconnects with back-off until the session stops. The host (executions/
listeners.py) decides which listeners run where; nothing here knows about Django.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from linkflow.engine.net import AddressPolicy
from linkflow.engine.nodes.publish import MAX_MESSAGE_BYTES

logger = logging.getLogger(__name__)

LISTENER_TYPES = ("trigger.redis", "trigger.amqp", "trigger.mqtt", "trigger.nats")
# Back-off between reconnects: doubling from the first, jittered, up to the last.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
# How often a blocking read returns to look at the stop flag.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Message:
    """One received message: the trigger item, and the broker's stable id of it (the
    execution's dedupe key) when the broker gives one."""

    item: dict[str, Any]
    dedupe_key: str | None = None


class OversizedMessage(ValueError):
    """A message larger than MAX_MESSAGE_BYTES: acknowledged and dropped, never a run."""


@dataclass
class Session:
    """What a listener works for. ``deliver`` stores the message's execution and returns,
    or raises (the message is then not acknowledged and comes again, where the broker
    redelivers). ``stop`` ends the listener; ``connected`` is called on each (re)connect."""

    deliver: Callable[[Message], None]
    stop: threading.Event = field(default_factory=threading.Event)
    connections: int = 0

    def connected(self) -> None:
        self.connections += 1


class Listener(Protocol):
    def listen(self, session: Session) -> None: ...


@dataclass(frozen=True)
class Target:
    """Where and what a listener consumes: the trigger's credential fields and params, the
    address policy every socket passes, and ``name``, stable per trigger (it names the
    durable consumer, the MQTT session and the Redis processing list)."""

    fields: dict[str, Any]
    params: dict[str, Any]
    policy: AddressPolicy
    name: str


def listener_for(node_type: str, target: Target) -> Listener:
    """The listener of a listening trigger type. Raises KeyError for another type."""
    # Imported here: each driver pulls in its broker library, and a process needs only
    # the ones its triggers use.
    if node_type == "trigger.redis":
        from .redis_listener import RedisListener

        return RedisListener(target)
    if node_type == "trigger.amqp":
        from .amqp_listener import AmqpListener

        return AmqpListener(target)
    if node_type == "trigger.mqtt":
        from .mqtt_listener import MqttListener

        return MqttListener(target)
    if node_type == "trigger.nats":
        from .nats_listener import NatsListener

        return NatsListener(target)
    raise KeyError(node_type)


def listen_forever(listener: Listener, session: Session, *, label: str = "") -> None:
    """Run ``listener`` until ``session.stop`` is set, reconnecting after every failure
    with a jittered, doubling back-off (reset by a connection that delivered or lasted).
    Never raises but for BaseException (a listener thread that is being killed)."""
    delay = BACKOFF_FIRST_SECONDS
    while not session.stop.is_set():
        before = session.connections
        try:
            listener.listen(session)
        except Exception as error:  # each driver fails with its own exception types
            logger.warning("listener %s lost its connection: %s", label, _brief(error))
        if session.stop.is_set():
            return
        if session.connections > before:
            delay = BACKOFF_FIRST_SECONDS
        session.stop.wait(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 2, BACKOFF_MAX_SECONDS)


def _brief(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def message_value(body: bytes, *, parse_json: bool) -> Any:
    """A message body as a trigger item value: JSON decoded when asked and it is JSON,
    text when it is UTF-8, else base64 text under {"base64": ...}. Raises
    OversizedMessage past MAX_MESSAGE_BYTES."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise OversizedMessage(f"the message has {len(body)} bytes, {MAX_MESSAGE_BYTES} at most")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        import base64

        return {"base64": base64.b64encode(body).decode()}
    if parse_json:
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            pass
    return text


def deliver_checked(session: Session, *, body: bytes, parse_json: bool, build: Any) -> bool:
    """Deliver one body as ``build(value)``'s Message; False (nothing delivered, the caller
    acknowledges and drops it) for an oversized message. ``deliver``'s errors propagate."""
    try:
        value = message_value(body, parse_json=parse_json)
    except OversizedMessage as error:
        logger.warning("listener dropped a message: %s", error)
        return False
    session.deliver(build(value))
    return True
