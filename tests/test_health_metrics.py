"""Probes (/healthz, /readyz) and Prometheus metrics (/metrics)."""

import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from executions.maintenance.dead_letters import dead_letter_record
from executions.models import Execution
from executions.services import execution_run
from linkflow.accounts.models import User
from linkflow.core import metrics
from linkflow.scheduler import lock_key

from .conftest import require_services
from .executing import chain, create_workflow, execute, personal_workflow, recorded_execution

SET = {"id": "set", "type": "data.set", "params": {"fields": {"ok": True}}}


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def samples(client: Client, **headers: str) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def private_queue(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A queue and a beat lock key of this test alone, removed afterwards."""
    require_services()
    settings.CELERY_TASK_DEFAULT_QUEUE = f"linkflow-metrics-{uuid.uuid4().hex}"
    settings.LINKFLOW_BEAT_LOCK_KEY = f"linkflow:beat:leader:metrics-{uuid.uuid4().hex}"
    yield settings.CELERY_TASK_DEFAULT_QUEUE
    redis.Redis.from_url(settings.REDIS_URL).delete(
        settings.CELERY_TASK_DEFAULT_QUEUE, settings.LINKFLOW_BEAT_LOCK_KEY
    )


@pytest.fixture(autouse=True)
def metrics_open(settings) -> None:  # type: ignore[no-untyped-def]
    """The suite runs with service URLs and DEBUG off, i.e. production, where /metrics
    needs a token; the tests of what it reports read it as the embedded mode does. The
    tests of the gate itself set LINKFLOW_PRODUCTION back."""
    settings.LINKFLOW_PRODUCTION = False


def test_healthz_answers_ok_without_touching_any_service(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_database_and_redis_answer(db: None, client: Client) -> None:
    require_services()

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_is_503_naming_redis_when_redis_is_unreachable(
    db: None, client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    require_services()
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "error": {
            "code": "service_unavailable",
            "message": "LinkFlow is not ready to serve.",
            "details": {
                "failed": ["redis"],
                "checks": {"database": "ok", "redis": "unavailable"},
            },
        }
    }


def test_metrics_report_executions_queue_dead_letters_and_beat_leader(
    db: None, client: Client, api: APIClient, private_queue: str
) -> None:
    # given one succeeded and one queued execution, a pending dead letter, three queued
    # messages and a beat holding the leader lock
    workflow_id = create_workflow(api, chain(SET))
    ran, queued = execute(api, workflow_id), execute(api, workflow_id)
    assert execution_run(execution_id=ran) == "succeeded"  # in this process: observed here
    dead_letter_record(task_name="executions.resume_due", args=[], kwargs={}, error="E: x")
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.rpush(private_queue, "m1", "m2", "m3")
    broker.set(lock_key(), "beat-host:123:abc")

    found = samples(client)

    assert Execution.objects.get(pk=queued).status == "queued"
    assert found[("linkflow_executions", (("status", "succeeded"),))] == 1
    assert found[("linkflow_executions", (("status", "queued"),))] == 1
    assert found[("linkflow_executions", (("status", "running"),))] == 0
    assert found[("linkflow_executions_stale", ())] == 0
    assert found[("linkflow_executions_waiting_overdue", ())] == 0
    assert found[("linkflow_dead_letters_pending", ())] == 1
    assert found[("linkflow_queue_depth", (("queue", private_queue),))] == 3
    assert found[("linkflow_beat_leader", ())] == 1
    assert found[("linkflow_beat_leader_info", (("identity", "beat-host:123:abc"),))] == 1
    assert found[("linkflow_up", (("service", "database"),))] == 1
    assert found[("linkflow_up", (("service", "redis"),))] == 1
    assert found[("linkflow_node_duration_seconds_count", (("node_type", "data.set"),))] >= 1


def test_stale_and_overdue_gauges_count_such_executions_and_drop_once_they_recover(
    db: None, client: Client, owner: User, settings
) -> None:  # type: ignore[no-untyped-def]
    # given, beside a look-alike of each that is fine, a running execution whose lease
    # expired, a queued one dispatched past the grace, and a wait two minutes past its time
    settings.LINKFLOW_QUEUED_GRACE_SECONDS = 60
    workflow = personal_workflow(owner, "w")
    now = timezone.now()

    def row(status: str, **fields: object) -> Execution:
        execution = recorded_execution(workflow, status=status)
        Execution.objects.filter(pk=execution.pk).update(**fields)
        return execution

    expired = row("running", lease_expires_at=now - timedelta(seconds=1))
    row("running", lease_expires_at=now + timedelta(minutes=1))
    lost = row("queued", dispatched_at=now - timedelta(minutes=5))
    row("queued", dispatched_at=now - timedelta(seconds=10))
    row("pending", queued_at=now - timedelta(minutes=5))  # holds no message to lose
    overdue = row("waiting", resume_at=now - timedelta(minutes=2))
    row("waiting", resume_at=now - timedelta(seconds=10))  # late, but within the minute
    row("waiting", resume_at=now + timedelta(minutes=5))

    found = samples(client)

    assert found[("linkflow_executions_stale", ())] == 2
    assert found[("linkflow_executions_waiting_overdue", ())] == 1

    # when a worker takes the lease over, the lost message is sent again and the wait wakes
    Execution.objects.filter(pk=expired.pk).update(lease_expires_at=now + timedelta(minutes=1))
    Execution.objects.filter(pk=lost.pk).update(dispatched_at=timezone.now())
    Execution.objects.filter(pk=overdue.pk).update(status="pending", resume_at=None)

    found = samples(client)

    assert found[("linkflow_executions_stale", ())] == 0
    assert found[("linkflow_executions_waiting_overdue", ())] == 0


def test_node_durations_are_observed_by_node_type(db: None, client: Client) -> None:
    key = ("linkflow_node_duration_seconds_count", (("node_type", "test.kind"),))
    before = samples(client).get(key, 0)

    metrics.node_observed(node_type="test.kind", seconds=0.2)
    metrics.node_observed(node_type="test.kind", seconds=0.3)

    found = samples(client)
    assert found[key] == before + 2
    le = ("linkflow_node_duration_seconds_bucket", (("le", "0.25"), ("node_type", "test.kind")))
    assert found[le] >= 1


def test_websocket_gauge_follows_connects_and_disconnects(db: None, client: Client) -> None:
    before = samples(client)[("linkflow_websocket_connections", ())]

    metrics.websocket_connected()
    metrics.websocket_connected()
    metrics.websocket_disconnected()

    assert samples(client)[("linkflow_websocket_connections", ())] == before + 1
    metrics.websocket_disconnected()


def test_metrics_report_redis_down_instead_of_failing(db: None, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    require_services()
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    found = samples(client)

    assert found[("linkflow_up", (("service", "redis"),))] == 0
    assert found[("linkflow_up", (("service", "database"),))] == 1
    assert not any(name == "linkflow_queue_depth" for name, _ in found)


def test_metrics_token_is_required_when_configured(db: None, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LINKFLOW_METRICS_TOKEN = "metrics-secret"

    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})

    for response in (missing, wrong):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "not_authenticated"
    assert ("linkflow_up", (("service", "database"),)) in samples(
        client, Authorization="Bearer metrics-secret"
    )


def test_production_without_a_metrics_token_does_not_publish_metrics(
    db: None, client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.LINKFLOW_PRODUCTION = True
    settings.LINKFLOW_METRICS_TOKEN = ""

    response = client.get("/metrics")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert b"linkflow_" not in response.content


def test_production_with_a_metrics_token_serves_them_to_its_bearer_only(
    db: None, client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.LINKFLOW_PRODUCTION = True
    settings.LINKFLOW_METRICS_TOKEN = "metrics-secret"

    assert client.get("/metrics").status_code == 401
    assert ("linkflow_up", (("service", "database"),)) in samples(
        client, Authorization="Bearer metrics-secret"
    )


def test_the_embedded_mode_serves_metrics_without_a_token(
    db: None, client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.LINKFLOW_PRODUCTION = False
    settings.LINKFLOW_METRICS_TOKEN = ""

    assert ("linkflow_up", (("service", "database"),)) in samples(client)
