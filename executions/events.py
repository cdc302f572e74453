"""Live progress events of executions: numbered, kept for a while, broadcast after commit.

Every event of an execution gets the next number of that execution's sequence (``seq``)
and is appended to a short, bounded log of the execution before it is broadcast to two
channel-layer groups: the execution's own and its workspace's. A WebSocket subscriber
that joins late or reconnects reads the log (or a snapshot) and then follows the groups,
skipping what it already has by ``seq`` (see consumers.py).

Publishing never makes the caller wait for subscribers or for Redis: events are handed
to one background thread per process, which numbers, logs and broadcasts them in the
order they were published. An event is published only once the database write it
describes has committed (``events_publish_on_commit``), like Zulip's
``send_event_on_commit``; a rolled-back write publishes nothing.

With Redis (the distributed roles) the sequence is an INCR and the log a capped list,
both expiring after ``LINKFLOW_WS_EVENT_LOG_TTL_SECONDS`` without events. Embedded, both
live in this process, and the broadcast hops onto the event loop of the web server,
where the in-memory channel layer's subscribers wait.
"""

import asyncio
import atexit
import json
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

EXECUTION_STARTED = "execution.started"
EXECUTION_WAITING = "execution.waiting"
EXECUTION_FINISHED = "execution.finished"
NODE_STARTED = "node.started"
NODE_FINISHED = "node.finished"

# The channel-layer message type; consumers handle it in ``execution_event``.
LAYER_MESSAGE_TYPE = "execution.event"
# A node's first output item is sent whole up to this size (as JSON), else cut.
FIRST_ITEM_MAX_CHARS = 1024
# Events waiting for the publisher thread; beyond this they are dropped, not waited for.
_QUEUE_MAX = 10_000


def execution_group(execution_id: object) -> str:
    return f"execution.{execution_id}"


def workspace_group(workspace_id: object) -> str:
    return f"workspace.{workspace_id}.executions"


def event_build(
    *, type: str, execution_id: object, workspace_id: object, workflow_id: object, **data: Any
) -> dict[str, Any]:
    """An event (JSON data) of the execution; ``seq`` and ``published_at`` come at publish."""
    return {
        "type": type,
        "execution": str(execution_id),
        "workspace": str(workspace_id),
        "workflow": str(workflow_id),
        **data,
    }


def now_iso() -> str:
    return timezone.now().isoformat()


def events_publish_on_commit(events: Iterable[dict[str, Any]]) -> None:
    """Publish the events, in order, once the current transaction commits.

    Outside a transaction they are published at once. Never blocks on Redis or on
    subscribers; an event that cannot be delivered is logged and dropped (subscribers
    recover from the log or a snapshot), it never fails the caller.
    """
    pending = list(events)
    if pending:
        transaction.on_commit(lambda: _publisher().submit(pending))


def output_summary(output: dict[str, list[Any]]) -> dict[str, Any]:
    """What a live view shows of a node's output: items per port and the first item.

    The first item of the first port that has one is sent as is when its JSON is at most
    ``FIRST_ITEM_MAX_CHARS`` long; a longer one is sent as its JSON text cut to that length
    under ``"truncated": true``. The full output is in the execution's record.
    """
    counts = {port: len(items) for port, items in output.items() if isinstance(items, list)}
    first = next((items[0] for items in output.values() if isinstance(items, list) and items), None)
    if first is None:
        return {"items": counts, "first_item": None, "truncated": False}
    text = json.dumps(first, default=str, separators=(",", ":"))
    if len(text) <= FIRST_ITEM_MAX_CHARS:
        return {"items": counts, "first_item": first, "truncated": False}
    return {"items": counts, "first_item": text[:FIRST_ITEM_MAX_CHARS], "truncated": True}


def events_after(*, execution_id: object, after: int | None) -> tuple[int, list[dict] | None]:
    """The execution's last ``seq`` and its logged events numbered above ``after``.

    The event list is None when ``after`` is None or the log no longer reaches back to
    ``after + 1`` (trimmed, expired, or ``after`` lies beyond the last ``seq``): the caller
    must then start from a snapshot. Both values come from one consistent read.
    """
    last, logged = _log().read(str(execution_id))
    if after is None or after > last:
        return last, None
    missed = [event for event in logged if event["seq"] > after]
    if after < last and (not missed or missed[0]["seq"] != after + 1):
        return last, None
    return last, missed


def events_flush(timeout: float = 5.0) -> bool:
    """Wait until this process has published everything submitted so far (tests, exit)."""
    return _publisher().flush(timeout)


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Embedded mode: remember the web server's event loop, where subscribers listen."""
    global _subscriber_loop
    _subscriber_loop = loop


_subscriber_loop: asyncio.AbstractEventLoop | None = None


# --- the per-execution log -----------------------------------------------------------------
def _ttl(event: dict[str, Any]) -> int:
    """How long the log outlives the execution's last event.

    A finished execution's snapshot is complete, so its log is only kept briefly. An
    execution parked for longer than the TTL starts numbering again at 1 when it resumes;
    subscribers then recover through a snapshot (``events_after``).
    """
    if event["type"] == EXECUTION_FINISHED:
        return getattr(settings, "LINKFLOW_WS_EVENT_LOG_FINISHED_TTL_SECONDS", 300)
    return getattr(settings, "LINKFLOW_WS_EVENT_LOG_TTL_SECONDS", 3600)


def _max_len() -> int:
    return getattr(settings, "LINKFLOW_WS_EVENT_LOG_MAX", 1000)


# Numbering and logging in one atomic step, so a reader never sees a number without its
# event. The event's JSON gets its number spliced in as the first field.
_APPEND_LUA = """
local seq = redis.call('INCR', KEYS[1])
local stored = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('RPUSH', KEYS[2], stored)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
"""


class _RedisLog:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.append_script = self.client.register_script(_APPEND_LUA)

    @staticmethod
    def _keys(execution_id: str) -> tuple[str, str]:
        return f"linkflow:events:{execution_id}:seq", f"linkflow:events:{execution_id}:log"

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        payload = _dumps(event)
        keys = self._keys(event["execution"])
        seq = int(self.append_script(keys=keys, args=[payload, _max_len(), _ttl(event)]))
        return json.loads(f'{{"seq":{seq},{payload[1:]}')

    def read(self, execution_id: str) -> tuple[int, list[dict[str, Any]]]:
        seq_key, log_key = self._keys(execution_id)
        pipe = self.client.pipeline(transaction=True)
        last, logged = pipe.get(seq_key).lrange(log_key, 0, -1).execute()
        return int(last or 0), [json.loads(entry) for entry in logged]


@dataclass
class _LocalEntry:
    seq: int = 0
    expires: float = 0.0
    log: deque[dict[str, Any]] = field(default_factory=deque)


class _LocalLog:
    """The embedded mode's log: this process is the only publisher and subscriber."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, _LocalEntry] = {}
        self.next_sweep = 0.0

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        with self.lock:
            self._expire(now)
            entry = self.entries.setdefault(event["execution"], _LocalEntry())
            entry.seq += 1
            entry.expires = now + _ttl(event)
            stored = json.loads(_dumps({"seq": entry.seq, **event}))
            entry.log.append(stored)
            while len(entry.log) > _max_len():
                entry.log.popleft()
            return stored

    def read(self, execution_id: str) -> tuple[int, list[dict[str, Any]]]:
        with self.lock:
            entry = self.entries.get(execution_id)
            return (entry.seq, list(entry.log)) if entry else (0, [])

    def _expire(self, now: float) -> None:
        if now < self.next_sweep:
            return
        self.next_sweep = now + 10
        stale = [key for key, entry in self.entries.items() if entry.expires < now]
        for key in stale:
            del self.entries[key]


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, default=str, separators=(",", ":"))


@cache
def _redis_log(url: str) -> _RedisLog:
    return _RedisLog(url)


_local_log = _LocalLog()


def _log() -> _RedisLog | _LocalLog:
    return _redis_log(settings.REDIS_URL) if settings.REDIS_URL else _local_log


# --- the publisher thread ------------------------------------------------------------------
class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class _Publisher:
    """Numbers, logs and broadcasts events on one daemon thread, in submission order."""

    def __init__(self) -> None:
        self.queue: queue.Queue[dict[str, Any] | _Flush] = queue.Queue(maxsize=_QUEUE_MAX)
        self.thread = threading.Thread(target=self._run, name="execution-events", daemon=True)
        self.thread.start()

    def submit(self, events: list[dict[str, Any]]) -> None:
        published_at = time.time()
        for event in events:
            try:
                self.queue.put_nowait({**event, "published_at": published_at})
            except queue.Full:
                logger.warning(
                    "event queue full, dropped %s of %s", event["type"], event["execution"]
                )

    def flush(self, timeout: float) -> bool:
        marker = _Flush()
        self.queue.put(marker, timeout=timeout)
        return marker.done.wait(timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            item = self.queue.get()
            if isinstance(item, _Flush):
                item.done.set()
                continue
            try:
                loop.run_until_complete(self._publish(item))
            except Exception:  # a broken broadcast must not stop later events
                logger.exception("could not publish %s of %s", item["type"], item["execution"])

    async def _publish(self, event: dict[str, Any]) -> None:
        # Subscribers get exactly what the log keeps (plain JSON types, ``seq`` first).
        event = _log().append(event)
        message = {"type": LAYER_MESSAGE_TYPE, "event": event}
        groups = (execution_group(event["execution"]), workspace_group(event["workspace"]))
        layer = get_channel_layer()
        if layer is None:
            return
        if settings.REDIS_URL:
            await asyncio.gather(*(layer.group_send(group, message) for group in groups))
            return
        # The in-memory layer is not thread-safe: its subscribers wait on the web server's
        # loop, so the broadcast runs there. No loop bound means no subscriber here yet.
        target = _subscriber_loop
        if target is not None and not target.is_closed():
            for group in groups:
                asyncio.run_coroutine_threadsafe(layer.group_send(group, message), target)


_publisher_lock = threading.Lock()
_publisher_state: dict[str, Any] = {"pid": None, "publisher": None}


def _publisher() -> _Publisher:
    # Started lazily and again after a fork: a prefork worker child needs its own thread.
    with _publisher_lock:
        if _publisher_state["pid"] != os.getpid():
            _publisher_state.update(pid=os.getpid(), publisher=_Publisher())
        return _publisher_state["publisher"]


@atexit.register
def _drain_at_exit() -> None:
    if _publisher_state["pid"] == os.getpid():
        _publisher_state["publisher"].flush(2.0)
