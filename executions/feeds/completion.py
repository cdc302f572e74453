"""Telling a waiting caller (a sync webhook) that an execution finished, without polling.

With Redis, the worker pushes the outcome onto a short-lived per-execution list and the
waiter blocks on it (BLPOP), so web and worker may be different machines. Embedded, both
sides are threads of one process: each waiter blocks on an event of its execution's own,
so an announcement wakes only its own caller (a condition shared by all of them woke
every waiting thread for every execution that finished).
"""

import json
import threading
import time
from functools import cache
from typing import Any

import redis
from django.conf import settings

_TTL_SECONDS = 300
# Embedded: execution id -> (when announced, outcome), oldest first; entries nobody
# collected expire after the TTL. And the events of the callers waiting, by execution id.
_local: dict[str, tuple[float, dict[str, Any]]] = {}
_local_waiting: dict[str, threading.Event] = {}
_local_lock = threading.Lock()


def _key(execution_id: str) -> str:
    return f"linkflow:finished:{execution_id}"


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@cache
def _waiting_redis() -> redis.Redis:
    # BLPOP blocks for the whole wait; the client's default socket timeout (5 s in
    # redis-py 8) would cut a longer wait short with a TimeoutError (answered as a 503).
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=None)


def completion_publish(*, execution_id: str, outcome: dict[str, Any]) -> None:
    """Announce that the execution finished with ``outcome`` (JSON data).

    A finishing worker sends it with the run's last events instead (feeds/log.py, through
    ``completion_push``): this is for everything else."""
    if settings.REDIS_URL:
        pipe = _redis().pipeline(transaction=False)
        completion_push(pipe, execution_id=execution_id, outcome=outcome)
        pipe.execute()
        return
    now = time.monotonic()
    with _local_lock:
        while _local:  # the oldest first: stop at the first one still fresh
            oldest = next(iter(_local))
            if now - _local[oldest][0] <= _TTL_SECONDS:
                break
            del _local[oldest]
        _local.pop(execution_id, None)  # announced again: it goes to the end
        _local[execution_id] = (now, outcome)
        waiting = _local_waiting.get(execution_id)
    if waiting is not None:
        waiting.set()


def completion_push(
    pipe: redis.client.Pipeline, *, execution_id: str, outcome: dict[str, Any]
) -> None:
    """Add the announcement of ``outcome`` to a Redis pipeline (two commands)."""
    key = _key(execution_id)
    pipe.rpush(key, json.dumps(outcome))
    pipe.expire(key, _TTL_SECONDS)


def completion_wait(*, execution_id: str, timeout: float) -> dict[str, Any] | None:
    """Block until the execution's outcome is announced, at most ``timeout`` seconds.

    Returns None on timeout. Only one waiter per execution receives the outcome.
    """
    if settings.REDIS_URL:
        popped = _waiting_redis().blpop([_key(execution_id)], timeout=max(timeout, 0.01))
        return json.loads(popped[1]) if popped else None
    with _local_lock:
        found = _local.pop(execution_id, None)
        if found is not None:
            return found[1]
        waiting = _local_waiting.setdefault(execution_id, threading.Event())
    waiting.wait(timeout)
    with _local_lock:
        if _local_waiting.get(execution_id) is waiting:
            del _local_waiting[execution_id]
        found = _local.pop(execution_id, None)
    return found[1] if found else None
