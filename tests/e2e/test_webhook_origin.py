"""Replaying the webhook-reply attack in Chromium (issue 10, section 1).

An attacker's active sync GET webhook answers text/html with a script that reads the
csrftoken cookie, lists the visitor's workspaces and mints an API key in each, and plants
a cookie (with document.cookie and, through an expression, a Set-Cookie header). A
signed-in user of another workspace opens the link. The script uses synchronous requests,
so when the page's load event has fired, whatever it could do is done: no waiting on time.
"""

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from executions.models import Execution
from linkflow.accounts.models import ApiKey, User
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import WebhookTrigger
from workflows.origin import SANDBOX_CSP
from workflows.services import workflow_create, workflow_update

from ..conftest import free_port
from ..factories import UserFactory
from .conftest import serving_web

pytestmark = pytest.mark.django_db(transaction=True)

# Every step the attacker wants; each leaves a mark in <title> as it runs.
ATTACK = """<!doctype html><html><head><title>harmless</title></head><body>
<p>Nothing to see.</p>
<script>
document.title = "script ran";
var token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
document.cookie = "planted_by_script=1; path=/";
function send(method, url, body) {
  var xhr = new XMLHttpRequest();
  xhr.open(method, url, false);  // synchronous: done before the load event
  xhr.setRequestHeader("Content-Type", "application/json");
  if (token) xhr.setRequestHeader("X-CSRFToken", token);
  xhr.send(body ? JSON.stringify(body) : null);
  return xhr;
}
var listed = JSON.parse(send("GET", "/api/v1/workspaces/").responseText);
(listed.results || listed).forEach(function (ws) {
  send("POST", "/api/v1/workspaces/" + ws.id + "/api-keys/",
       {name: "stolen", scopes: ["workflows:read", "credentials:read", "executions:read"]});
});
document.title = "script finished";
</script>
</body></html>"""
# Literal Set-Cookie is refused when the workflow is saved; computed, it is dropped at run
# time. The attacker computes it.
HEADERS = (
    "{{ {'Content-Type': 'text/html; charset=utf-8', "
    "'Set-Cookie': 'planted_by_header=1; Path=/'} }}"
)


def attacker_webhook() -> tuple[User, WebhookTrigger]:
    attacker = UserFactory.create()
    graph = {
        "nodes": [
            {
                "id": "hook",
                "type": "trigger.webhook",
                "params": {"method": "GET", "mode": "sync", "timeout_seconds": 30},
            },
            {
                "id": "answer",
                "type": "webhook.respond",
                "params": {"headers": HEADERS, "body": ATTACK},
            },
        ],
        "edges": [{"source": "hook", "target": "answer"}],
    }
    workspace = workspace_ensure_personal(user=attacker)
    workflow = workflow_create(user=attacker, workspace=workspace, name="bait", graph=graph)
    workflow_update(user=attacker, workflow=workflow, changes={"active": True})
    return attacker, WebhookTrigger.objects.get(workflow=workflow)


def cookie_names(context: Any, url: str) -> set[str]:
    return {cookie["name"] for cookie in context.cookies(url)}


def test_a_webhook_reply_cannot_mint_keys_or_set_cookies_as_a_signed_in_visitor(
    new_page, owner: User, live_server_url: str, e2e_worker: Any
):
    _, trigger = attacker_webhook()
    victim_page = new_page(owner)  # signed in, in a workspace of their own
    victim_page.goto("/workflows/")  # a UI page: the csrftoken cookie is set too
    assert cookie_names(victim_page.context, live_server_url) == {"sessionid", "csrftoken"}

    reply = victim_page.goto(f"/webhooks/{trigger.token}", wait_until="load")

    assert reply is not None and reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["content-security-policy"] == SANDBOX_CSP
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in reply.headers
    assert victim_page.title() == "harmless"  # the script never ran
    assert ApiKey.objects.count() == 0
    assert cookie_names(victim_page.context, live_server_url) == {"sessionid", "csrftoken"}
    # The visitor's own session still works: nothing was cleared either.
    assert victim_page.goto("/workflows/").status == 200


def test_with_a_webhook_origin_the_ui_session_never_reaches_the_webhook(
    owner: User, browser: Any, e2e_worker: Any
):
    """UI on 127.0.0.1, webhooks on localhost: two hosts, so host-only cookies stay apart."""
    port = free_port()
    with serving_web(
        name="webhook-origin", port=port, LINKFLOW_WEBHOOK_BASE_URL=f"http://localhost:{port}"
    ) as ui_url:
        attacker, trigger = attacker_webhook()
        shown = httpx.get(
            f"{ui_url}/api/v1/workflows/{trigger.workflow_id}/",
            headers={"Authorization": f"Bearer {_token(attacker)}"},
        ).json()["webhooks"][0]["url"]
        assert shown == f"http://localhost:{port}/webhooks/{trigger.token}"
        context = browser.new_context(base_url=ui_url)
        try:
            _sign_in(context, owner, ui_url)
            page = context.new_page()
            page.set_default_timeout(5000)
            assert page.goto("/workflows/").status == 200

            reply = page.goto(shown, wait_until="load")

            assert reply is not None and reply.status == 200
            assert reply.headers["content-security-policy"] == SANDBOX_CSP
            assert page.title() == "harmless"
            [execution] = Execution.objects.filter(workflow_id=trigger.workflow_id)
            assert "cookie" not in execution.trigger_input["headers"]
            assert ApiKey.objects.count() == 0
            assert cookie_names(context, ui_url) == {"sessionid", "csrftoken"}
            assert cookie_names(context, f"http://localhost:{port}") == set()
            # The webhook host serves no page of LinkFlow's own.
            assert page.goto(f"http://localhost:{port}/workflows/").status == 404
        finally:
            context.close()


def _token(user: User) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


def _sign_in(context: Any, user: User, url: str) -> None:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": url}])


def test_the_api_docs_render_under_the_csp_from_our_own_host(new_page, owner, live_server_url):
    page = new_page(owner)
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))

    page.goto("/api/v1/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("LinkFlow API")
    expect(page.locator(".opblock-tag").first).to_be_visible()  # the schema loaded
    assert hosts == {live_server_url.split("/")[2]}
    # new_page fails the test if the CSP refused anything on the page
