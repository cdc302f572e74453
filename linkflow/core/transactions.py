"""The one way to enqueue work: after the surrounding transaction commits.

Enqueuing inside a transaction races the commit: a fast worker would look for a row that
is not visible yet. ``transaction.on_commit`` runs the send once the row exists, and not
at all if the transaction rolls back.

On a Redis broker the message is written with one LPUSH (``redis_message``): the very
message Celery's ``apply_async`` sends (task protocol 2, as kombu's Redis transport lays
it out), without its per-call machinery, which cost about a millisecond of web CPU per
execution. Any other broker (the embedded in-memory one), a routed task or a task sent
with options goes through ``apply_async``.
"""

import base64
import functools
import json
import os
import socket
import uuid
from typing import Any

from celery import Task
from django.conf import settings
from django.db import transaction

_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    """Send ``task`` with these arguments when the current transaction commits."""
    transaction.on_commit(lambda: task_send(task, args=args, kwargs=kwargs))


def task_send(task: Task, *, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Send one message for ``task`` now: one LPUSH on Redis, else ``apply_async``."""
    queue = _direct_queue(task, settings.REDIS_URL)
    if queue is None:
        task.apply_async(args=args, kwargs=kwargs)
        return
    _broker_redis().lpush(queue, json.dumps(redis_message(task, args, kwargs, queue=queue)))


def redis_message(
    task: Task, args: tuple[Any, ...], kwargs: dict[str, Any], *, queue: str
) -> dict[str, Any]:
    """The message kombu's Redis transport stores for ``task.apply_async(args, kwargs)``
    to the default exchange with routing key ``queue`` (Celery task protocol 2)."""
    task_id = str(uuid.uuid4())
    body = json.dumps([list(args), kwargs, _EMBED]).encode()
    return {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task.name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": _time_limits(task),
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(tuple(args)),
            "kwargsrepr": repr(kwargs),
            "origin": _origin(),
            "ignore_result": task.ignore_result,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": task.app.thread_oid,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }


# Celery's configuration is read through layers of mappings: these lookups were 3 % of a
# worker's CPU. It is fixed once the app is configured, so each task's answer is kept;
# REDIS_URL is part of the key because tests (and only tests) change it.
@functools.cache
def _direct_queue(task: Task, redis_url: str) -> str | None:
    """The queue a plain ``apply_async`` of ``task`` goes to, when one LPUSH can stand in
    for it: a Redis broker, no routing, no per-task queue or priority, no global prefix."""
    conf = task.app.conf
    broker = str(conf.broker_url or "")
    if not broker.startswith(("redis://", "rediss://", "unix://")) or not redis_url:
        return None
    if conf.task_always_eager or conf.task_routes or task.priority is not None:
        return None
    if conf.task_default_priority is not None:
        return None
    if getattr(task, "queue", None) or (conf.broker_transport_options or {}):
        return None
    return str(conf.task_default_queue)


@functools.cache
def _time_limits(task: Task) -> tuple[Any, Any]:
    conf = task.app.conf
    return (
        task.time_limit or conf.task_time_limit,
        task.soft_time_limit or conf.task_soft_time_limit,
    )


@functools.cache
def _broker_redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def _origin() -> str:
    return f"gen{os.getpid()}@{_HOST}"


_HOST = socket.gethostname()
