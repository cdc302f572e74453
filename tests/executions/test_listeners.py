"""Listening triggers hosted: a message becomes one stored execution before it is
acknowledged, a listener killed in between makes no second one after redelivery, the
supervisor starts and stops listeners as workflows are (de)activated with exactly one
listener per trigger, and LinkFlow's own Redis is refused to every trigger."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import amqp
import nats
import pytest
import redis
from django.conf import settings
from django.db import OperationalError

from executions.models import Execution
from executions.running.host import address_policy
from executions.sources.listeners import ListenerSupervisor, listener_deliver
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.engine.listeners import Message, Session, Target, listen_forever, listener_for
from linkflow.engine.net import AddressPolicy
from workflows.models import ListenerTrigger, Workflow
from workflows.services import workflow_create, workflow_update

from ..conftest import require_server
from .test_flushall_recovery import private_redis  # noqa: F401 - a fixture

OPEN = AddressPolicy(allow_private=True)
NAME = f"linkflow-b16b-{os.getpid()}"
pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """The listener dies here: nothing after this point (the acknowledgement) happens."""


def _workflow(owner: Any, trigger: dict[str, Any]) -> Workflow:
    graph = {
        "nodes": [{"id": "listen", **trigger}, {"id": "noop", "type": "flow.noop"}],
        "edges": [{"source": "listen", "target": "noop"}],
    }
    workflow = workflow_create(
        user=owner, workspace=workspace_ensure_personal(user=owner), name="w", graph=graph
    )
    return workflow_update(user=owner, workflow=workflow, changes={"active": True})


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not _holds(condition):
        assert time.monotonic() < deadline, f"waited too long for {what}"
        time.sleep(0.05)


def _holds(condition: Callable[[], bool]) -> bool:
    try:
        return condition()
    except OperationalError:
        # SQLite's in-memory test database locks whole tables while the listener's
        # thread writes (no busy timeout there): read again.
        return False


def _storing(workflow: Workflow, *, kill_first: bool) -> tuple[Callable[[Message], None], list]:
    """A deliver that stores the execution (the real path); the first call then dies
    before returning, so the driver never acknowledges that delivery."""
    seen: list[Message] = []

    def deliver(message: Message) -> None:
        seen.append(message)
        listener_deliver(workflow_id=workflow.pk, node_id="listen", message=message)
        if kill_first and len(seen) == 1:
            raise Killed

    return deliver, seen


def _listen_in_thread(listener: Any, session: Session) -> threading.Thread:
    def run() -> None:
        with contextlib.suppress(Killed):
            listen_forever(listener, session)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_amqp_listener_killed_between_store_and_ack_makes_one_execution(owner: Any) -> None:
    port = require_server("rabbitmq")
    queue = f"{NAME}-kill"
    workflow = _workflow(owner, {"type": "trigger.amqp", "params": {"queue": queue}})
    target = Target(
        fields={"host": "127.0.0.1", "port": port}, params={"queue": queue}, policy=OPEN, name="k"
    )
    with amqp.Connection(host=f"127.0.0.1:{port}") as connection:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, auto_delete=False)
        channel.queue_purge(queue)
        channel.basic_publish(
            amqp.Message(json.dumps({"order": 7}), message_id="order-7"), routing_key=queue
        )
        try:
            deliver, seen = _storing(workflow, kill_first=True)
            # The first listener stores the execution, then dies before its ack.
            with pytest.raises(Killed):
                listener_for("trigger.amqp", target).listen(Session(deliver=deliver))
            assert Execution.objects.filter(workflow=workflow).count() == 1

            # A new listener gets the message again, redelivered, and stores nothing new.
            session = Session(deliver=deliver)
            thread = _listen_in_thread(listener_for("trigger.amqp", target), session)
            _until(lambda: len(seen) == 2, "the redelivery")
            session.stop.set()
            thread.join()
            left = channel.queue_declare(queue, passive=True).message_count
        finally:
            channel.queue_delete(queue)

    assert [m.item["redelivered"] for m in seen] == [False, True]
    assert [m.item["body"] for m in seen] == [{"order": 7}, {"order": 7}]
    executions = list(Execution.objects.filter(workflow=workflow))
    assert len(executions) == 1
    assert executions[0].mode == "event"
    assert executions[0].dedupe_key == "listen:amqp:order-7"
    assert executions[0].trigger_input["body"] == {"order": 7}
    assert left == 0  # the redelivery was acknowledged


def test_amqp_message_whose_execution_was_not_stored_stays_queued(owner: Any) -> None:
    port = require_server("rabbitmq")
    queue = f"{NAME}-fail"
    target = Target(
        fields={"host": "127.0.0.1", "port": port}, params={"queue": queue}, policy=OPEN, name="f"
    )

    def failing(message: Message) -> None:
        raise RuntimeError("the database is away")

    with amqp.Connection(host=f"127.0.0.1:{port}") as connection:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, auto_delete=False)
        channel.queue_purge(queue)
        channel.basic_publish(amqp.Message("keep me", message_id="m1"), routing_key=queue)
        try:
            with pytest.raises(RuntimeError):
                listener_for("trigger.amqp", target).listen(Session(deliver=failing))
            kept = channel.basic_get(queue, no_ack=True)
        finally:
            channel.queue_delete(queue)

    assert kept is not None and kept.body == "keep me"


def _jetstream(port: int, stream: str, subject: str, payloads: list[dict[str, Any]]) -> None:
    async def run() -> None:
        client = await nats.connect(f"nats://127.0.0.1:{port}")
        js = client.jetstream()
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream)
        await js.add_stream(name=stream, subjects=[subject])
        for payload in payloads:
            await js.publish(subject, json.dumps(payload).encode())
        await client.close()

    asyncio.run(run())


def _jetstream_drop(port: int, stream: str) -> None:
    async def run() -> None:
        client = await nats.connect(f"nats://127.0.0.1:{port}")
        await client.jetstream().delete_stream(stream)
        await client.close()

    asyncio.run(run())


def test_jetstream_listener_killed_between_store_and_ack_makes_one_execution(owner: Any) -> None:
    port = require_server("nats")
    stream, subject = f"B16B{os.getpid()}", f"b16b.{os.getpid()}.orders"
    params = {"subject": subject, "jetstream": True, "stream": stream, "ack_wait_seconds": 1}
    workflow = _workflow(owner, {"type": "trigger.nats", "params": params})
    _jetstream(port, stream, subject, [{"order": 1}, {"order": 2}])
    target = Target(
        fields={"host": "127.0.0.1", "port": port}, params=params, policy=OPEN, name="j"
    )
    try:
        deliver, seen = _storing(workflow, kill_first=True)
        with pytest.raises(Killed):
            listener_for("trigger.nats", target).listen(Session(deliver=deliver))
        assert Execution.objects.filter(workflow=workflow).count() == 1

        # The unacknowledged message comes again after ack_wait, then the second one.
        session = Session(deliver=deliver)
        thread = _listen_in_thread(listener_for("trigger.nats", target), session)
        _until(lambda: len(seen) == 3, "the redelivery and the next message")
        session.stop.set()
        thread.join()
    finally:
        _jetstream_drop(port, stream)

    assert [m.item["data"] for m in seen] == [{"order": 1}, {"order": 1}, {"order": 2}]
    assert seen[0].dedupe_key == seen[1].dedupe_key == f"nats:{stream}:1"
    stored = Execution.objects.filter(workflow=workflow).order_by("created_at")
    assert [e.trigger_input["data"] for e in stored] == [{"order": 1}, {"order": 2}]


@pytest.fixture
def list_server(private_redis: str) -> dict[str, Any]:  # noqa: F811
    parts = urlsplit(private_redis)
    redis.Redis.from_url(private_redis).flushall()
    return {"host": parts.hostname, "port": parts.port}


def test_redis_list_value_of_a_listener_killed_before_storing_is_not_lost(
    owner: Any,
    list_server: dict[str, Any],
    private_redis: str,  # noqa: F811
) -> None:
    params = {"mode": "list", "key": "jobs"}
    workflow = _workflow(owner, {"type": "trigger.redis", "params": params})
    server = redis.Redis.from_url(private_redis)
    server.lpush("jobs", json.dumps({"job": 1}))
    listener = listener_for(
        "trigger.redis", Target(fields=list_server, params=params, policy=OPEN, name="r")
    )

    def die(message: Message) -> None:
        raise Killed  # after the move, before anything was stored

    with pytest.raises(Killed):
        listener.listen(Session(deliver=die))
    assert server.llen("jobs") == 0 and server.llen(listener.processing) == 1

    deliver, seen = _storing(workflow, kill_first=False)
    session = Session(deliver=deliver)
    thread = _listen_in_thread(listener, session)
    _until(lambda: len(seen) == 1, "the replay of the processing list")
    session.stop.set()
    thread.join()

    assert seen[0].item == {"key": "jobs", "message": {"job": 1}}
    assert server.llen(listener.processing) == 0
    assert Execution.objects.filter(workflow=workflow).count() == 1


def test_redis_listener_reconnects_after_its_connection_is_killed(
    list_server: dict[str, Any],
    private_redis: str,  # noqa: F811
) -> None:
    server = redis.Redis.from_url(private_redis)
    seen: list[Message] = []
    listener = listener_for(
        "trigger.redis",
        Target(fields=list_server, params={"key": "jobs"}, policy=OPEN, name="c"),
    )
    session = Session(deliver=seen.append)
    thread = _listen_in_thread(listener, session)
    _until(lambda: session.connections == 1, "the first connection")

    killed = server.client_kill_filter(_type="normal", skipme=True)
    _until(lambda: session.connections == 2, "the reconnect")
    server.lpush("jobs", "after the kill")
    _until(lambda: len(seen) == 1, "the message sent after the reconnect")
    session.stop.set()
    thread.join()

    assert killed >= 1
    assert seen[0].item["message"] == "after the kill"


def test_a_trigger_pointed_at_linkflows_own_redis_is_refused() -> None:
    own = urlsplit(settings.REDIS_URL or "redis://127.0.0.1:6379/0")
    # Even an operator who opened the private network cannot open LinkFlow's own Redis.
    policy = AddressPolicy(allow_private=True, own_endpoints=address_policy().own_endpoints)
    if not settings.REDIS_URL:
        from linkflow.engine.net import own_endpoints

        policy = AddressPolicy(
            allow_private=True, own_endpoints=own_endpoints([("127.0.0.1", 6379)])
        )
    seen: list[Message] = []
    listener = listener_for(
        "trigger.redis",
        Target(
            fields={"host": own.hostname, "port": own.port or 6379},
            params={"mode": "channel", "key": "linkflow:events"},
            policy=policy,
            name="attack",
        ),
    )
    session = Session(deliver=seen.append)

    with pytest.raises(redis.ConnectionError, match="LinkFlow's own service"):
        listener.listen(session)
    assert session.connections == 0 and seen == []


@pytest.fixture
def supervisors() -> Iterator[list[ListenerSupervisor]]:
    made: list[ListenerSupervisor] = []
    yield made
    for supervisor in made:
        supervisor.stop()


def test_supervisor_starts_on_activation_stops_on_deactivation_one_listener_per_trigger(
    owner: Any,
    list_server: dict[str, Any],
    private_redis: str,  # noqa: F811
    supervisors: list[ListenerSupervisor],
    settings: Any,
) -> None:
    from credentials.services import credential_create

    settings.LINKFLOW_HTTP_ALLOW_PRIVATE = True  # the private redis-server is on loopback
    workspace = workspace_ensure_personal(user=owner)
    credential = credential_create(
        workspace=workspace, name="queue", type="redis", data=dict(list_server)
    )
    trigger = {"type": "trigger.redis", "credential": str(credential.pk)}
    workflow = _workflow(owner, {**trigger, "params": {"key": "orders"}})
    first, second = ListenerSupervisor(), ListenerSupervisor()
    supervisors.extend([first, second])
    server = redis.Redis.from_url(private_redis)

    first.sync()
    second.sync()
    key = f"{workflow.pk}:listen"
    # Two processes, one listener: the second found the trigger's lock taken (or, in
    # the embedded mode without Redis, there is one process by construction).
    assert list(first.running) == [key]
    assert list(second.running) == ([] if settings.REDIS_URL else [key])
    if not settings.REDIS_URL:
        second.stop()
    server.lpush("orders", json.dumps({"id": 1}))
    _until(lambda: Execution.objects.filter(workflow=workflow).count() == 1, "the run")

    workflow_update(user=owner, workflow=workflow, changes={"active": False})
    assert not ListenerTrigger.objects.filter(workflow=workflow).exists()
    thread = first.running[key].thread
    first.sync()
    assert first.running == {} and not thread.is_alive()
    server.lpush("orders", json.dumps({"id": 2}))

    workflow_update(user=owner, workflow=workflow, changes={"active": True})
    first.sync()
    _until(lambda: Execution.objects.filter(workflow=workflow).count() == 2, "the next run")
    inputs = [e.trigger_input for e in Execution.objects.filter(workflow=workflow)]
    assert sorted(i["message"]["id"] for i in inputs) == [1, 2]

    if settings.REDIS_URL:
        # The process holding the trigger goes away: the other one takes it over.
        first.stop()
        second.sync()
        assert list(second.running) == [key]


def test_a_listener_cannot_use_another_workspaces_credential(owner: Any, outsider: Any) -> None:
    from credentials.services import credential_create
    from executions.sources.listeners import _HostedListener

    theirs = credential_create(
        workspace=workspace_ensure_personal(user=outsider),
        name="their broker",
        type="amqp",
        data={"host": "127.0.0.1", "port": 5672},
    )
    workflow = _workflow(owner, {"type": "trigger.amqp", "params": {"queue": "q"}})
    # As if the graph named it (whatever saving checks, the listener checks again).
    row = ListenerTrigger.objects.get(workflow=workflow)
    row.credential_id = str(theirs.pk)
    session = Session(deliver=lambda m: None)

    with pytest.raises(KeyError):
        _HostedListener(row).listen(session)
    assert session.connections == 0
