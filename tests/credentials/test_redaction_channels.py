"""Redaction follows a secret out of the NodeRuns: a sync webhook's answer, a dead letter
and the log record of the failure that made it, in every derived form (tests/leaks.py)."""

import gc
import io
import logging

import pytest

from credentials.handoff import secrets_seal
from credentials.services import credential_create
from executions import services
from executions.models import DeadLetter, Execution
from executions.tasks import run_execution
from linkflow.accounts.services import workspace_ensure_personal

from ..executing import (
    chain,
    create_workflow,
    execute,
    personal_workflow,
    recorded_execution,
    wait_status,
)
from ..http_server import headers_echo_server
from ..leaks import COPY_FORMS_CODE, SECRET, forms_of, leaks
from ..workflows.test_webhooks import call, webhook


def header_credential(owner):
    return credential_create(
        workspace=workspace_ensure_personal(user=owner),
        name="echoed",
        type="http_header",
        data={"name": "X-Api-Key", "value": SECRET},
    )


@pytest.mark.django_db(transaction=True)
def test_a_sync_webhook_answer_never_echoes_a_secret_in_any_form(celery_worker, client, api, owner):
    # The worker is up before the webhook waits (a cold start may outlast the wait).
    warm_up = execute(api, create_workflow(api, chain({"id": "n", "type": "flow.noop"})))
    assert wait_status(warm_up, timeout=60) == "succeeded"
    credential = header_credential(owner)
    with headers_echo_server() as url:
        respond = {
            "id": "answer",
            "type": "webhook.respond",
            "params": {
                "status": 200,
                "headers": {"X-Echo": "{{ json.b64 }}"},
                "body": "{{ json }}",
            },
        }
        trigger = webhook(
            owner,
            {"mode": "sync", "timeout_seconds": 20},
            then=(
                {
                    "id": "call",
                    "type": "http.request",
                    "params": {"url": url},
                    "credential": str(credential.pk),
                },
                {"id": "copy", "type": "code.python", "params": {"code": COPY_FORMS_CODE}},
                respond,
            ),
        )
        response = call(client, trigger, b"{}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(forms_of()) <= set(body)  # every form came back, each redacted
    assert leaks(body) == []
    assert leaks(response["X-Echo"]) == []
    assert leaks(response.content.decode()) == []


class Crash(RuntimeError):
    """A library failing with the secret in its message, outside any node."""


@pytest.fixture
def crashing_run(monkeypatch):
    """execution_run's graph run raises a Crash quoting each form of the secret, after
    its nodes ran (so the run's resolver has handed the secret out, if it uses one)."""
    real = services.run_graph

    def run_graph(graph, **kwargs):
        real(graph, **kwargs)
        raise Crash(f"could not store {sorted(forms_of().values())}")

    monkeypatch.setattr(services, "run_graph", run_graph)


@pytest.fixture
def console_log():
    """What the configured console handler (with its redaction filter) writes."""
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def queued(owner, graph) -> str:
    """A queued execution of ``graph`` that no worker was sent (the test runs it)."""
    return str(recorded_execution(personal_workflow(owner, "w", graph), status="queued").pk)


def crash(execution_id: str) -> DeadLetter:
    run_execution.apply(args=[execution_id])  # Celery's own tracer, failure signal and log
    assert Execution.objects.get(pk=execution_id).error["code"] == "internal_error"
    return DeadLetter.objects.get(execution_id=execution_id)


@pytest.mark.django_db(transaction=True)
def test_a_dead_letter_and_its_log_record_hold_no_secret_the_run_used(
    owner, crashing_run, console_log
):
    credential = header_credential(owner)
    with headers_echo_server() as url:
        graph = chain(
            {
                "id": "call",
                "type": "http.request",
                "params": {"url": url},
                "credential": str(credential.pk),
            }
        )
        dead_letter = crash(queued(owner, graph))

    assert "Crash: could not store" in dead_letter.error
    assert "Crash" in dead_letter.traceback
    assert leaks([dead_letter.error, dead_letter.traceback, dead_letter.args]) == []
    logged = console_log.getvalue()
    assert "raised unexpected" in logged and "Crash" in logged
    assert leaks(logged) == []


@pytest.mark.django_db(transaction=True)
def test_a_sub_workflow_crashing_elsewhere_keeps_its_inherited_secrets_out_of_dead_letters(
    owner, crashing_run, console_log
):
    # A child handed the secret by a parent that ran in another process: only the set it
    # inherited (encrypted on its row) knows the secret here.
    execution_id = queued(owner, chain({"id": "n", "type": "flow.noop"}))
    Execution.objects.filter(pk=execution_id).update(
        mode="subworkflow", inherited_secrets=secrets_seal(secrets=[SECRET])
    )
    gc.collect()

    dead_letter = crash(execution_id)

    assert "Crash: could not store" in dead_letter.error
    assert leaks([dead_letter.error, dead_letter.traceback]) == []
    assert "Crash" in console_log.getvalue()
    assert leaks(console_log.getvalue()) == []
