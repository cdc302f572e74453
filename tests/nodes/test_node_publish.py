"""amqp.publish, mqtt.publish and nats.publish against the local RabbitMQ, Mosquitto and
NATS servers: each message reaches a real consumer."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any

import amqp
import nats
import paho.mqtt.client as mqtt
import pytest

from linkflow.engine import NodeError
from linkflow.engine.net import AddressPolicy

from ..conftest import require_server
from .conftest import node_run

NAME = f"linkflow-test-{os.getpid()}"


def test_amqp_publish_delivers_persistent_messages_with_stable_ids() -> None:
    port = require_server("rabbitmq")
    credential = {
        "type": "amqp",
        "host": "127.0.0.1",
        "port": port,
        "username": "guest",
        "password": "guest",
    }
    with amqp.Connection(host=f"127.0.0.1:{port}") as connection:
        channel = connection.channel()
        channel.queue_declare(NAME, auto_delete=False)
        channel.queue_purge(NAME)
        try:
            node_run(
                "amqp.publish", {"routing_key": NAME}, [{"n": 1}, {"n": 2}], credential=credential
            )

            got = [channel.basic_get(NAME, no_ack=True) for _ in range(2)]
        finally:
            channel.queue_delete(NAME)

    assert [json.loads(m.body) for m in got] == [{"n": 1}, {"n": 2}]
    assert [m.properties["message_id"] for m in got] == ["e1:node:0", "e1:node:1"]
    assert got[0].properties["delivery_mode"] == 2


def test_amqp_publish_to_a_missing_exchange_fails() -> None:
    port = require_server("rabbitmq")
    credential = {"type": "amqp", "host": "127.0.0.1", "port": port}

    with pytest.raises(NodeError, match=r"NOT_FOUND|no exchange"):
        node_run(
            "amqp.publish",
            {"exchange": "no-such-exchange", "routing_key": "x"},
            [{}],
            credential=credential,
        )


def test_mqtt_publish_with_qos_1_reaches_a_subscriber() -> None:
    port = require_server("mosquitto")
    received: list[bytes] = []
    subscribed = threading.Event()
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscriber.on_subscribe = lambda *_: subscribed.set()
    subscriber.on_message = lambda _c, _u, message: received.append(message.payload)
    subscriber.connect("127.0.0.1", port)
    subscriber.subscribe(f"{NAME}/events", qos=1)
    subscriber.loop_start()
    try:
        assert subscribed.wait(5)
        credential = {"type": "mqtt", "host": "127.0.0.1", "port": port}
        params = {"topic": f"{NAME}/events", "qos": 1, "body": "{{ json.text }}"}

        node_run("mqtt.publish", params, [{"text": "one"}, {"text": "two"}], credential=credential)

        deadline = threading.Event()
        for _ in range(50):
            if len(received) == 2:
                break
            deadline.wait(0.1)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    assert received == [b"one", b"two"]


def test_nats_publish_reaches_a_subscriber() -> None:
    port = require_server("nats")
    credential = {"type": "nats", "host": "127.0.0.1", "port": port}

    async def scenario() -> list[Any]:
        client = await nats.connect(f"nats://127.0.0.1:{port}")
        subscription = await client.subscribe(f"{NAME}.events")
        await client.flush()
        await asyncio.to_thread(
            node_run,
            "nats.publish",
            {"subject": f"{NAME}.events"},
            [{"n": 1}, {"n": 2}],
            credential=credential,
        )
        messages = [await subscription.next_msg(timeout=5) for _ in range(2)]
        await client.close()
        return messages

    messages = asyncio.run(scenario())

    assert [json.loads(m.data) for m in messages] == [{"n": 1}, {"n": 2}]
    assert messages[1].headers["Nats-Msg-Id"] == "e1:node:1"


@pytest.mark.parametrize(
    ("node", "server", "params"),
    [
        ("amqp.publish", "rabbitmq", {"routing_key": "x"}),
        ("mqtt.publish", "mosquitto", {"topic": "x"}),
        ("nats.publish", "nats", {"subject": "x"}),
    ],
)
def test_a_loopback_broker_is_refused_by_the_default_policy(
    node: str, server: str, params: dict[str, Any]
) -> None:
    port = require_server(server)
    credential = {"type": node.split(".")[0], "host": "127.0.0.1", "port": port}

    with pytest.raises(NodeError, match="loopback"):
        node_run(node, params, [{}], credential=credential, policy=AddressPolicy())
