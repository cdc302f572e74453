"""The Celery application shared by the worker, the beat and the embedded mode."""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")

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


# Connected by a call, not as a decorator: celery ships no types, so its decorator would
# leave the function untyped for mypy.
worker_init.connect(_persistent_worker_connections)
