"""Prometheus metrics: what LinkFlow is doing, for operators' dashboards and alerts.

Two kinds, because LinkFlow runs as many processes on many machines:

- Process metrics, kept in this process's default registry: node durations (observed where
  nodes run: the worker, or the web process in embedded mode) and open WebSocket
  connections (web). A worker exposes its own on ``LINKFLOW_WORKER_METRICS_PORT``; with
  prefork children set ``PROMETHEUS_MULTIPROC_DIR`` so the children's values add up.
- Fleet metrics, computed from PostgreSQL and Redis at scrape time, so every web process
  reports the same truth: what the apps register (``fleet_gauges_register``: executions by
  status, stale executions, overdue waits, pending dead letters), queue depth and the beat
  leader. A backing service that cannot be read
  shows as ``linkflow_up{service=...} 0`` instead of failing the scrape.
"""

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

NODE_DURATION = Histogram(
    "linkflow_node_duration_seconds",
    "How long one node attempt took, by node type.",
    ["node_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
WEBSOCKET_CONNECTIONS = Gauge(
    "linkflow_websocket_connections", "Open WebSocket connections in this process."
)
# What the apps read from PostgreSQL at scrape time, by name (fleet_gauges_register).
_DATABASE_GAUGES: dict[str, Callable[[], Iterable[Metric]]] = {}
# A kombu Redis queue keeps messages of priority 3, 6 and 9 in lists of their own.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def node_observed(*, node_type: str, seconds: float) -> None:
    """Record one node attempt's duration (called by the executions recorder)."""
    NODE_DURATION.labels(node_type=node_type).observe(max(seconds, 0.0))


def websocket_connected() -> None:
    """A WebSocket connection opened in this process (call from the consumer's connect)."""
    WEBSOCKET_CONNECTIONS.inc()


def websocket_disconnected() -> None:
    """A WebSocket connection closed in this process (call from the consumer's disconnect)."""
    WEBSOCKET_CONNECTIONS.dec()


# --- fleet metrics, read at scrape time ---------------------------------------------------
class FleetCollector(Collector):
    """Gauges read from PostgreSQL and Redis on every scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "linkflow_up",
            "Whether a backing service could be read (1) or not (0).",
            labels=["service"],
        )
        try:
            yield from _database_metrics()
            up.add_metric(["database"], 1)
        except Exception as exc:  # a down database must not fail the whole scrape
            logger.warning("metrics: database unreadable: %r", exc)
            up.add_metric(["database"], 0)
        redis_up = _redis_metrics()
        if redis_up is not None:
            yield from redis_up[1]
            up.add_metric(["redis"], 1 if redis_up[0] else 0)
        yield up


def fleet_gauges_register(*, name: str, read: Callable[[], Iterable[Metric]]) -> None:
    """Add the gauges an app reads from PostgreSQL at scrape time (call from its
    ``AppConfig.ready``; registering a name again replaces it). Core knows no app: each
    app registers what it shows, as healthchecks' transports do."""
    _DATABASE_GAUGES[name] = read


def _database_metrics() -> list[Metric]:
    return [metric for read in _DATABASE_GAUGES.values() for metric in read()]


def _redis_metrics() -> tuple[bool, list[Metric]] | None:
    """(readable, metrics) from Redis; None in embedded mode (no Redis at all)."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return None
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    try:
        client = probe_redis(settings.REDIS_URL)
        try:
            pipe = client.pipeline(transaction=False)
            _queue_lengths(pipe, queue)
            pipe.get(_beat_lock_key())
            *lengths, leader = pipe.execute()
        finally:
            client.close()
    except Exception as exc:
        logger.warning("metrics: redis unreadable: %r", exc)
        return False, []
    depth = GaugeMetricFamily(
        "linkflow_queue_depth", "Messages waiting in the Celery queue.", labels=["queue"]
    )
    depth.add_metric([queue], sum(lengths))
    present = GaugeMetricFamily(
        "linkflow_beat_leader", "Whether a beat holds the leader lock (1) or none does (0)."
    )
    present.add_metric([], 1 if leader else 0)
    metrics: list[Metric] = [depth, present]
    if leader:
        info = GaugeMetricFamily(
            "linkflow_beat_leader_info", "The beat holding the leader lock.", labels=["identity"]
        )
        info.add_metric([leader.decode(errors="replace")], 1)
        metrics.append(info)
    return True, metrics


def _queue_lengths(pipe: Any, queue: str) -> None:
    """Add the LLENs whose sum is the queue's depth (one list per priority) to ``pipe``."""
    for suffix in _PRIORITY_SUFFIXES:
        pipe.llen(f"{queue}{suffix}")


def queue_depth() -> int | None:
    """Messages waiting in the Celery queue (what ``linkflow_queue_depth`` reports), or
    None when there is no Redis (embedded mode) or it cannot be read right now."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return None
    try:
        client = probe_redis(settings.REDIS_URL)
        try:
            pipe = client.pipeline(transaction=False)
            _queue_lengths(pipe, settings.CELERY_TASK_DEFAULT_QUEUE)
            return int(sum(pipe.execute()))
        finally:
            client.close()
    except Exception as exc:
        logger.warning("queue depth: redis unreadable: %r", exc)
        return None


def probe_redis(url: str) -> Any:
    """A Redis client for probes and scrapes: they must answer quickly while Redis is down,
    so short timeouts and no retries (redis-py's default retries took ~4 s to give up)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )


def _beat_lock_key() -> str:
    try:
        from linkflow.scheduler import lock_key
    except ImportError:  # no leader-elected scheduler installed
        return "linkflow:beat:leader"
    return lock_key()


_FLEET = CollectorRegistry(auto_describe=False)
_FLEET.register(FleetCollector())


def metrics_text() -> bytes:
    """The exposition text of this process's metrics and the fleet's."""
    return generate_latest(_process_registry()) + generate_latest(_FLEET)


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def worker_metrics_serve(**_: Any) -> None:
    """Celery ``worker_init``: serve this worker's process metrics on
    ``LINKFLOW_WORKER_METRICS_PORT`` (off when 0). The fleet metrics come from web."""
    from django.conf import settings
    from prometheus_client import start_http_server

    port = settings.LINKFLOW_WORKER_METRICS_PORT
    if port:
        start_http_server(port, registry=_process_registry())
        logger.info("worker metrics on port %s", port)
