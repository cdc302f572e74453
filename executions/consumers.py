"""WebSocket feeds of execution progress: one execution, or every execution of a workspace.

A consumer authenticates (routing.py put the user in the scope), checks access through
selectors, joins its group and forwards events. It never writes.

The execution feed is race-free by ordering: join the group first, then read the event
log and the snapshot, then forward live events numbered above what was already sent.
An event published while we were reading is either in what we read (and skipped when it
arrives live) or arrives live afterwards; none falls in between.

Frames: a frame is one JSON message (an event, or the execution feed's first message, a
snapshot) or a JSON array of events in order, when several were ready at once (a burst,
or the events missed since ``?after=<seq>``). The events themselves are the same either
way. A subscriber that falls more than ``LINKFLOW_WS_SEND_BUFFER`` events behind is
closed with 4429 (it reconnects with ``?after``, or takes a snapshot); 1012 means the
process lost its Redis subscription.
"""

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

from executions import selectors
from executions.api.serializers import ExecutionDetailOutSerializer
from executions.feeds import fanout, log, vocabulary
from linkflow.accounts.caller import Caller
from linkflow.accounts.selectors import role_in
from linkflow.core import metrics
from linkflow.core.errors import NotFound

# Close codes (the 4000-4999 range is the application's).
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = fanout.CLOSE_TOO_SLOW


class _FeedConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels ships no types
    # Events reach consumers through fanout.py, not through a channel layer: no channel
    # (and no Redis subscription) per connection.
    channel_layer_alias = None
    group: str | None = None
    subscriber: fanout.Subscriber | None = None

    async def _caller(self) -> Caller | None:
        """Who connected: the credential's caller (routing.py; an API key's is confined to
        its workspace), else the session's user; or None after refusing with 4401 (not
        signed in) or 4403 (an API key without the scope to read executions)."""
        if not settings.REDIS_URL:  # embedded: the publisher delivers onto this loop
            log.bind_loop(asyncio.get_running_loop())
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return None
        if not self.scope.get("linkflow_scope_ok", True):
            await self._refuse(CLOSE_FORBIDDEN)
            return None
        caller: Caller | None = self.scope.get("linkflow_caller")
        return caller if caller is not None else Caller.person(user)

    async def _accept(self) -> None:
        await self.accept(subprotocol=self.scope.get("linkflow_subprotocol"))

    async def _refuse(self, code: int) -> None:
        """Close with an application code, which a client only sees after an accept."""
        self._leave()
        await self._accept()
        await self.close(code=code)

    async def _join(self, group: str, *, ordered: bool) -> fanout.Subscriber:
        self.group = group
        self.subscriber = subscriber = fanout.Subscriber(
            send=self._send_text, close=self._close, ordered=ordered
        )
        await fanout.hub().join(group, subscriber)
        metrics.websocket_connected()
        return subscriber

    def _leave(self) -> None:
        if self.subscriber is not None and self.group is not None:
            self.subscriber.stop()
            fanout.hub().leave(self.group, self.subscriber)
            self.subscriber = None
            metrics.websocket_disconnected()

    async def _send_text(self, text: str) -> None:
        send = self.scope.get("linkflow_send")  # the server's, past the session middleware
        if send is None:
            await self.send(text_data=text)
        else:
            await send({"type": "websocket.send", "text": text})

    async def _close(self, code: int) -> None:
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self._leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The feeds are one-way; anything a client sends is ignored."""


class ExecutionFeedConsumer(_FeedConsumer):
    """``/ws/executions/{id}/[?after=<seq>]``: a snapshot (or the missed events), then live."""

    async def connect(self) -> None:
        caller = await self._caller()
        if caller is None:
            return
        try:
            after = _after(self.scope)
        except ValueError:
            await self._refuse(CLOSE_BAD_REQUEST)
            return
        execution_id = self.scope["url_route"]["kwargs"]["execution_id"]
        subscriber = await self._join(vocabulary.execution_group(execution_id), ordered=True)
        start = await database_sync_to_async(_execution_start)(
            caller=caller, execution_id=execution_id, after=after
        )
        if start is None:
            await self._refuse(CLOSE_FORBIDDEN)
            return
        await self._accept()
        subscriber.start(first=start["frames"], floor=start["seq"])


class WorkspaceFeedConsumer(_FeedConsumer):
    """``/ws/workspaces/{id}/executions/``: every execution event of the workspace, live."""

    async def connect(self) -> None:
        caller = await self._caller()
        if caller is None:
            return
        workspace_id = self.scope["url_route"]["kwargs"]["workspace_id"]
        if not await database_sync_to_async(_is_member)(caller=caller, workspace_id=workspace_id):
            await self._refuse(CLOSE_FORBIDDEN)
            return
        # Accepted once subscribed: a client that sees the socket open misses nothing.
        subscriber = await self._join(vocabulary.workspace_group(workspace_id), ordered=False)
        await self._accept()
        subscriber.start()


def _after(scope: dict[str, Any]) -> int | None:
    """The ``after`` query parameter, None when absent; ValueError unless a number >= 0."""
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get("after")
    if not values:
        return None
    after = int(values[0])
    if after < 0:
        raise ValueError(after)
    return after


def _execution_start(
    *, caller: Caller, execution_id: str, after: int | None
) -> dict[str, Any] | None:
    """What a new subscriber gets first, and the ``seq`` it covers; None without access.

    The log is read before the snapshot: every event numbered up to the log's last
    ``seq`` was committed before it was logged, so the snapshot read afterwards shows it.
    A snapshot also names the nodes running now (``running_nodes``, from the log): a
    running node has no NodeRun row yet, so the execution alone cannot show it.
    """
    last, logged = log.events_after(execution_id=execution_id, after=after or 0)
    try:
        execution = selectors.execution_get(user=caller, id=execution_id)
    except NotFound:
        return None
    if after is not None and logged is not None:
        frames = [fanout.frame_of([_dumps(event) for event in logged])] if logged else []
        return {"seq": logged[-1]["seq"] if logged else after, "frames": frames}
    snapshot = ExecutionDetailOutSerializer(execution).data
    frame = _dumps(
        {
            "type": "snapshot",
            "seq": last,
            "execution": snapshot,
            "running_nodes": _running_nodes(logged or []),
        }
    )
    return {"seq": last, "frames": [frame]}


def _running_nodes(logged: list[dict[str, Any]]) -> list[str]:
    """The nodes whose last logged event is ``node.started``, in the order they started."""
    running: dict[str, None] = {}
    for event in logged:
        if event["type"] == vocabulary.NODE_STARTED:
            running[event["node_id"]] = None
        elif event["type"] == vocabulary.NODE_FINISHED:
            running.pop(event["node_id"], None)
    return list(running)


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, cls=DjangoJSONEncoder, separators=(",", ":"))


def _is_member(*, caller: Caller, workspace_id: str) -> bool:
    try:
        return role_in(user=caller, workspace_id=workspace_id) is not None
    except (ValidationError, ValueError):  # not a UUID: no such workspace
        return False
