"""Live progress events of executions: numbered, kept for a while, broadcast after commit.

Every event of an execution gets the next number of that execution's sequence (``seq``)
and is appended to a short, bounded log of the execution before it is broadcast to two
feed groups: the execution's own and its workspace's. A WebSocket subscriber that joins
late or reconnects reads the log (or a snapshot) and then follows the groups, skipping
what it already has by ``seq`` (see consumers.py; fanout.py delivers to subscribers).

Publishing never makes the caller wait for subscribers or for Redis: events are handed
to one background thread per process, which numbers, logs and broadcasts them in the
order they were published, everything submitted meanwhile in one batch. An event is
published only once the database write it describes has committed
(``events_publish_on_commit``), like Zulip's ``send_event_on_commit``; a rolled-back write
publishes nothing.

With Redis (the distributed roles) one Lua script per run of an execution's events
increments the sequence, appends to a capped list (both expiring after
``LINKFLOW_WS_EVENT_LOG_TTL_SECONDS`` without events) and publishes the numbered JSON
texts on the groups' pub/sub channels; a batch is one pipelined round trip. Each event is
serialised once, here; web processes forward the text as is. Embedded, sequence and log
live in this process and the texts hop onto the web server's event loop.
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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from . import fanout
from .completion import completion_publish, completion_push

logger = logging.getLogger(__name__)

EXECUTION_STARTED = "execution.started"
EXECUTION_WAITING = "execution.waiting"
EXECUTION_FINISHED = "execution.finished"
NODE_STARTED = "node.started"
NODE_FINISHED = "node.finished"

# A node's first output item is sent whole up to this size (as JSON), else cut.
FIRST_ITEM_MAX_CHARS = 1024
# Submissions waiting for the publisher thread; beyond this they are dropped, not waited
# for. At most this many submissions go out in one batch.
_QUEUE_MAX = 10_000
_BATCH_MAX = 200


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


def events_publish_on_commit(
    events: Iterable[dict[str, Any]], *, reply: tuple[str, dict[str, Any]] | None = None
) -> None:
    """Publish the events, in order, once the current transaction commits.

    Outside a transaction they are published at once. Never blocks on Redis or on
    subscribers; an event that cannot be delivered is logged and dropped (subscribers
    recover from the log or a snapshot), it never fails the caller.

    ``reply`` (execution id, outcome) is a sync webhook's answer (completion.py), sent
    after the events in the same Redis round trip. Unlike an event it is never dropped:
    when the publisher cannot take it, it is sent from here.
    """
    pending = list(events)
    if pending or reply is not None:
        transaction.on_commit(lambda: _publisher().submit(pending, reply=reply))


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
        return settings.LINKFLOW_WS_EVENT_LOG_FINISHED_TTL_SECONDS
    return settings.LINKFLOW_WS_EVENT_LOG_TTL_SECONDS


def _max_len() -> int:
    return settings.LINKFLOW_WS_EVENT_LOG_MAX


def _groups(event: dict[str, Any]) -> tuple[str, str]:
    return execution_group(event["execution"]), workspace_group(event["workspace"])


def _runs(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive events of the same execution, in order (one log append each)."""
    run: list[dict[str, Any]] = []
    for event in events:
        if run and run[0]["execution"] != event["execution"]:
            yield run
            run = []
        run.append(event)
    if run:
        yield run


# Numbering, logging and broadcasting a run of one execution's events in one atomic step:
# a reader never sees a number without its event, and a subscriber that joined before
# reading the log gets every event the log did not show. Each event's JSON gets its number
# spliced in as the first field; the broadcast is the texts joined by newlines (fanout.py).
# KEYS: sequence, log. ARGV: log length, TTL, the two group channels, then the events.
_APPEND_LUA = """
local stored = {}
for i = 5, #ARGV do
  local seq = redis.call('INCR', KEYS[1])
  stored[#stored + 1] = '{"seq":' .. seq .. ',' .. string.sub(ARGV[i], 2)
end
redis.call('RPUSH', KEYS[2], unpack(stored))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[1]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
local message = table.concat(stored, '\\n')
redis.call('PUBLISH', ARGV[3], message)
redis.call('PUBLISH', ARGV[4], message)
return #stored
"""


class _RedisLog:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.append_script = self.client.register_script(_APPEND_LUA)
        self.client.script_load(_APPEND_LUA)

    @staticmethod
    def _keys(execution_id: str) -> tuple[str, str]:
        return f"linkflow:events:{execution_id}:seq", f"linkflow:events:{execution_id}:log"

    def publish(
        self, events: list[dict[str, Any]], replies: list[tuple[str, dict[str, Any]]]
    ) -> None:
        """Number, log and broadcast the events, then push the replies: one round trip
        for the whole batch."""
        calls = []
        for run in _runs(events):
            channels = [fanout.channel_for(group) for group in _groups(run[0])]
            keys = self._keys(run[0]["execution"])
            calls.append([*keys, _max_len(), _ttl(run[-1]), *channels, *map(_dumps, run)])
        # EVALSHA by hand: redis-py's Script in a pipeline first asks SCRIPT EXISTS, an
        # extra round trip per batch.
        pipe = self.client.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(self.append_script.sha, 2, *call)
        for execution_id, outcome in replies:
            completion_push(pipe, execution_id=execution_id, outcome=outcome)
        results = pipe.execute(raise_on_error=False)
        failed = [
            call
            for call, result in zip(calls, results, strict=False)
            if isinstance(result, Exception)
        ]
        broken = [r for r in results[len(calls) :] if isinstance(r, Exception)]
        if failed and any(isinstance(r, redis.exceptions.NoScriptError) for r in results):
            # Redis restarted or flushed its scripts: load it and send what failed again
            # (the replies went through: they do not depend on the script).
            try:
                self.client.script_load(_APPEND_LUA)
                pipe = self.client.pipeline(transaction=False)
                for call in failed:
                    pipe.evalsha(self.append_script.sha, 2, *call)
                pipe.execute()
            except redis.exceptions.RedisError:  # logged, not raised: as below
                logger.exception("could not publish %s runs of events again", len(failed))
        elif failed:
            # Logged, not raised: the replies of the batch went, and must not go twice.
            error = next(r for r in results if isinstance(r, Exception))
            logger.error("could not publish %s runs of events: %s", len(failed), error)
        if broken:  # the caller sends the replies again, one by one
            raise broken[0]

    def read(self, execution_id: str) -> tuple[int, list[dict[str, Any]]]:
        seq_key, log_key = self._keys(execution_id)
        pipe = self.client.pipeline(transaction=True)
        last, logged = pipe.get(seq_key).lrange(log_key, 0, -1).execute()
        return int(last or 0), [json.loads(entry) for entry in logged]


@dataclass
class _LocalEntry:
    seq: int = 0
    expires: float = 0.0
    log: deque[str] = field(default_factory=deque)


class _LocalLog:
    """The embedded mode's log: this process is the only publisher and subscriber."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, _LocalEntry] = {}
        self.next_sweep = 0.0

    def publish(
        self, events: list[dict[str, Any]], replies: list[tuple[str, dict[str, Any]]]
    ) -> None:
        """Number and log the events, hand them to the web server's subscribers, then
        the replies to their waiting callers."""
        self._publish_events(events)
        for execution_id, outcome in replies:
            completion_publish(execution_id=execution_id, outcome=outcome)

    def _publish_events(self, events: list[dict[str, Any]]) -> None:
        for run in _runs(events):
            texts = self._append(run)
            # The subscribers wait on the web server's loop; no loop bound means none yet.
            target = _subscriber_loop
            if target is not None and not target.is_closed():
                fanout.deliver_on(target, _groups(run[0]), texts)

    def _append(self, run: list[dict[str, Any]]) -> list[str]:
        now = time.monotonic()
        with self.lock:
            self._expire(now)
            entry = self.entries.setdefault(run[0]["execution"], _LocalEntry())
            entry.expires = now + _ttl(run[-1])
            texts = []
            for event in run:
                entry.seq += 1
                texts.append(f'{{"seq":{entry.seq},{_dumps(event)[1:]}')
            entry.log.extend(texts)
            while len(entry.log) > _max_len():
                entry.log.popleft()
            return texts

    def read(self, execution_id: str) -> tuple[int, list[dict[str, Any]]]:
        with self.lock:
            entry = self.entries.get(execution_id)
            seq, logged = (entry.seq, list(entry.log)) if entry else (0, [])
        return seq, [json.loads(text) for text in logged]

    def _expire(self, now: float) -> None:
        if now < self.next_sweep:
            return
        self.next_sweep = now + 10
        stale = [key for key, entry in self.entries.items() if entry.expires < now]
        for key in stale:
            del self.entries[key]


def _dumps(event: dict[str, Any]) -> str:
    # Plain JSON types only, so subscribers get exactly what the log keeps.
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
    """Numbers, logs and broadcasts events on one daemon thread, in submission order.

    Whatever was submitted while the previous batch was out goes in the next one: one
    Redis round trip per batch however many executions and events it holds, the sync
    webhook replies of the batch included.
    """

    def __init__(self) -> None:
        self.queue: queue.Queue[_Submission | _Flush] = queue.Queue(maxsize=_QUEUE_MAX)
        self.thread = threading.Thread(target=self._run, name="execution-events", daemon=True)
        self.thread.start()

    def submit(
        self, events: list[dict[str, Any]], *, reply: tuple[str, dict[str, Any]] | None = None
    ) -> None:
        published_at = time.time()
        stamped = [{**event, "published_at": published_at} for event in events]
        try:
            self.queue.put_nowait(_Submission(stamped, reply))
        except queue.Full:
            if events:
                logger.warning("event queue full, dropped %s events of %s", len(events), events[0])
            if reply is not None:  # a caller is waiting for it: never dropped
                completion_publish(execution_id=reply[0], outcome=reply[1])

    def flush(self, timeout: float) -> bool:
        marker = _Flush()
        self.queue.put(marker, timeout=timeout)
        return marker.done.wait(timeout)

    def _run(self) -> None:
        while True:
            items = [self.queue.get()]
            while len(items) < _BATCH_MAX:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            submissions = [item for item in items if isinstance(item, _Submission)]
            batch = [event for item in submissions for event in item.events]
            replies = [item.reply for item in submissions if item.reply is not None]
            try:
                if batch or replies:
                    _log().publish(batch, replies)
            except Exception:  # a broken broadcast must not stop later events
                logger.exception("could not publish %s events", len(batch))
                self._reply_alone(replies)  # nothing went, or the replies did not
            for item in items:
                if isinstance(item, _Flush):
                    item.done.set()

    @staticmethod
    def _reply_alone(replies: list[tuple[str, dict[str, Any]]]) -> None:
        # The batch did not reach Redis, or its replies failed: each gets its own try.
        for execution_id, outcome in replies:
            try:
                completion_publish(execution_id=execution_id, outcome=outcome)
            except Exception:
                logger.exception("could not announce the end of execution %s", execution_id)


@dataclass
class _Submission:
    events: list[dict[str, Any]]
    reply: tuple[str, dict[str, Any]] | None = None


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
