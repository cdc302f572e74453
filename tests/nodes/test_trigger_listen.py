"""The listening triggers' broker drivers against the local servers (no database): what
each delivers, that QoS 1 and JetStream wait for the delivery before acknowledging, that
a listener comes back after its server restarts, and that every driver's socket passes
the address policy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import amqp
import nats
import paho.mqtt.client as mqtt
import pytest

from linkflow.engine.listeners import (
    LISTENER_TYPES,
    Message,
    Session,
    Target,
    listen_forever,
    listener_for,
)
from linkflow.engine.net import AddressPolicy
from linkflow.engine.registry import get_node_type
from linkflow.engine.validation import validate_graph

from ..conftest import IN_CI, free_port, require_server, stop_process
from .conftest import OPEN_POLICY

NAME = f"linkflow-listen-{os.getpid()}"


class Killed(BaseException):
    """The listener dies inside deliver: no acknowledgement follows."""


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"waited too long for {what}"
        time.sleep(0.05)


def _target(node_type: str, port: int, params: dict[str, Any], **policy: Any) -> Any:
    return listener_for(
        node_type,
        Target(
            fields={"host": "127.0.0.1", "port": port},
            params=params,
            policy=AddressPolicy(**policy) if policy else OPEN_POLICY,
            name=f"{NAME}:{node_type}",
        ),
    )


class Running:
    """A listener on a thread, collecting what it delivers."""

    def __init__(self, listener: Any, deliver: Callable[[Message], None] | None = None):
        self.seen: list[Message] = []
        self.probes = 0
        self.session = Session(deliver=deliver or self._collect)
        self.thread = threading.Thread(target=self._run, args=(listener,), daemon=True)
        self.thread.start()
        _until(lambda: self.session.connections >= 1, "the listener to connect")

    def _run(self, listener: Any) -> None:
        with contextlib.suppress(Killed):
            listen_forever(listener, self.session)

    def _collect(self, message: Message) -> None:
        values = (message.item.get(k) for k in ("data", "payload", "message", "body"))
        if "probe" in values:
            self.probes += 1
        else:
            self.seen.append(message)

    def warm(self, probe: Callable[[], None]) -> None:
        """Send probes (messages "probe", never collected) until one arrives: then the
        subscription is in place, and brokers that keep nothing drop what came before."""
        deadline = time.monotonic() + 30
        before = self.probes
        while self.probes == before:
            assert time.monotonic() < deadline, "no probe ever arrived"
            probe()
            time.sleep(0.1)

    def stop(self) -> None:
        self.session.stop.set()
        self.thread.join()


def test_every_listening_trigger_is_in_the_registry_as_a_trigger() -> None:
    for type_name in LISTENER_TYPES:
        node_type = get_node_type(type_name)
        assert node_type is not None and node_type.is_trigger, type_name


def test_a_jetstream_trigger_without_its_stream_is_an_invalid_graph() -> None:
    graph = {
        "nodes": [
            {"id": "t", "type": "trigger.nats", "params": {"subject": "a", "jetstream": True}}
        ],
        "edges": [],
    }

    problems = [p.as_dict() for p in validate_graph(graph)]

    assert [p["field"] for p in problems] == ["params.stream"]


def test_amqp_listener_binds_its_queue_to_an_exchange_and_acks_each_message() -> None:
    port = require_server("rabbitmq")
    queue, exchange = f"{NAME}-bound", "amq.topic"
    listener = _target(
        "trigger.amqp", port, {"queue": queue, "exchange": exchange, "routing_key": "orders.*"}
    )
    running = Running(listener)
    with amqp.Connection(host=f"127.0.0.1:{port}") as connection:
        channel = connection.channel()
        try:
            for key in ("orders.new", "invoices.new", "orders.paid"):
                channel.basic_publish(
                    amqp.Message(json.dumps({"key": key}), application_headers={"n": 1}),
                    exchange=exchange,
                    routing_key=key,
                )
            _until(lambda: len(running.seen) == 2, "the two matching messages")
            running.stop()
            left = channel.queue_declare(queue, passive=True).message_count
        finally:
            channel.queue_delete(queue)

    assert [m.item["body"] for m in running.seen] == [{"key": "orders.new"}, {"key": "orders.paid"}]
    assert running.seen[0].item["headers"] == {"n": 1}
    assert [m.dedupe_key for m in running.seen] == [None, None]  # no message_id sent
    assert left == 0


def _mqtt_publish(port: int, topic: str, payloads: list[str], qos: int) -> None:
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for payload in payloads:
            client.publish(topic, payload, qos=qos).wait_for_publish(timeout=10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_mqtt_qos0_listener_delivers_messages_on_its_topic_filter() -> None:
    port = require_server("mosquitto")
    listener = _target("trigger.mqtt", port, {"topic": f"{NAME}/+/temp", "qos": 0})
    running = Running(listener)
    running.warm(lambda: _mqtt_publish(port, f"{NAME}/probe/temp", ["probe"], qos=0))
    _mqtt_publish(port, f"{NAME}/kitchen/temp", ['{"c": 21}'], qos=0)
    _mqtt_publish(port, f"{NAME}/kitchen/light", ["on"], qos=0)
    _mqtt_publish(port, f"{NAME}/hall/temp", ["cold"], qos=0)
    _until(lambda: len(running.seen) == 2, "two messages")
    running.stop()

    assert [m.item["topic"] for m in running.seen] == [f"{NAME}/kitchen/temp", f"{NAME}/hall/temp"]
    assert [m.item["payload"] for m in running.seen] == [{"c": 21}, "cold"]


def test_mqtt_qos1_message_unacked_by_a_dead_listener_comes_again() -> None:
    port = require_server("mosquitto")
    topic = f"{NAME}/qos1"
    listener = _target("trigger.mqtt", port, {"topic": topic, "qos": 1})
    calls: list[Message] = []

    def die_first(message: Message) -> None:
        calls.append(message)
        if len(calls) == 1:
            raise Killed

    # A first connection makes the persistent session and its subscription.
    Running(listener).stop()
    _mqtt_publish(port, topic, ["one"], qos=1)  # queued by the broker for the session
    running = Running(listener, deliver=die_first)
    _until(lambda: len(calls) == 1, "the first delivery")
    running.thread.join()  # the listener died before PUBACK

    again = Running(listener, deliver=calls.append)
    _until(lambda: len(calls) == 2, "the redelivery")
    again.stop()

    assert [m.item["payload"] for m in calls] == ["one", "one"]


def _nats_publish(port: int, subject: str, payloads: list[bytes]) -> None:
    async def run() -> None:
        client = await nats.connect(f"nats://127.0.0.1:{port}")
        for payload in payloads:
            await client.publish(subject, payload)
        await client.flush()
        await client.close()

    asyncio.run(run())


def test_nats_core_listener_delivers_what_is_published_while_it_listens() -> None:
    port = require_server("nats")
    subject = f"{NAME}.core"
    running = Running(_target("trigger.nats", port, {"subject": subject}))
    running.warm(lambda: _nats_publish(port, subject, [b"probe"]))
    _nats_publish(port, subject, [b'{"a": 1}', b"\xff\xfe"])
    _until(lambda: len(running.seen) == 2, "two messages")
    running.stop()

    assert [m.item["data"] for m in running.seen] == [{"a": 1}, {"base64": "//4="}]
    assert [m.dedupe_key for m in running.seen] == [None, None]


@pytest.fixture
def own_nats() -> Iterator[Callable[[], None]]:
    """A nats-server of this test's own on a free port, and a function that restarts it."""
    binary = shutil.which("nats-server")
    if binary is None:
        if IN_CI:
            pytest.fail("nats-server is not installed")
        pytest.skip("nats-server is not installed")
    port = free_port()
    state: dict[str, Any] = {}

    def start() -> None:
        state["proc"] = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _until(lambda: _answers(port), "nats-server to start")

    def restart() -> None:
        stop_process(state["proc"])
        start()

    start()
    restart.port = port  # type: ignore[attr-defined]
    try:
        yield restart
    finally:
        stop_process(state["proc"])


def _answers(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_nats_listener_comes_back_after_its_server_restarts(own_nats: Any) -> None:
    port = own_nats.port
    subject = f"{NAME}.restart"
    running = Running(_target("trigger.nats", port, {"subject": subject}))

    own_nats()
    _until(lambda: running.session.connections >= 2, "the reconnect")
    running.warm(lambda: _nats_publish(port, subject, [b"probe"]))
    _nats_publish(port, subject, [b"after"])
    _until(lambda: len(running.seen) == 1, "the message after the restart")
    running.stop()

    assert running.seen[0].item["data"] == "after"


@pytest.mark.parametrize(
    ("node_type", "params", "server"),
    [
        ("trigger.amqp", {"queue": "q"}, "rabbitmq"),
        ("trigger.mqtt", {"topic": "t"}, "mosquitto"),
        ("trigger.nats", {"subject": "s"}, "nats"),
        ("trigger.redis", {"key": "k"}, None),
    ],
)
def test_every_listener_is_refused_a_loopback_server_by_the_default_policy(
    node_type: str, params: dict[str, Any], server: str | None
) -> None:
    port = require_server(server) if server else 6379
    listener = _target(node_type, port, params, allow_private=False)
    session = Session(deliver=lambda m: None)

    # Each driver reports it its own way (NodeError, BlockedAddress, redis' error).
    with pytest.raises(Exception, match="loopback address"):
        listener.listen(session)
    assert session.connections == 0


def _rabbitmq_close(connection_name: str) -> int:
    """Close, server-side, the RabbitMQ connections named ``connection_name`` (only
    ours: other clients of the shared broker keep theirs); return how many."""
    if shutil.which("rabbitmqctl") is None:
        if IN_CI:
            pytest.fail("rabbitmqctl is not installed")
        pytest.skip("rabbitmqctl is not installed")
    listed = subprocess.run(
        ["rabbitmqctl", "list_connections", "-q", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    )
    wanted = f'{{"connection_name","{connection_name}"}}'
    names = [line.split("\t", 1)[0] for line in listed.stdout.splitlines() if wanted in line]
    for name in names:
        subprocess.run(
            ["rabbitmqctl", "close_connection", name, "closed by the test"],
            capture_output=True,
            check=True,
        )
    return len(names)


def test_amqp_listener_comes_back_after_the_broker_closes_its_connection() -> None:
    port = require_server("rabbitmq")
    queue = f"{NAME}-closed"
    target = Target(
        fields={"host": "127.0.0.1", "port": port},
        params={"queue": queue},
        policy=OPEN_POLICY,
        name=f"{NAME}:closed",
    )
    running = Running(listener_for("trigger.amqp", target))
    try:
        closed = _rabbitmq_close(f"linkflow listener {target.name}")
        _until(lambda: running.session.connections >= 2, "the reconnect")
        with amqp.Connection(host=f"127.0.0.1:{port}") as connection:
            connection.channel().basic_publish(amqp.Message("after"), routing_key=queue)
        _until(lambda: len(running.seen) == 1, "the message after the reconnect")
    finally:
        running.stop()
        with amqp.Connection(host=f"127.0.0.1:{port}") as connection:
            connection.channel().queue_delete(queue)

    assert closed == 1
    assert running.seen[0].item["body"] == "after"
