"""The live progress feeds over WebSockets: who may connect, what they get, in what order."""

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from executions.feeds import publisher, vocabulary
from executions.models import Execution
from executions.operations import execution_cancel
from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.models import Role, User
from linkflow.accounts.services import membership_add, workspace_ensure_personal
from linkflow.asgi import application

from ..conftest import require_services
from ..executing import chain, create_workflow, detail, execute, wait_status
from ..graphs import branching_graph
from ..http_server import orders_server

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
UNAUTHENTICATED, FORBIDDEN, BAD_REQUEST = 4401, 4403, 4400


class WebsocketCommunicator(ApplicationCommunicator):
    """channels.testing.WebsocketCommunicator's shortcuts, which cannot be imported here:
    the channels.testing package imports daphne (its live-server helper), not installed."""

    def __init__(self, app: Any, path: str, headers=(), subprotocols=None) -> None:
        parsed = urlparse(path)
        scope = {
            "type": "websocket",
            "path": parsed.path,
            "query_string": parsed.query.encode(),
            "headers": list(headers),
            "subprotocols": subprotocols or [],
        }
        super().__init__(app, scope)

    async def connect(self, timeout: float = 5) -> tuple[bool, Any]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        return True, response.get("subprotocol")

    async def receive_json_from(self, timeout: float = 5) -> Any:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 5) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


async def receive_events(communicator: WebsocketCommunicator, count: int, timeout: float = 5):
    """The next ``count`` events, whether they came one per frame or several in an array."""
    received: list[dict] = []
    while len(received) < count:
        received.extend(await next_events(communicator, timeout))
    assert len(received) == count, received
    return received


async def next_events(communicator: WebsocketCommunicator, timeout: float = 5) -> list[dict]:
    """The events of the next frame: one object, or an array of them."""
    frame = await communicator.receive_json_from(timeout=timeout)
    return frame if isinstance(frame, list) else [frame]


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Drive one async scenario from a sync test (pytest-asyncio is not installed)."""
    return async_to_sync(scenario)()


def token(user: User) -> str:
    return str(RefreshToken.for_user(user).access_token)


def feed(path: str, *, headers: tuple = (), subprotocols: list[str] | None = None):
    return WebsocketCommunicator(
        application, path, headers=[ORIGIN, *headers], subprotocols=subprotocols
    )


async def closed_with(communicator: WebsocketCommunicator) -> int:
    """Connect and return the close code the server answers with right after accepting."""
    connected, _ = await communicator.connect()
    assert connected
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    await communicator.disconnect()
    return message["code"]


@pytest.fixture
def queued(api) -> str:
    """A queued execution in the owner's workspace (no worker runs it)."""
    workflow = create_workflow(api, chain({"id": "set", "type": "data.set", "params": {}}))
    return execute(api, workflow)


def publish(execution_id: str, count: int) -> None:
    """``count`` node events of the execution, through the real publisher."""
    execution = Execution.objects.get(pk=execution_id)
    publisher.events_publish_on_commit(
        vocabulary.event_build(
            type=vocabulary.NODE_STARTED,
            execution_id=execution.pk,
            workspace_id=execution.workspace_id,
            workflow_id=execution.workflow_id,
            node_id=f"n{i}",
        )
        for i in range(count)
    )
    assert publisher.events_flush()


# --- who may connect ------------------------------------------------------------------------
def test_a_feed_without_credentials_closes_with_4401(queued, owner):
    workspace = workspace_ensure_personal(user=owner)

    async def scenario():
        assert await closed_with(feed(f"/ws/executions/{queued}/")) == UNAUTHENTICATED
        path = f"/ws/workspaces/{workspace.pk}/executions/"
        assert await closed_with(feed(path)) == UNAUTHENTICATED
        assert await closed_with(feed(f"/ws/executions/{queued}/?token=garbage")) == UNAUTHENTICATED

    run(scenario)


def test_an_outsider_or_an_unknown_id_closes_with_4403(queued, owner, outsider):
    workspace = workspace_ensure_personal(user=owner)
    access = token(outsider)

    async def scenario():
        for path in (
            f"/ws/executions/{queued}/?token={access}",
            f"/ws/workspaces/{workspace.pk}/executions/?token={access}",
            f"/ws/executions/00000000-0000-0000-0000-000000000000/?token={access}",
            f"/ws/workspaces/not-a-uuid/executions/?token={access}",
        ):
            assert await closed_with(feed(path)) == FORBIDDEN, path

    run(scenario)
    assert Execution.objects.get(pk=queued).status == "queued"


def test_a_malformed_after_closes_with_4400(queued, owner):
    path = f"/ws/executions/{queued}/?after=-1&token={token(owner)}"

    async def scenario():
        return await closed_with(feed(path))

    assert run(scenario) == BAD_REQUEST


def test_the_first_message_is_the_snapshot_the_api_shows(queued, api, owner):
    expected = detail(api, queued)
    access = token(owner)

    async def scenario():
        communicator = feed(f"/ws/executions/{queued}/?token={access}")
        connected, subprotocol = await communicator.connect()
        snapshot = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return connected, subprotocol, snapshot

    connected, subprotocol, snapshot = run(scenario)
    assert (connected, subprotocol) == (True, None)
    assert snapshot == {"type": "snapshot", "seq": 0, "execution": expected, "running_nodes": []}


def test_the_snapshot_names_the_nodes_started_and_not_yet_finished(queued, owner):
    execution = Execution.objects.get(pk=queued)
    ids = {
        "execution_id": execution.pk,
        "workspace_id": execution.workspace_id,
        "workflow_id": execution.workflow_id,
    }
    publisher.events_publish_on_commit(
        [
            vocabulary.event_build(type=vocabulary.NODE_STARTED, node_id="start", **ids),
            vocabulary.event_build(type=vocabulary.NODE_FINISHED, node_id="start", **ids),
            vocabulary.event_build(type=vocabulary.NODE_STARTED, node_id="set", **ids),
        ]
    )
    assert publisher.events_flush()
    access = token(owner)

    async def scenario():
        communicator = feed(f"/ws/executions/{queued}/?token={access}")
        await communicator.connect()
        snapshot = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return snapshot

    snapshot = run(scenario)
    assert (snapshot["seq"], snapshot["running_nodes"]) == (3, ["set"])


def test_a_jwt_in_the_subprotocol_is_answered_with_bearer(queued, viewer):
    access = token(viewer)

    async def scenario():
        communicator = feed(f"/ws/executions/{queued}/", subprotocols=["bearer", access])
        connected, subprotocol = await communicator.connect()
        first = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return connected, subprotocol, first["type"]

    assert run(scenario) == (True, "bearer", "snapshot")


def test_a_session_cookie_signs_the_feed_in(queued, teammate):
    browser = Client()
    browser.force_login(teammate)
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())

    async def scenario():
        communicator = feed(f"/ws/executions/{queued}/", headers=(cookie,))
        connected, _ = await communicator.connect()
        first = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return connected, first["execution"]["id"]

    assert run(scenario) == (True, queued)


def test_an_api_key_reads_only_its_own_workspace_and_needs_the_scope(queued, owner, outsider):
    mine = workspace_ensure_personal(user=owner)
    theirs = workspace_ensure_personal(user=outsider)
    membership_add(workspace=theirs, user=owner, role=Role.EDITOR)
    _, reader = api_key_create(user=owner, workspace=mine, name="feed", scopes=["executions:read"])
    _, writer_only = api_key_create(
        user=owner, workspace=mine, name="w", scopes=["workflows:write"]
    )

    async def scenario():
        communicator = feed(f"/ws/executions/{queued}/", subprotocols=["api-key", reader])
        connected, subprotocol = await communicator.connect()
        first = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        other = feed(f"/ws/workspaces/{theirs.pk}/executions/?api_key={reader}")
        unscoped = feed(f"/ws/executions/{queued}/?api_key={writer_only}")
        return (
            (connected, subprotocol, first["type"]),
            await closed_with(other),
            await closed_with(unscoped),
        )

    accepted, other_workspace, unscoped = run(scenario)
    assert accepted == (True, "api-key", "snapshot")
    assert other_workspace == FORBIDDEN
    assert unscoped == FORBIDDEN


def test_a_page_of_another_origin_is_refused():
    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/executions/x/", headers=[(b"origin", b"http://evil.example")]
        )
        connected, _ = await communicator.connect()
        return connected

    assert run(scenario) is False


# --- what subscribers get -------------------------------------------------------------------
def test_no_event_of_one_workspace_reaches_a_subscriber_of_another(
    api, owner, outsider, client_for
):
    own = execute(api, create_workflow(api, chain()))
    other_api = client_for(outsider)
    foreign = execute(other_api, create_workflow(other_api, chain()))
    mine = workspace_ensure_personal(user=owner)
    theirs = workspace_ensure_personal(user=outsider)
    mine_token, their_token = token(owner), token(outsider)

    async def scenario():
        subscribers = {
            "mine": feed(f"/ws/workspaces/{mine.pk}/executions/?token={mine_token}"),
            "theirs": feed(f"/ws/workspaces/{theirs.pk}/executions/?token={their_token}"),
            "own_execution": feed(f"/ws/executions/{own}/?token={mine_token}"),
        }
        for communicator in subscribers.values():
            assert (await communicator.connect())[0]
        await subscribers["own_execution"].receive_json_from(timeout=5)  # the snapshot
        await database_sync_to_async(cancel_both)()
        got = {name: await c.receive_json_from(timeout=5) for name, c in subscribers.items()}
        for communicator in subscribers.values():
            assert await communicator.receive_nothing(timeout=0.5)
            await communicator.disconnect()
        return got

    def cancel_both():
        execution_cancel(user=outsider, execution=Execution.objects.get(pk=foreign))
        execution_cancel(user=owner, execution=Execution.objects.get(pk=own))

    got = run(scenario)
    assert (got["mine"]["execution"], got["mine"]["type"]) == (own, "execution.finished")
    assert (got["theirs"]["execution"], got["theirs"]["status"]) == (foreign, "cancelled")
    assert got["own_execution"]["execution"] == own
    assert got["mine"]["seq"] == got["own_execution"]["seq"] == 1


def test_a_reconnect_with_after_gets_the_missed_events_then_live_ones(queued, owner):
    publish(queued, 3)
    access = token(owner)

    async def scenario():
        communicator = feed(f"/ws/executions/{queued}/?after=1&token={access}")
        assert (await communicator.connect())[0]
        replayed = await receive_events(communicator, 2)
        await database_sync_to_async(publish)(queued, 1)
        [live] = await receive_events(communicator, 1)
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return replayed, live

    replayed, live = run(scenario)
    assert [(e["seq"], e["node_id"]) for e in replayed] == [(2, "n1"), (3, "n2")]
    assert (live["seq"], live["node_id"], live["type"]) == (4, "n0", "node.started")
    assert isinstance(live["published_at"], float)


def test_a_reconnect_beyond_the_kept_log_gets_a_snapshot(queued, owner, settings):
    settings.LINKFLOW_WS_EVENT_LOG_MAX = 2
    publish(queued, 4)
    access = token(owner)

    async def scenario():
        communicator = feed(f"/ws/executions/{queued}/?after=1&token={access}")
        assert (await communicator.connect())[0]
        first = await communicator.receive_json_from(timeout=5)
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return first

    first = run(scenario)
    assert (first["type"], first["seq"], first["execution"]["id"]) == ("snapshot", 4, queued)


# --- end to end with a real worker ----------------------------------------------------------
def test_a_real_execution_streams_every_event_in_order(celery_worker, api, owner):
    require_services()
    workspace = workspace_ensure_personal(user=owner)
    access = token(owner)

    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/orders"
        workflow = create_workflow(api, branching_graph(url))

        async def follow():
            communicator = feed(f"/ws/workspaces/{workspace.pk}/executions/?token={access}")
            assert (await communicator.connect())[0]
            execution_id = await database_sync_to_async(execute)(api, workflow, {"user_id": 1})
            received = []
            while not received or received[-1]["type"] != "execution.finished":
                received.extend(await next_events(communicator, timeout=30))
            await communicator.disconnect()
            return execution_id, received

        execution_id, received = run(follow)
        wait_status(execution_id)

    assert {e["execution"] for e in received} == {execution_id}
    assert [(e["type"], e.get("node_id")) for e in received] == [
        ("execution.started", None),
        ("node.started", "start"),
        ("node.finished", "start"),
        ("node.started", "fetch"),
        ("node.finished", "fetch"),
        ("node.started", "big"),
        ("node.finished", "big"),
        ("node.started", "gold"),
        ("node.finished", "gold"),
        ("node.finished", "standard"),
        ("execution.finished", None),
    ]
    assert [e["seq"] for e in received] == list(range(1, 12))
    fetched = received[4]
    assert fetched["status"] == "succeeded"
    assert fetched["output"]["items"] == {"main": 1}
    assert fetched["output"]["first_item"]["body"] == {"user": "1", "total": 250}
    assert fetched["duration_ms"] >= 0
    assert received[6]["output"]["items"] == {"true": 1, "false": 0}
    assert received[9]["status"] == "skipped"
    assert (received[-1]["status"], received[-1]["error"]) == ("succeeded", None)

    async def reconnect():
        communicator = feed(f"/ws/executions/{execution_id}/?after=4&token={access}")
        assert (await communicator.connect())[0]
        missed = await receive_events(communicator, 7)
        assert await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        late = feed(f"/ws/executions/{execution_id}/?token={access}")
        assert (await late.connect())[0]
        snapshot = await late.receive_json_from(timeout=5)
        await late.disconnect()
        return missed, snapshot

    missed, snapshot = run(reconnect)
    assert missed == received[4:]
    assert snapshot == {
        "type": "snapshot",
        "seq": 11,
        "execution": detail(api, execution_id),
        "running_nodes": [],
    }


def test_the_connection_gauge_counts_open_feeds_and_forgets_closed_and_refused_ones(
    queued, owner, outsider
):
    from linkflow.core.metrics import WEBSOCKET_CONNECTIONS

    def gauge() -> float:
        return WEBSOCKET_CONNECTIONS._value.get()

    workspace = workspace_ensure_personal(user=owner)
    mine, theirs = token(owner), token(outsider)
    before = gauge()

    async def scenario():
        opened = [
            feed(f"/ws/executions/{queued}/?token={mine}"),
            feed(f"/ws/workspaces/{workspace.pk}/executions/?token={mine}"),
        ]
        for communicator in opened:
            assert (await communicator.connect())[0]
        await opened[0].receive_json_from()  # the snapshot
        while_open = gauge()
        refused = await closed_with(feed(f"/ws/executions/{queued}/?token={theirs}"))
        after_refusal = gauge()
        for communicator in opened:
            await communicator.disconnect()
        return while_open, refused, after_refusal

    while_open, refused, after_refusal = run(scenario)

    assert (while_open, refused, after_refusal) == (before + 2, FORBIDDEN, before + 2)
    assert gauge() == before


# --- Origin: checked for cookie sockets only (issue #10, section 6) ---------------------------


def test_a_token_or_api_key_client_without_origin_is_accepted(queued, owner):
    _, key = api_key_create(
        user=owner,
        workspace=workspace_ensure_personal(user=owner),
        name="s",
        scopes=["executions:read"],
    )
    access = token(owner)

    async def connect(path: str, subprotocols: list[str] | None = None) -> tuple[bool, Any]:
        # No Origin header, as python `websockets` or any script sends.
        communicator = WebsocketCommunicator(application, path, subprotocols=subprotocols)
        connected, _ = await communicator.connect()
        first = (await communicator.receive_json_from(timeout=5))["type"] if connected else None
        await communicator.disconnect()
        return connected, first

    async def scenario():
        return [
            await connect(f"/ws/executions/{queued}/?token={access}"),
            await connect(f"/ws/executions/{queued}/", subprotocols=["bearer", access]),
            await connect(f"/ws/executions/{queued}/?api_key={key}"),
            await connect(f"/ws/executions/{queued}/", subprotocols=["api-key", key]),
        ]

    assert run(scenario) == [(True, "snapshot")] * 4


def test_a_cookie_socket_with_a_foreign_or_no_origin_is_refused(queued, teammate):
    browser = Client()
    browser.force_login(teammate)
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())

    async def connect(*headers: tuple[bytes, bytes]) -> bool:
        communicator = WebsocketCommunicator(
            application, f"/ws/executions/{queued}/", headers=[cookie, *headers]
        )
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected

    async def scenario():
        return [
            await connect((b"origin", b"http://evil.example")),
            await connect(),
            await connect(ORIGIN),
        ]

    assert run(scenario) == [False, False, True]


def test_a_foreign_page_cannot_borrow_the_cookie_by_sending_a_bad_token(queued, teammate):
    browser = Client()
    browser.force_login(teammate)
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())

    async def scenario():
        communicator = WebsocketCommunicator(
            application,
            f"/ws/executions/{queued}/?token=not-a-token",
            headers=[cookie, (b"origin", b"http://evil.example")],
        )
        return await closed_with(communicator)

    # The presented credential replaces the session: anonymous, not the cookie's user.
    assert run(scenario) == UNAUTHENTICATED
