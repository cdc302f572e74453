"""Telling a waiting caller (a sync webhook) that an execution finished, without polling.

With Redis, the worker pushes the outcome onto a short-lived per-execution list and the
waiter blocks on it (BLPOP), so web and worker may be different machines. Embedded, both
sides are threads of one process and meet at a condition variable.
"""

import json
import threading
import time
from functools import cache
from typing import Any

import redis
from django.conf import settings

_TTL_SECONDS = 300
# execution id -> (when announced, outcome); entries nobody collected expire after the TTL.
_local: dict[str, tuple[float, dict[str, Any]]] = {}
_local_changed = threading.Condition()


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
    with _local_changed:
        for stale in [k for k, (at, _) in _local.items() if now - at > _TTL_SECONDS]:
            del _local[stale]
        _local[execution_id] = (now, outcome)
        _local_changed.notify_all()


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
    with _local_changed:
        _local_changed.wait_for(lambda: execution_id in _local, timeout=timeout)
        found = _local.pop(execution_id, None)
    return found[1] if found else None
