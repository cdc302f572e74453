"""The worker's Redis transport keeps no broker copy of unacked messages, and sending a
message stays one LPUSH (linkflow/celery.py, linkflow/core/transactions.py)."""

from typing import Any

import redis
from django.conf import settings
from kombu.transport import virtual

from executions.tasks import run_execution
from linkflow.celery import app
from linkflow.core.transactions import _direct_queue

from ..conftest import require_services


def test_a_delivered_message_leaves_no_copy_in_redis_and_its_ack_sends_nothing() -> None:
    require_services()
    client = redis.Redis.from_url(settings.REDIS_URL)
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-transport"
    client.delete(queue, "unacked", "unacked_index")
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        assert isinstance(channel.qos, virtual.QoS)
        simple = connection.SimpleQueue(queue, no_ack=False)
        simple.put({"n": 1})
        message = simple.get(timeout=5)
        # Delivered and not acknowledged: counted in memory, nothing of it in Redis.
        assert len(channel.qos._delivered) == 1
        assert not client.exists("unacked", "unacked_index")
        message.ack()
        assert client.llen(queue) == 0
        simple.close()
    client.delete(queue)


def test_an_execution_message_is_still_sent_with_one_lpush(monkeypatch: Any) -> None:
    require_services()
    assert _direct_queue(run_execution, settings.REDIS_URL) == settings.CELERY_TASK_DEFAULT_QUEUE
