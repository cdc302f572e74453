"""With PostgreSQL or Redis unreachable, LinkFlow answers 503 in the error shape, never 500.

Outages are real: the tests point LinkFlow at a local port nothing listens on, instead of
stopping the shared services.
"""

import socket
from collections.abc import Iterator

import pytest
import redis
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client, RequestFactory
from rest_framework.test import APIClient, force_authenticate

from linkflow.accounts.models import User
from linkflow.core import health
from linkflow.core.api import exception_handler
from linkflow.core.metrics import probe_redis
from workflows.api.views import WorkflowViewSet
from workflows.models import Workflow

from .conftest import require_services
from .workflows.test_webhooks import webhook

OUTAGE = {
    "code": "service_unavailable",
    "message": "A service LinkFlow depends on is unavailable; try again shortly.",
    "details": None,
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _forget_redis_clients() -> None:
    # Modules keep one Redis client per process, made from REDIS_URL on first use.
    from executions.feeds import completion
    from linkflow.core import throttling

    completion._redis.cache_clear()
    throttling._redis.cache_clear()


@pytest.fixture
def redis_down(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Every Redis use (rate limits, cache, completion notices) goes to a closed port."""
    require_services()
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    _forget_redis_clients()
    yield url
    _forget_redis_clients()


@pytest.fixture
def database_down(django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The default database alias points at a closed port (no test database is used)."""
    require_services()
    real = connections["default"]
    down = DatabaseWrapper(
        {**real.settings_dict, "HOST": "127.0.0.1", "PORT": closed_port(), "CONN_MAX_AGE": 0},
        alias="default",
    )
    connections["default"] = down
    try:
        with django_db_blocker.unblock():
            yield
    finally:
        down.close()
        connections["default"] = real


def test_api_answers_503_when_redis_is_down_and_changes_nothing(
    db: None, api: APIClient, redis_down: str
) -> None:
    before = Workflow.objects.count()

    response = api.post("/api/v1/workflows/", {"name": "w", "graph": {}}, format="json")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"error": OUTAGE}
    assert Workflow.objects.count() == before


def test_webhook_answers_503_when_redis_is_down_and_starts_nothing(
    db: None, owner: User, redis_down: str
) -> None:
    trigger = webhook(owner)

    response = Client().post(f"/webhooks/{trigger.token}", {}, content_type="application/json")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"error": OUTAGE}
    assert not trigger.workflow.executions.exists()


def test_api_answers_503_when_the_database_is_down(database_down: None) -> None:
    request = RequestFactory().get("/api/v1/workflows/")
    force_authenticate(request, user=User(email="someone@example.com"))

    response = WorkflowViewSet.as_view({"get": "list"})(request)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.data == {"error": OUTAGE}


def test_plain_views_answer_503_when_the_database_is_down(database_down: None) -> None:
    response = Client().post("/webhooks/no-such-token", {"a": 1}, content_type="application/json")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"error": OUTAGE}


def test_readyz_names_the_database_when_it_is_down(database_down: None) -> None:
    response = health.readyz(RequestFactory().get("/readyz"))

    assert response.status_code == 503
    assert b'"failed": ["database"]' in response.content


def test_a_redis_connection_error_is_a_503_in_the_api_handler() -> None:
    client = probe_redis(f"redis://127.0.0.1:{closed_port()}/0")
    with pytest.raises(redis.exceptions.ConnectionError) as raised:
        client.ping()

    response = exception_handler(raised.value, {"view": None})

    assert response.status_code == 503
    assert response.data == {"error": OUTAGE}
