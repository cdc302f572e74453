"""Rate limits: per user, API key and address, per endpoint group; 429 with Retry-After.

Windows here are an hour long (the plan's per-minute rate aside), so a test hardly ever
straddles two; every test counts under callers (fresh users and keys, random addresses)
that no other test uses.
"""

import random

import pytest
from django.test import Client
from rest_framework.test import APIClient

from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import WebhookTrigger

from .billing import on_plan
from .executing import chain, create_workflow
from .factories import PASSWORD

pytestmark = pytest.mark.django_db

NOOP = {"id": "noop", "type": "flow.noop"}


@pytest.fixture
def rates(settings):  # type: ignore[no-untyped-def]
    def set_rates(**rates: str) -> None:
        settings.LINKFLOW_RATES = {**settings.LINKFLOW_RATES, **rates}

    return set_rates


def assert_throttled(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 3600
    body = response.json()
    assert body["error"]["code"] == "throttled"
    assert body["error"]["details"] is None
    assert str(wait) in body["error"]["message"]


def some_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def test_past_the_default_rate_a_user_gets_429_with_retry_after(owner, outsider, client_for, rates):
    rates(default="3/hour")
    mine, theirs = client_for(owner), client_for(outsider)
    assert [mine.get("/api/v1/workflows/").status_code for _ in range(3)] == [200, 200, 200]

    assert_throttled(mine.get("/api/v1/workflows/"))
    assert_throttled(mine.get("/api/v1/executions/"))  # one budget for the whole group
    assert theirs.get("/api/v1/workflows/").status_code == 200


def test_execute_has_its_own_budget_apart_from_the_default_group(owner, api, rates):
    workflow_id = create_workflow(api, chain(NOOP))
    rates(default="2/hour", execute="2/hour")
    url = f"/api/v1/workflows/{workflow_id}/execute"
    assert api.get("/api/v1/workflows/").status_code == 200
    assert api.get("/api/v1/workflows/").status_code == 200
    assert_throttled(api.get("/api/v1/workflows/"))

    assert [api.post(url, {}, format="json").status_code for _ in range(2)] == [202, 202]
    assert_throttled(api.post(url, {}, format="json"))


def test_token_endpoints_are_limited_by_client_address(owner, rates):
    rates(auth="2/hour")
    address, other = some_address(), some_address()
    client = APIClient()
    body = {"email": owner.email, "password": PASSWORD}

    first = client.post("/api/v1/auth/token/", body, format="json", REMOTE_ADDR=address)
    refresh = {"refresh": first.json()["refresh"]}
    second = client.post("/api/v1/auth/token/refresh/", refresh, format="json", REMOTE_ADDR=address)
    third = client.post("/api/v1/auth/token/", body, format="json", REMOTE_ADDR=address)

    assert (first.status_code, second.status_code) == (200, 200)
    assert_throttled(third)
    assert (
        client.post("/api/v1/auth/token/", body, format="json", REMOTE_ADDR=other).status_code
        == 200
    )


def test_webhook_calls_count_against_the_execute_budget_of_their_url(owner, api, rates):
    hook = {"id": "hook", "type": "trigger.webhook", "params": {}}
    body = {"name": "hook", "graph": {"nodes": [hook], "edges": []}, "active": True}
    workflow_id = api.post("/api/v1/workflows/", body, format="json").json()["id"]
    token = WebhookTrigger.objects.get(workflow_id=workflow_id).token
    rates(execute="1/hour")
    client = Client()
    assert client.post(f"/webhooks/{token}", {}, content_type="application/json").status_code == 202

    assert_throttled(client.post(f"/webhooks/{token}", {}, content_type="application/json"))
    assert_throttled(client.post(f"/webhooks/{token}/", {}, content_type="application/json"))


def test_api_keys_count_per_key_and_against_the_plans_requests_per_minute(
    owner, client_for, billing_on
):
    workspace = on_plan(owner, api_requests_per_minute=3)
    keys = [
        api_key_create(user=owner, workspace=workspace, name=name, scopes=["workflows:read"])[1]
        for name in ("one", "two")
    ]
    one, two = APIClient(), APIClient()
    one.credentials(HTTP_AUTHORIZATION=f"Api-Key {keys[0]}")
    two.credentials(HTTP_AUTHORIZATION=f"Api-Key {keys[1]}")

    statuses = [one.get("/api/v1/workflows/").status_code for _ in range(2)]
    statuses.append(two.get("/api/v1/workflows/").status_code)

    assert statuses == [200, 200, 200]
    assert_throttled(two.get("/api/v1/workflows/"))  # the workspace's 3 a minute are used
    assert client_for(owner).get("/api/v1/workflows/").status_code == 200


def test_each_api_key_has_its_own_default_budget(owner, rates):
    rates(default="2/hour")
    workspace = workspace_ensure_personal(user=owner)
    clients = []
    for name in ("one", "two"):
        _, raw = api_key_create(
            user=owner, workspace=workspace, name=name, scopes=["workflows:read"]
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        clients.append(client)
    one, two = clients

    assert [one.get("/api/v1/workflows/").status_code for _ in range(2)] == [200, 200]
    assert_throttled(one.get("/api/v1/workflows/"))
    assert two.get("/api/v1/workflows/").status_code == 200


def test_a_redis_window_counts_each_hit_and_expires_once_after_its_period(settings):
    if not settings.REDIS_URL:
        pytest.skip("Redis windows only (embedded mode counts in the local cache)")
    from linkflow.core import throttling

    key = f"test-window:{random.getrandbits(64)}"
    counts = [throttling.window_hit(key=key, period=3600)[0] for _ in range(3)]
    client = throttling._redis()
    (name,) = client.keys(f"{throttling._KEY_PREFIX}:{key}:*")
    client.expire(name, 50)  # a later hit must not lengthen the window (EXPIRE NX)
    later = throttling.window_hit(key=key, period=3600)[0]

    assert counts == [1, 2, 3]
    assert later == 4
    assert 0 < client.ttl(name) <= 50
