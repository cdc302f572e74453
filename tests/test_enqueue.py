"""The one-LPUSH enqueue (linkflow/core/transactions.py) sends what Celery sends."""

import json
from typing import Any

import pytest
import redis
from django.conf import settings

from executions.tasks import run_execution
from linkflow.core import transactions
from linkflow.core.transactions import task_send

from .conftest import require_services

# Fresh per message; everything else must be the very message apply_async writes.
_PER_MESSAGE = {
    "headers": ("id", "root_id", "origin"),
    "properties": ("correlation_id", "delivery_tag"),
}


def _without_ids(message: dict[str, Any]) -> dict[str, Any]:
    for part, names in _PER_MESSAGE.items():
        for name in names:
            message[part].pop(name)
    return message


@pytest.fixture
def queue() -> Any:
    require_services()
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = settings.CELERY_TASK_DEFAULT_QUEUE
    client.delete(name)
    yield client, name
    client.delete(name)


def test_task_send_writes_the_message_apply_async_writes(queue: Any) -> None:
    # given the queue a worker consumes
    client, name = queue
    # when one message goes through Celery and one through the single LPUSH
    run_execution.apply_async(args=("3f1c0000-0000-0000-0000-000000000001",))
    task_send(run_execution, args=("3f1c0000-0000-0000-0000-000000000001",), kwargs={})
    # then both are in the queue and differ only in their fresh ids
    celery_sent, ours = (json.loads(raw) for raw in client.lrange(name, 0, -1))
    assert ours["headers"]["id"] == ours["properties"]["correlation_id"]
    assert ours["headers"]["id"] != celery_sent["headers"]["id"]
    assert _without_ids(ours) == _without_ids(celery_sent)


@pytest.fixture
def conf_changes() -> Any:
    # Celery's configuration is fixed in a running process, so task_send keeps what it
    # decided per task; a test that changes the configuration starts and ends afresh.
    transactions._direct_queue.cache_clear()
    yield
    transactions._direct_queue.cache_clear()


def test_task_send_leaves_a_routed_task_to_celery(
    queue: Any, monkeypatch: Any, conf_changes: None
) -> None:
    # given a route for the task: only Celery's router knows where its messages go
    client, name = queue
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setitem(run_execution.app.conf, "task_routes", {"executions.run": {"queue": "q"}})
    monkeypatch.setattr(run_execution, "apply_async", lambda args, kwargs: sent.append(args))
    # when it is sent
    task_send(run_execution, args=("x",), kwargs={})
    # then apply_async sent it, and nothing was pushed past Celery
    assert sent == [("x",)]
    assert client.llen(name) == 0
