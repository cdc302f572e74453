"""Calling a workflow's webhook URL: refusals, auth, the trigger item, async and sync answers.

Tests marked with `celery_worker` run the execution on a real worker (PostgreSQL + Redis);
the others only check what the endpoint answers and stores.
"""

import hashlib
import hmac
import io
import itertools
import json
import time
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import Client

from credentials.models import Credential
from credentials.services import credential_create
from executions.models import Execution
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.core.errors import LinkflowError
from workflows.models import WebhookTrigger
from workflows.services import workflow_create, workflow_update
from workflows.webhook_calls import webhook_reply_for
from workflows.webhooks import webhook_by_token

from ..executing import detail, wait_status

MB = 1024 * 1024
SECRET = "whsec-test-secret"


def webhook(
    owner: User,
    params: dict[str, Any] | None = None,
    *,
    then: tuple[dict[str, Any], ...] = (),
    credential: Credential | None = None,
    active: bool = True,
) -> WebhookTrigger:
    """An (active) workflow: a trigger.webhook node "hook", then ``then`` in a chain."""
    hook: dict[str, Any] = {"id": "hook", "type": "trigger.webhook", "params": params or {}}
    if credential is not None:
        hook["credential"] = str(credential.pk)
    nodes = [hook, *then]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(
        user=owner, workspace=workspace, name="hook", graph={"nodes": nodes, "edges": edges}
    )
    if active:
        workflow_update(user=owner, workflow=workflow, changes={"active": True})
    return WebhookTrigger.objects.select_related("workflow").get(workflow=workflow)


def auth_credential(owner: User, **fields: str) -> Credential:
    workspace = workspace_ensure_personal(user=owner)
    return credential_create(
        workspace=workspace, name="hook auth", type="webhook_auth", data=fields
    )


def call(
    client: Client,
    trigger: WebhookTrigger,
    body: bytes | str = b"",
    *,
    method: str = "POST",
    content_type: str = "application/json",
    query: str = "",
    headers: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    url = f"/webhooks/{trigger.token}{query}"
    return client.generic(method, url, body, content_type=content_type, headers=headers)


def signature(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-LinkFlow-Signature": f"t={t},v1={digest}"}


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    return response.json()["error"]


def set_node(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "data.set", "params": {"fields": fields, "keep_only": True}}


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_token_answers_404_in_the_error_shape(client):
    response = client.post("/webhooks/no-such-token", b"{}", content_type="application/json")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_wrong_method_answers_405_with_the_allowed_one(client, owner):
    trigger = webhook(owner, {"method": "PUT"})

    response = call(client, trigger, method="POST")

    assert response.status_code == 405
    assert response["Allow"] == "PUT"
    assert error_of(response)["code"] == "method_not_allowed"
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_an_inactive_workflow_answers_409(client, owner):
    trigger = webhook(owner, active=False)

    response = call(client, trigger, b"{}")

    assert response.status_code == 409
    assert error_of(response)["code"] == "workflow_inactive"
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_disabled_webhook_node_answers_404(client, owner):
    trigger = webhook(owner)
    graph = trigger.workflow.current_version.graph
    graph["nodes"][0]["disabled"] = True
    workflow_update(user=owner, workflow=trigger.workflow, changes={"graph": graph})

    response = call(client, trigger, b"{}")

    assert response.status_code == 404
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_invalid_json_answers_400_and_starts_nothing(client, owner):
    trigger = webhook(owner)

    response = call(client, trigger, b'{"broken": ')

    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"
    assert Execution.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b'{"a": "nul \\u0000"}', b'{"a": "\\ud800"}', b"[NaN]"])
def test_json_the_database_cannot_store_answers_400_not_500(client, owner, body):
    trigger = webhook(owner)

    response = call(client, trigger, body)

    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_nul_in_the_query_answers_400_not_500(client, owner):
    trigger = webhook(owner)

    response = call(client, trigger, b"{}", query="?name=a%00b")

    assert response.status_code == 400
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_body_over_10_mb_answers_413_and_starts_nothing(client, owner):
    trigger = webhook(owner)

    response = call(client, trigger, b"x" * (10 * MB + 1), content_type="text/plain")

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert error_of(response)["details"] == {"max_bytes": 10 * MB}
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_body_without_content_length_is_cut_off_after_the_limit(owner, settings):
    """Under ASGI a chunked body has no Content-Length: the read itself must stop."""
    settings.LINKFLOW_WEBHOOK_MAX_BYTES = 1000
    trigger = webhook(owner)
    stream = io.BytesIO(b"x" * 5000)
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/webhooks/{trigger.token}",
        "query_string": b"",
        "headers": [(b"content-type", b"text/plain")],
    }

    response = webhook_by_token(ASGIRequest(scope, stream), token=trigger.token)

    assert response.status_code == 413
    assert stream.tell() == 1001
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_9_mb_json_body_is_accepted(client, owner):
    trigger = webhook(owner)
    blob = "x" * (9 * MB)

    response = call(client, trigger, json.dumps({"blob": blob}))

    assert response.status_code == 202
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert execution.trigger_input["body"]["blob"] == blob


# --- auth ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_header_token_is_accepted_and_left_out_of_the_item(client, owner):
    credential = auth_credential(owner, header_name="X-Hook-Key", token="let-me-in")
    trigger = webhook(owner, {"auth": "header"}, credential=credential)

    response = call(client, trigger, b"{}", headers={"X-Hook-Key": "let-me-in"})

    assert response.status_code == 202
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert "x-hook-key" not in execution.trigger_input["headers"]


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [{"X-Webhook-Token": "wrong"}, {}])
def test_a_wrong_or_missing_header_token_answers_401(client, owner, headers):
    credential = auth_credential(owner, token="let-me-in")  # default header X-Webhook-Token
    trigger = webhook(owner, {"auth": "header"}, credential=credential)

    response = call(client, trigger, b"{}", headers=headers)

    assert response.status_code == 401
    assert error_of(response)["code"] == "webhook_auth_failed"
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_webhook_whose_credential_is_gone_answers_401(client, owner):
    credential = auth_credential(owner, token="let-me-in")
    trigger = webhook(owner, {"auth": "header"}, credential=credential)
    credential.delete()

    response = call(client, trigger, b"{}", headers={"X-Webhook-Token": "let-me-in"})

    assert response.status_code == 401
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_an_hmac_signed_call_is_accepted_and_the_signature_left_out(client, owner):
    trigger = webhook(owner, {"auth": "hmac"}, credential=auth_credential(owner, secret=SECRET))
    body = b'{"order": 7}'

    response = call(client, trigger, body, headers=signature(body))

    assert response.status_code == 202
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert execution.trigger_input["body"] == {"order": 7}
    assert "x-linkflow-signature" not in execution.trigger_input["headers"]


BAD_SIGNATURES = {
    "other-body": lambda: signature(b'{"order": 8}'),
    "other-secret": lambda: signature(b'{"order": 7}', secret="another secret"),
    "stale": lambda: signature(b'{"order": 7}', timestamp=int(time.time()) - 360),
    "future": lambda: signature(b'{"order": 7}', timestamp=int(time.time()) + 360),
    "malformed": lambda: {"X-LinkFlow-Signature": "v1=abc"},
    "missing": lambda: {},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_SIGNATURES)
def test_a_bad_hmac_signature_answers_401(client, owner, case):
    trigger = webhook(owner, {"auth": "hmac"}, credential=auth_credential(owner, secret=SECRET))

    response = call(client, trigger, b'{"order": 7}', headers=BAD_SIGNATURES[case]())

    assert response.status_code == 401
    assert error_of(response)["code"] == "webhook_auth_failed"
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_replayed_signature_answers_401(client, owner):
    trigger = webhook(owner, {"auth": "hmac"}, credential=auth_credential(owner, secret=SECRET))
    body = b'{"order": 7}'
    headers = signature(body)

    first = call(client, trigger, body, headers=headers)
    again = call(client, trigger, body, headers=headers)

    assert first.status_code == 202
    assert again.status_code == 401
    assert error_of(again)["code"] == "webhook_auth_failed"
    assert Execution.objects.count() == 1


# --- the trigger item and the addresses ----------------------------------------------------


@pytest.mark.django_db
def test_query_headers_and_a_form_body_make_the_trigger_item(client, owner):
    trigger = webhook(owner)

    response = call(
        client,
        trigger,
        "name=Ada&tag=a&tag=b",
        content_type="application/x-www-form-urlencoded",
        query="?page=2&sort=a&sort=b",
        headers={"X-Custom": "yes"},
    )

    assert response.status_code == 202
    assert response.json() == {"execution_id": response.json()["execution_id"], "status": "queued"}
    item = Execution.objects.get(pk=response.json()["execution_id"]).trigger_input
    assert item["method"] == "POST"
    assert item["path"] == f"/webhooks/{trigger.token}"
    assert item["query"] == {"page": "2", "sort": ["a", "b"]}
    assert item["headers"]["x-custom"] == "yes"
    assert item["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert item["body"] == {"name": "Ada", "tag": ["a", "b"]}


@pytest.mark.django_db
def test_a_text_body_reaches_the_item_as_text(client, owner):
    trigger = webhook(owner)

    response = call(client, trigger, "plain words", content_type="text/plain")

    item = Execution.objects.get(pk=response.json()["execution_id"]).trigger_input
    assert item["body"] == "plain words"


@pytest.mark.django_db
def test_the_execution_is_a_webhook_run_of_the_trigger_node(client, owner):
    trigger = webhook(owner, {"method": "GET"})

    response = call(client, trigger, method="GET")

    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert (execution.mode, execution.trigger_node_id) == ("webhook", "hook")
    assert execution.created_by is None
    assert execution.trigger_input["body"] == {}


@pytest.mark.django_db
def test_the_readable_path_and_the_trailing_slash_url_answer_too(client, owner):
    trigger = webhook(owner, {"path": "orders/new"})
    workspace_id = trigger.workflow.workspace_id

    by_path = client.post(f"/webhooks/w/{workspace_id}/orders/new", b"{}", "application/json")
    with_slash = client.post(f"/webhooks/{trigger.token}/", b"{}", "application/json")
    other_ws = client.post(f"/webhooks/w/{trigger.pk}/orders/new", b"{}", "application/json")

    assert (by_path.status_code, with_slash.status_code, other_ws.status_code) == (202, 202, 404)


@pytest.mark.django_db
def test_a_sync_webhook_that_gets_no_outcome_in_time_answers_504(client, owner):
    trigger = webhook(owner, {"mode": "sync", "timeout_seconds": 1})  # no worker runs it

    response = call(client, trigger, b"{}")

    assert response.status_code == 504
    error = error_of(response)
    assert error["code"] == "execution_timeout"
    assert Execution.objects.filter(workflow=trigger.workflow).exists()


def test_a_respond_status_that_is_not_a_final_http_status_is_a_bad_gateway():
    with pytest.raises(LinkflowError) as raised:
        webhook_reply_for(
            outcome={"status": "succeeded", "response": {"status": 101}}, execution_id="e"
        )

    assert (raised.value.status_code, raised.value.code) == (502, "execution_failed")


# --- end to end on a real worker -----------------------------------------------------------


def test_an_async_call_runs_the_workflow_with_the_request_as_the_trigger_item(
    celery_worker, client, owner, api
):
    credential = auth_credential(owner, token="let-me-in")
    trigger = webhook(owner, {"auth": "header"}, credential=credential, then=(set_node("tag"),))

    response = call(
        client,
        trigger,
        b'{"order": {"id": 7}}',
        query="?source=shop&x=1&x=2",
        headers={"X-Webhook-Token": "let-me-in", "X-Shop": "north"},
    )

    assert response.status_code == 202
    execution_id = response.json()["execution_id"]
    assert wait_status(execution_id) == "succeeded"
    runs = {run["node_id"]: run for run in detail(api, execution_id)["node_runs"]}
    [item] = runs["hook"]["output"]["main"]
    assert item["method"] == "POST"
    assert item["query"] == {"source": "shop", "x": ["1", "2"]}
    assert item["headers"]["x-shop"] == "north"
    assert "x-webhook-token" not in item["headers"]
    assert item["body"] == {"order": {"id": 7}}


def test_a_sync_call_answers_the_last_nodes_items(celery_worker, client, owner):
    then = (set_node("double", total="{{ json.body.n * 2 }}", source="{{ json.query.src }}"),)
    trigger = webhook(owner, {"mode": "sync", "timeout_seconds": 20}, then=then)

    response = call(client, trigger, b'{"n": 21}', query="?src=test")

    assert response.status_code == 200
    assert response.json() == {"total": 42, "source": "test"}


def test_a_sync_call_with_a_respond_node_answers_its_status_headers_and_body(
    celery_worker, client, owner
):
    respond = {
        "id": "answer",
        "type": "webhook.respond",
        "params": {
            "status": 201,
            "headers": {"X-Order": "{{ json.body.id }}"},
            "body": {"created": "{{ json.body.id }}"},
        },
    }
    trigger = webhook(owner, {"mode": "sync", "timeout_seconds": 20}, then=(respond,))

    response = call(client, trigger, b'{"id": 99}')

    assert response.status_code == 201
    assert response["X-Order"] == "99"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"created": 99}


def test_a_sync_call_whose_workflow_fails_answers_502_and_records_the_error(
    celery_worker, client, owner
):
    # A missing field reads as empty; arithmetic on it is a real error (docs/nodes.md).
    then = (set_node("broken", value="{{ json.body.missing + 1 }}"),)
    trigger = webhook(owner, {"mode": "sync", "timeout_seconds": 20}, then=then)

    response = call(client, trigger, b"{}")

    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "execution_failed"
    # The caller gets a reference (tests/workflows/test_webhook_failures.py); the details
    # are the execution's.
    (execution,) = Execution.objects.filter(workflow=trigger.workflow)
    assert execution.status == "failed"
    assert execution.error["node_id"] == "broken"
