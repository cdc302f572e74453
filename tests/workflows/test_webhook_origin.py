"""What a workflow answers to a webhook caller cannot act on LinkFlow's own origin.

Every answer under /webhooks/ (reply, error, 404) is sandboxed and sets no cookie, a
request for a service worker is refused, the headers a reply may carry are an allowlist
(refused at save when literal, dropped at run time when computed), and
LINKFLOW_WEBHOOK_BASE_URL moves webhooks to a host that serves nothing else.
The browser replay of the attack is tests/e2e/test_webhook_origin.py.
"""

from typing import Any

import pytest
from django.test import Client

from executions.models import Execution, NodeRun
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.core.checks import check_webhook_origin
from workflows.models import Workflow
from workflows.origin import SANDBOX_CSP

from .test_webhooks import call, error_of, webhook

HOOKS_HOST = "hooks.testserver"


def assert_sandboxed(response: Any) -> None:
    assert response["Content-Security-Policy"] == SANDBOX_CSP
    assert response["X-Content-Type-Options"] == "nosniff"
    assert not response.cookies
    assert not response.has_header("Set-Cookie")


def respond_node(**params: Any) -> dict[str, Any]:
    return {"id": "answer", "type": "webhook.respond", "params": params}


def graph_with(respond: dict[str, Any]) -> dict[str, Any]:
    hook = {"id": "hook", "type": "trigger.webhook", "params": {"mode": "sync"}}
    return {"nodes": [hook, respond], "edges": [{"source": "hook", "target": "answer"}]}


# --- the allowlist at save -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "Set-Cookie",
        "Location",
        "Link",
        "Refresh",
        "Clear-Site-Data",
        "Content-Security-Policy",
        "Strict-Transport-Security",
        "Access-Control-Allow-Origin",
        "X-Frame-Options",
    ],
)
def test_saving_a_reply_with_a_forbidden_header_answers_400_naming_node_and_field(api, name):
    graph = graph_with(respond_node(headers={name: "x", "X-Fine": "1"}))

    response = api.post("/api/v1/workflows/", {"name": "w", "graph": graph}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "workflow_graph_invalid"
    problems = [(p["node_id"], p["field"]) for p in error["details"]["problems"]]
    assert problems == [("answer", f"params.headers.{name}")]
    assert Workflow.objects.count() == 0


@pytest.mark.django_db
def test_saving_a_reply_with_allowlisted_headers_is_accepted(api):
    headers = {
        "Content-Type": "text/csv",
        "Cache-Control": "no-store",
        "Content-Disposition": 'attachment; filename="a.csv"',
        "X-Order-Id": "{{ json.body.id }}",
    }
    graph = graph_with(respond_node(headers=headers))

    response = api.post("/api/v1/workflows/", {"name": "w", "graph": graph}, format="json")

    assert response.status_code == 201
    assert response.json()["graph"]["nodes"][1]["params"]["headers"] == headers


# --- every answer is sandboxed -------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_token_404_is_sandboxed(client):
    response = client.get("/webhooks/no-such-token")

    assert response.status_code == 404
    assert_sandboxed(response)


@pytest.mark.django_db
def test_a_webhook_path_no_route_matches_404_is_sandboxed(client):
    response = client.get("/webhooks/w/not-a-uuid/orders")

    assert response.status_code == 404
    assert_sandboxed(response)


@pytest.mark.django_db
def test_error_answers_are_sandboxed(client, owner):
    put_only = webhook(owner, {"method": "PUT"})
    inactive = webhook(owner, {"path": "off"}, active=False)

    wrong_method = call(client, put_only, method="POST")
    not_active = call(client, inactive, b"{}")
    bad_json = call(client, webhook(owner, {"path": "json"}), b"{nope")

    assert (wrong_method.status_code, not_active.status_code, bad_json.status_code) == (
        405,
        409,
        400,
    )
    for response in (wrong_method, not_active, bad_json):
        assert_sandboxed(response)


@pytest.mark.django_db
def test_an_async_answer_is_sandboxed(client, owner):
    response = call(client, webhook(owner), b"{}")

    assert response.status_code == 202
    assert_sandboxed(response)


@pytest.mark.django_db
def test_a_request_for_a_service_worker_is_refused_and_starts_nothing(client, owner):
    trigger = webhook(owner, {"method": "GET"})

    response = call(client, trigger, method="GET", headers={"Service-Worker": "script"})

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert_sandboxed(response)
    assert Execution.objects.count() == 0


def test_a_sync_reply_keeps_allowlisted_headers_drops_computed_forbidden_ones_and_notes_it(
    celery_worker, client, owner
):
    computed = (
        "{{ {'Content-Type': 'text/html; charset=utf-8', 'X-Order-Id': json.query.id, "
        "'Cache-Control': 'no-store', 'Set-Cookie': 'sessionid=planted; Path=/', "
        "'Location': 'https://evil.example/', 'Content-Security-Policy': 'script-src *', "
        "'Access-Control-Allow-Origin': '*'} }}"
    )
    page = "<script>document.cookie='x=1'</script>"
    respond = respond_node(headers=computed, body=page)
    trigger = webhook(
        owner, {"method": "GET", "mode": "sync", "timeout_seconds": 20}, then=(respond,)
    )

    response = call(client, trigger, method="GET", query="?id=7")

    assert response.status_code == 200
    assert response.content.decode() == page
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert (response["X-Order-Id"], response["Cache-Control"]) == ("7", "no-store")
    assert_sandboxed(response)  # the workflow's own CSP did not replace the sandbox
    assert not response.has_header("Location")
    assert not response.has_header("Access-Control-Allow-Origin")
    note = NodeRun.objects.get(node_id="answer").error
    assert note["warning"] is True
    for name in (
        "Set-Cookie",
        "Location",
        "Content-Security-Policy",
        "Access-Control-Allow-Origin",
    ):
        assert f"'{name}'" in note["message"]


def test_a_failed_sync_execution_answer_is_sandboxed(celery_worker, client, owner):
    broken = {"id": "broken", "type": "data.set", "params": {"fields": {"v": "{{ json.a + 1 }}"}}}
    trigger = webhook(owner, {"mode": "sync", "timeout_seconds": 20}, then=(broken,))

    response = call(client, trigger, b"{}")

    assert response.status_code == 502
    assert_sandboxed(response)


# --- a separate webhook origin -------------------------------------------------------------


@pytest.fixture
def webhook_origin(settings: Any) -> str:
    settings.LINKFLOW_WEBHOOK_BASE_URL = f"https://{HOOKS_HOST}"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOOKS_HOST]
    return settings.LINKFLOW_WEBHOOK_BASE_URL


@pytest.mark.django_db
def test_webhook_urls_in_the_api_use_the_webhook_origin(api, owner, webhook_origin):
    trigger = webhook(owner, {"path": "orders"})

    response = api.get(f"/api/v1/workflows/{trigger.workflow_id}/")

    [hook] = response.json()["webhooks"]
    assert hook["url"] == f"{webhook_origin}/webhooks/{trigger.token}"
    workspace = workspace_ensure_personal(user=owner)
    assert hook["path_url"] == f"{webhook_origin}/webhooks/w/{workspace.pk}/orders"


@pytest.mark.django_db
def test_the_webhook_urls_on_the_workflow_page_use_the_webhook_origin(owner, webhook_origin):
    trigger = webhook(owner)
    client = Client()
    client.force_login(owner)

    page = client.get(f"/workflows/{trigger.workflow_id}/")

    assert f"{webhook_origin}/webhooks/{trigger.token}" in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/workflows/", "/api/v1/workflows/", "/admin/", "/static/linkflow/app.js"]
)
def test_the_webhook_host_serves_nothing_but_webhooks(owner, webhook_origin, path):
    client = Client()
    client.force_login(owner)  # even a session cookie sent there opens nothing

    response = client.get(path, HTTP_HOST=HOOKS_HOST)

    assert response.status_code == 404
    assert_sandboxed(response)


@pytest.mark.django_db
def test_the_webhook_host_answers_webhooks_and_the_ui_host_still_does(
    client, owner, webhook_origin
):
    trigger = webhook(owner)

    on_hooks = client.post(
        f"/webhooks/{trigger.token}", b"{}", content_type="application/json", HTTP_HOST=HOOKS_HOST
    )
    on_ui = call(client, trigger, b"{}")

    assert (on_hooks.status_code, on_ui.status_code) == (202, 202)
    assert_sandboxed(on_hooks)
    assert_sandboxed(on_ui)


@pytest.mark.django_db
def test_a_malformed_host_is_refused_with_400_not_a_500(webhook_origin):
    response = Client().get("/workflows/", HTTP_HOST="[bad")

    assert response.status_code == 400


def test_a_webhook_origin_on_the_ui_host_fails_the_checks(settings):
    settings.LINKFLOW_PUBLIC_URL = "https://linkflow.example.com"
    settings.LINKFLOW_WEBHOOK_BASE_URL = "https://linkflow.example.com:8443"

    assert [message.id for message in check_webhook_origin()] == ["linkflow.E003"]


def test_a_webhook_origin_on_another_host_passes_the_checks(settings):
    settings.LINKFLOW_PUBLIC_URL = "https://linkflow.example.com"
    settings.LINKFLOW_WEBHOOK_BASE_URL = "https://hooks.example.net"

    assert check_webhook_origin() == []


# --- the UI's cookies ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_ui_cookies_are_host_only_and_the_csrf_cookie_is_httponly(owner):
    owner.set_password("a long and decent passphrase")
    owner.save(update_fields=["password"])
    client = Client()
    client.get("/accounts/login/")
    signed_in = client.post(
        "/accounts/login/", {"username": owner.email, "password": "a long and decent passphrase"}
    )

    assert signed_in.status_code == 302
    csrf, session = client.cookies["csrftoken"], client.cookies["sessionid"]
    assert csrf["httponly"] is True
    assert session["httponly"] is True
    assert (csrf["domain"], session["domain"]) == ("", "")
