"""A failing webhook call, replayed as the anonymous caller: the answer carries a generic
message and a reference id, never an internal URL, node, workflow or execution id, a node's
error text or why authentication failed; the web log ties the reference to the execution.
A workflow's ``webhook_error_details`` setting (off by default) answers the details too.

Tests marked with ``celery_worker`` run the execution on a real worker (PostgreSQL + Redis).
"""

import logging
import re

import pytest

from executions.models import Execution
from workflows.services import workflow_update

from ..http_server import orders_server
from .test_webhooks import auth_credential, call, error_of, webhook

REFERENCE = re.compile("^[0-9a-f]{16}$")
NODE_ID = "billing-backend-call"


def http_node(url: str) -> dict:
    return {"id": NODE_ID, "type": "http.request", "params": {"url": url}}


def logged_reference(caplog, reference: str) -> str:
    (line,) = [r.getMessage() for r in caplog.records if f"ref={reference}" in r.getMessage()]
    return line


def assert_says_nothing_internal(response, *internal: str) -> None:
    text = response.content.decode()
    for secret in internal:
        assert secret not in text, secret


def test_a_failed_sync_run_answers_502_with_a_reference_and_nothing_internal(
    celery_worker, client, owner, caplog
):
    with orders_server() as server:
        internal = f"127.0.0.1:{server.server_port}"
        trigger = webhook(
            owner,
            {"mode": "sync", "timeout_seconds": 20},
            then=(http_node(f"http://{internal}/flaky/ledger?failures=9"),),
        )
        with caplog.at_level(logging.WARNING, logger="workflows.webhook_failures"):
            response = call(client, trigger, b"{}")

    assert response.status_code == 502
    (execution,) = Execution.objects.filter(workflow=trigger.workflow)
    assert execution.status == "failed"
    assert NODE_ID in str(execution.error)  # the details live in the execution
    error = error_of(response)
    assert (error["code"], error["message"]) == (
        "execution_failed",
        "The workflow execution failed.",
    )
    assert set(error["details"]) == {"reference"}
    assert REFERENCE.match(error["details"]["reference"])
    assert_says_nothing_internal(
        response, internal, "/flaky/ledger", NODE_ID, str(execution.pk), str(trigger.workflow_id)
    )
    line = logged_reference(caplog, error["details"]["reference"])
    assert str(execution.pk) in line and str(trigger.workflow_id) in line


def test_a_workflow_that_turns_details_on_answers_them_with_the_reference(
    celery_worker, client, owner
):
    with orders_server() as server:
        trigger = webhook(
            owner,
            {"mode": "sync", "timeout_seconds": 20},
            then=(http_node(f"http://127.0.0.1:{server.server_port}/flaky/x?failures=9"),),
        )
        workflow_update(
            user=owner,
            workflow=trigger.workflow,
            changes={"settings": {"webhook_error_details": True}},
        )
        response = call(client, trigger, b"{}")

    assert response.status_code == 502
    details = error_of(response)["details"]
    (execution,) = Execution.objects.filter(workflow=trigger.workflow)
    assert details["execution_id"] == str(execution.pk)
    assert details["error"]["node_id"] == NODE_ID
    assert REFERENCE.match(details["reference"])


@pytest.mark.django_db
def test_a_sync_timeout_answers_504_without_the_execution_id(client, owner, caplog):
    trigger = webhook(owner, {"mode": "sync", "timeout_seconds": 1})  # no worker runs it

    with caplog.at_level(logging.WARNING, logger="workflows.webhook_failures"):
        response = call(client, trigger, b"{}")

    assert response.status_code == 504
    (execution,) = Execution.objects.filter(workflow=trigger.workflow)
    error = error_of(response)
    assert error["code"] == "execution_timeout"
    assert set(error["details"]) == {"reference"}
    assert_says_nothing_internal(response, str(execution.pk), str(trigger.workflow_id), "hook")
    assert str(execution.pk) in logged_reference(caplog, error["details"]["reference"])


@pytest.mark.django_db
def test_a_webhook_whose_credential_is_gone_does_not_say_so(client, owner, caplog):
    credential = auth_credential(owner, token="let-me-in")
    trigger = webhook(owner, {"auth": "header", "mode": "sync"}, credential=credential)
    credential.delete()

    with caplog.at_level(logging.WARNING, logger="workflows.webhook_failures"):
        response = call(client, trigger, b"{}", headers={"X-Webhook-Token": "let-me-in"})

    assert response.status_code == 401
    error = error_of(response)
    assert (error["code"], error["message"]) == (
        "webhook_auth_failed",
        "Webhook authentication failed.",
    )
    assert set(error["details"]) == {"reference"}
    assert_says_nothing_internal(response, "credential", str(credential.pk), "missing")
    assert "credential is missing" in logged_reference(caplog, error["details"]["reference"])
    assert Execution.objects.count() == 0


@pytest.mark.django_db
def test_a_wrong_token_gets_no_reason_but_a_refusal_about_the_call_keeps_its_details(client, owner):
    trigger = webhook(owner, {"auth": "header"}, credential=auth_credential(owner, token="t"))

    wrong = call(client, trigger, b"{}", headers={"X-Webhook-Token": "guess"})
    malformed = call(client, trigger, b"{not json", headers={"X-Webhook-Token": "t"})
    wrong_method = call(client, trigger, method="PUT")

    assert set(error_of(wrong)["details"]) == {"reference"}
    assert "token" not in wrong.content.decode().lower()
    assert error_of(malformed)["code"] == "malformed_request"
    assert "not valid JSON" in error_of(malformed)["message"]
    assert error_of(wrong_method)["details"] == {"allow": ["POST"]}


@pytest.mark.django_db
def test_the_setting_is_off_by_default_and_read_back_by_the_api(api, owner):
    trigger = webhook(owner)
    url = f"/api/v1/workflows/{trigger.workflow_id}"

    before = api.get(url).json()["settings"]["webhook_error_details"]
    changed = api.patch(url, {"settings": {"webhook_error_details": True}}, format="json")
    refused = api.patch(url, {"settings": {"webhook_error_details": "yes"}}, format="json")

    assert before is False
    assert changed.json()["settings"]["webhook_error_details"] is True
    assert refused.status_code == 400
    assert "webhook_error_details" in refused.json()["error"]["details"]["settings"]
