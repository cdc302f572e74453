"""The embedded mode: a Celery worker and the beat scheduler inside the web process.

They run the same task code as the distributed roles; only the transport differs (kombu's
in-memory broker, shared by the threads of this one process).
"""

import logging
import threading

from celery.beat import EmbeddedService
from celery.worker import WorkController
from django.conf import settings

from linkflow.celery import app

logger = logging.getLogger(__name__)


def start_worker() -> WorkController:
    """Start a thread-pool worker on a background thread and return it once it consumes."""
    ready = threading.Event()

    # celery ships no types, so its class is Any to mypy.
    class _Worker(WorkController):  # type: ignore[misc]
        def on_consumer_ready(self, consumer: object) -> None:
            ready.set()

    worker = _Worker(
        app=app,
        hostname="embedded@linkflow",
        pool="threads",
        concurrency=settings.LINKFLOW_EMBEDDED_WORKER_CONCURRENCY,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    threading.Thread(target=worker.start, name="embedded-worker", daemon=True).start()
    if not ready.wait(timeout=30):
        raise RuntimeError("the embedded worker did not start within 30 seconds")
    logger.info("embedded worker consuming from %s", settings.CELERY_TASK_DEFAULT_QUEUE)
    return worker


def start_scheduler() -> None:
    """Start the beat scheduler (database schedule) on a background thread."""
    beat = EmbeddedService(app, thread=True, scheduler_cls=settings.CELERY_BEAT_SCHEDULER)
    beat.start()
    logger.info("embedded scheduler started")
