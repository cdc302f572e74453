"""Webhook calls take WEBHOOK_MIDDLEWARE (workflows/webhook_lane.py): their answers carry
every header the full chain gives a page, in the origin sandbox, and the host check, the
outage answer and the UI's own middlewares behave as they did."""

import uuid

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import Resolver404, get_resolver

from workflows import webhook_lane, webhooks

from .test_webhooks import call, webhook

# What SecurityMiddleware and XFrameOptionsMiddleware add to a page under the settings.
CHAIN_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def _headers(response, names):  # type: ignore[no-untyped-def]
    return {name: response.get(name) for name in names}


@pytest.mark.django_db
def test_a_webhook_answer_carries_the_chain_s_security_headers_in_the_sandbox(client, owner):
    trigger = webhook(owner)
    page = client.get("/accounts/login/")

    response = call(client, trigger, b"{}")

    assert response.status_code == 202
    assert _headers(response, CHAIN_HEADERS) == CHAIN_HEADERS
    assert _headers(page, CHAIN_HEADERS) == CHAIN_HEADERS
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert not response.cookies


@pytest.mark.django_db
def test_a_refused_webhook_call_carries_them_too(client):
    response = client.post("/webhooks/no-such-token", b"{}", "application/json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert _headers(response, CHAIN_HEADERS) == CHAIN_HEADERS
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


@pytest.mark.django_db
def test_a_webhook_call_skips_the_ui_s_middlewares(client, owner, monkeypatch):
    seen = {}
    answer = webhooks._answer

    def spy(request, find):  # type: ignore[no-untyped-def]
        seen.update(session=hasattr(request, "session"), user=hasattr(request, "user"))
        seen.update(htmx=hasattr(request, "htmx"))
        return answer(request, find)

    monkeypatch.setattr(webhooks, "_answer", spy)
    trigger = webhook(owner)

    assert call(client, trigger, b"{}").status_code == 202
    assert seen == {"session": False, "user": False, "htmx": False}


@pytest.mark.django_db
def test_a_webhook_call_to_a_host_not_allowed_answers_400(owner, settings):
    settings.ALLOWED_HOSTS = ["linkflow.example"]
    trigger = webhook(owner)

    response = Client(HTTP_HOST="evil.example").post(
        f"/webhooks/{trigger.token}", b"{}", "application/json"
    )

    assert response.status_code == 400
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


@pytest.mark.django_db
def test_a_database_outage_in_a_webhook_call_answers_503_in_the_error_shape(
    client, owner, monkeypatch
):
    trigger = webhook(owner)

    def down(**_kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("connection refused")

    monkeypatch.setattr(webhooks, "webhook_trigger_by_token", down)
    response = call(client, trigger, b"{}")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


@pytest.mark.django_db
def test_a_page_still_gets_the_session_and_the_ui_csp(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert "sandbox" not in response["Content-Security-Policy"]
    assert "csrftoken" in response.cookies


WS = uuid.uuid4()
WEBHOOK_URLS = [
    "/webhooks/tok",
    "/webhooks/tok/",
    f"/webhooks/w/{WS}/orders/new",
    f"/webhooks/w/{WS}/orders/",
    "/webhooks/test/tok",
    "/webhooks/test/tok/",
    f"/webhooks/test/w/{WS}/orders",
]


@pytest.mark.parametrize("url", WEBHOOK_URLS)
def test_the_lane_resolves_a_webhook_url_as_the_root_url_conf_does(url):
    root = get_resolver().resolve(url)

    lane = webhook_lane._webhook_resolver().resolve(url)

    assert (lane.func, lane.args, lane.kwargs, lane.url_name) == (
        root.func,
        root.args,
        root.kwargs,
        root.url_name,
    )


@pytest.mark.parametrize("url", ["/webhooks/a/b", "/webhooks/", "/webhooks/w/not-a-uuid/x"])
def test_the_lane_finds_no_route_where_the_root_finds_none(url):
    with pytest.raises(Resolver404):
        get_resolver().resolve(url)
    with pytest.raises(Resolver404):
        webhook_lane._webhook_resolver().resolve(url)
