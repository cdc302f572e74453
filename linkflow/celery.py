"""The Celery application shared by the worker, the beat and the embedded mode."""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")


class _InMemoryAcks(kombu_redis.Channel):
    """A Redis channel that keeps no broker copy of the messages it delivered and that
    are not acknowledged yet (no ack emulation), only its count of them in memory.

    The database is the queue of record: a queued execution whose message is lost is sent
    again by recovery after LINKFLOW_QUEUED_GRACE_SECONDS, a running one when its lease
    expires. The copy cost the worker's main process a MULTI of ZADD and HSET per message
    and a ZREM and HDEL per ack, a third of its CPU, and it restored a message only after
    an hour's visibility timeout. Prefetch stays bounded (the count in memory) and a warm
    shutdown still puts the prefetched messages back on the queue; what a SIGKILL loses
    and how it comes back is in docs/execution-semantics.md, "The broker".
    """

    ack_emulation = False


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport with _InMemoryAcks channels (CELERY_BROKER_TRANSPORT)."""

    Channel = _InMemoryAcks


app = Celery("linkflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A prefork worker's main process keeps its children's leases (executions/running/worker.py).
app.steps["worker"].add("executions.running.worker:LeaseKeeper")


def _persistent_worker_connections(**kwargs: Any) -> None:
    """Give worker processes persistent database connections instead of a pool.

    Celery closes a prefork child's pool after every task, so a pool there means a new
    PostgreSQL connection per task (measured: two per webhook call). A worker process
    runs one task at a time, so one kept connection is all it needs. Not health-checked
    before each task (a ``SELECT 1`` round trip per execution): a run whose kept
    connection broke reconnects and tries again (executions/running/reconnect.py).
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database.get("OPTIONS", {}).pop("pool", None) is not None:
        database["CONN_MAX_AGE"] = None
        database["CONN_HEALTH_CHECKS"] = False


def _freeze_before_fork(**kwargs: Any) -> None:
    """The main process's start-up objects frozen before the pool forks its children
    (linkflow/core/gc_freeze.py); worker_init runs after the app and tasks are loaded."""
    from linkflow.core.gc_freeze import startup_freeze

    startup_freeze()


# Connected by a call, not as a decorator: celery ships no types, so its decorator would
# leave the function untyped for mypy.
worker_init.connect(_persistent_worker_connections)
worker_init.connect(_freeze_before_fork)
