"""What a sync webhook caller does with its database connection while it waits for the
outcome: a pooled one goes back to the pool, a thread's own persistent one stays."""

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from executions.feeds import completion
from workflows.models import WebhookMode
from workflows.webhook_calls import webhook_answer

from ..conftest import require_services

pytestmark = pytest.mark.django_db(transaction=True)  # requests run outside a transaction


def answer_after(settings: Any, monkeypatch: Any, conn_max_age: float | None) -> Any:
    settings.REDIS_URL = ""  # the in-process announcement: no Redis needed
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", conn_max_age)
    connection.ensure_connection()
    before = connection.connection
    completion.completion_publish(execution_id="e1", outcome={"status": "succeeded"})
    trigger = SimpleNamespace(mode=WebhookMode.SYNC, timeout_seconds=5)
    reply = webhook_answer(trigger=trigger, execution=SimpleNamespace(pk="e1", status="queued"))
    assert reply.status == 200
    return before


def test_a_connection_given_back_after_each_request_is_closed_before_the_wait(
    settings, monkeypatch
):
    require_services()  # the SQLite test database lives in memory, which Django never closes
    answer_after(settings, monkeypatch, conn_max_age=0)

    assert connection.connection is None


def test_a_threads_own_persistent_connection_is_kept_through_the_wait(settings, monkeypatch):
    before = answer_after(settings, monkeypatch, conn_max_age=None)

    assert connection.connection is before
