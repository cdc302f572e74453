"""A worker's kept database connection is not tested before every task (no SELECT 1 per
execution); one that broke meanwhile is replaced by the run that finds it broken."""

import psycopg
import pytest
from django.db import OperationalError, connection

from executions.running.reconnect import run_reconnecting
from executions.tasks import run_execution
from linkflow.celery import _persistent_worker_connections

from ..conftest import database_url
from ..executing import chain, personal_workflow, queued

STEP = {"id": "a", "type": "data.set", "params": {"fields": {"which": "a"}}}


@pytest.fixture
def kept_connection():
    """The worker's connection settings (linkflow/celery.py): one connection kept across
    tasks, no pool, no health check."""
    database = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the worker keeps its connection in place of PostgreSQL's pool")
    saved = dict(database), dict(database.get("OPTIONS", {}))
    connection.close()
    # As production has it; the worker replaces the pool (settings.DATABASES is the dict
    # the connection reads).
    database.setdefault("OPTIONS", {})["pool"] = True
    _persistent_worker_connections()
    assert connection.settings_dict["CONN_MAX_AGE"] is None
    yield
    connection.close()
    database.update(saved[0])
    database["OPTIONS"] = saved[1]


@pytest.mark.django_db(transaction=True)
def test_a_run_on_a_terminated_connection_reconnects_and_runs(owner, kept_connection):
    execution = queued(personal_workflow(owner, "w", chain(STEP)))
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    # What a database restart or an idle timeout does to the kept connection.
    with psycopg.connect(database_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])

    run_execution(str(execution.pk))

    execution.refresh_from_db()
    assert execution.status == "succeeded"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != backend


@pytest.mark.django_db(transaction=True)
def test_a_task_on_a_healthy_kept_connection_sends_no_health_check(
    owner, kept_connection, monkeypatch
):
    execution = queued(personal_workflow(owner, "w", chain(STEP)))
    connection.ensure_connection()
    checks = []
    # Django's health check (is_usable: a SELECT 1 on the raw connection, out of sight of
    # query capture).
    real = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or real())

    run_execution(str(execution.pk))

    execution.refresh_from_db()
    assert execution.status == "succeeded"
    assert checks == []


@pytest.mark.django_db
def test_a_failing_statement_on_a_working_connection_is_not_tried_again():
    calls = []

    def failing(*, execution_id):
        calls.append(execution_id)
        raise OperationalError("canceling statement due to statement timeout")

    connection.ensure_connection()
    with pytest.raises(OperationalError):
        run_reconnecting(failing, execution_id="x")
    assert calls == ["x"]
