"""The per-execution event log: numbered, kept for a while, broadcast with each append.

Every event of an execution gets the next number of that execution's sequence (``seq``)
and is appended to a short, bounded log of the execution as it is broadcast to two feed
groups: the execution's own and its workspace's. A WebSocket subscriber that joins late or
reconnects reads the log (``events_after``, or a snapshot) and then follows the groups,
skipping what it already has by ``seq`` (see consumers.py; fanout.py delivers to
subscribers).

With Redis (the distributed roles) one Lua script per run of an execution's events
increments the sequence, appends to a capped list (both expiring after
``LINKFLOW_WS_EVENT_LOG_TTL_SECONDS`` without events) and publishes the numbered JSON
texts on the groups' pub/sub channels; a batch is one pipelined round trip. Each event is
serialised once, here; web processes forward the text as is. Embedded, sequence and log
live in this process and the texts hop onto the web server's event loop.
"""

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import redis
from django.conf import settings

from executions.feeds import fanout
from executions.feeds.completion import completion_publish, completion_push
from executions.feeds.vocabulary import EXECUTION_FINISHED, execution_group, workspace_group

logger = logging.getLogger(__name__)


def events_after(
    *, execution_id: object, after: int | None
) -> tuple[int, list[dict[str, Any]] | None]:
    """The execution's last ``seq`` and its logged events numbered above ``after``.

    The event list is None when ``after`` is None or the log no longer reaches back to
    ``after + 1`` (trimmed, expired, or ``after`` lies beyond the last ``seq``): the caller
    must then start from a snapshot. Both values come from one consistent read.
    """
    last, logged = event_log().read(str(execution_id))
    if after is None or after > last:
        return last, None
    missed = [event for event in logged if event["seq"] > after]
    if after < last and (not missed or missed[0]["seq"] != after + 1):
        return last, None
    return last, missed


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Embedded mode: remember the web server's event loop, where subscribers listen."""
    global _subscriber_loop
    _subscriber_loop = loop


_subscriber_loop: asyncio.AbstractEventLoop | None = None


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
        calls: list[list[str | int]] = []
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
        pipe.get(seq_key)
        pipe.lrange(log_key, 0, -1)
        last, logged = pipe.execute()
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


def event_log() -> _RedisLog | _LocalLog:
    """This process's log: on Redis when the roles share one, else in this process."""
    return _redis_log(settings.REDIS_URL) if settings.REDIS_URL else _local_log
