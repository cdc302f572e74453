"""Secret values a node used never reach stored NodeRuns or the logs."""

import gc
import io
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from credentials.crypto import keys_changed
from credentials.handoff import secrets_seal, secrets_unseal
from credentials.redaction import (
    REDACTED,
    SecretFilter,
    active_secrets,
    derived_forms,
    execution_secrets,
    redact,
)
from credentials.services import credential_create, credential_resolver
from executions.models import Execution, NodeRun
from linkflow.accounts.services import workspace_ensure_personal

from ..executing import (
    chain,
    create_workflow,
    detail,
    execute,
    personal_workflow,
    recorded_execution,
    wait_status,
)
from ..leaks import SECRET, forms_of, leaks

TOKEN = "s3cr3t-bearer-token-42"


def test_redact_replaces_secrets_at_any_depth_and_in_keys():
    data = {
        "headers": {"authorization": f"Bearer {TOKEN}"},
        "items": [TOKEN, 42, None, {TOKEN: ["x", f"a{TOKEN}b"]}],
        "other": "nothing here",
    }

    assert redact(data, [TOKEN]) == {
        "headers": {"authorization": f"Bearer {REDACTED}"},
        "items": [REDACTED, 42, None, {REDACTED: ["x", f"a{REDACTED}b"]}],
        "other": "nothing here",
    }
    assert data["items"][0] == TOKEN  # the argument is left alone


def test_redact_ignores_secrets_shorter_than_four_characters_and_prefers_the_longest():
    assert redact("abc pass password", ["abc", "pass", "password"]) == (
        f"abc {REDACTED} {REDACTED}"
    )
    assert redact({"n": 1}, []) == {"n": 1}


@pytest.mark.parametrize("name", sorted(forms_of()))
def test_each_derived_form_of_a_secret_is_redacted_in_values_keys_and_text(name):
    form = forms_of()[name]
    data = {"note": f"got {form} back", form: [form]}

    redacted = redact(data, [SECRET])

    assert leaks(redacted) == []
    assert REDACTED in redacted["note"]
    assert leaks(redact(f"Authorization: Basic {form}", [SECRET])) == []


def test_derived_forms_are_precomputed_once_per_secret_set_and_skip_short_secrets():
    assert derived_forms("abc") == frozenset()
    assert {"pass", "cGFzcw==", "cGFzcw", "70617373", "70617373".upper()} <= derived_forms("pass")
    assert redact("a bc abc", ["a", "bc", "abc"]) == "a bc abc"


def test_data_without_any_form_is_returned_as_is_and_unrelated_base64_is_left_alone():
    image = (  # a 1x1 PNG
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
        "AAAABJRU5ErkJggg=="
    )
    data = {"image": image, "items": [{"n": 1, "text": "nothing secret"}]}

    assert redact(data, [SECRET]) is data


@pytest.mark.django_db
def test_a_resolver_redacts_the_secrets_it_inherited_before_it_resolves_any(owner):
    workspace = workspace_ensure_personal(user=owner)

    resolver = credential_resolver(
        workspace_id=workspace.pk, execution_id="child-1", inherited=frozenset({SECRET})
    )

    assert execution_secrets("child-1") == frozenset({SECRET})
    assert SECRET in active_secrets()
    del resolver
    gc.collect()
    assert execution_secrets("child-1") == frozenset()


@pytest.mark.django_db
def test_rotating_keys_re_encrypts_the_secrets_a_sub_workflow_inherited(settings, owner):
    execution = recorded_execution(personal_workflow(owner, "w"))
    sealed = secrets_seal(secrets=[SECRET])
    Execution.objects.filter(pk=execution.pk).update(inherited_secrets=sealed)
    old_keys = list(settings.LINKFLOW_CREDENTIAL_KEYS)
    new_key = Fernet.generate_key().decode()
    try:
        settings.LINKFLOW_CREDENTIAL_KEYS = [new_key, *old_keys]
        keys_changed()
        call_command("rotate_credential_keys", stdout=io.StringIO())
        settings.LINKFLOW_CREDENTIAL_KEYS = [new_key]
        keys_changed()
        rotated = Execution.objects.get(pk=execution.pk).inherited_secrets
        assert rotated != sealed
        assert secrets_unseal(sealed=rotated) == frozenset({SECRET})
    finally:
        settings.LINKFLOW_CREDENTIAL_KEYS = old_keys
        keys_changed()


@pytest.mark.django_db
def test_logs_redact_the_secrets_of_live_resolvers_only(owner):
    workspace = workspace_ensure_personal(user=owner)
    credential = credential_create(
        workspace=workspace, name="b", type="http_bearer", data={"token": TOKEN}
    )
    console_filters = [f for h in logging.getLogger().handlers for f in h.filters]
    assert any(isinstance(f, SecretFilter) for f in console_filters)

    resolver = credential_resolver(workspace_id=workspace.pk, execution_id="e-1")
    resolver(str(credential.pk))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling with %s", (TOKEN,), None)
    SecretFilter().filter(record)
    assert record.getMessage() == f"calling with {REDACTED}"
    assert resolver.used_secrets() == frozenset({TOKEN})

    del resolver
    gc.collect()
    assert TOKEN not in active_secrets()


class EchoHandler(BaseHTTPRequestHandler):
    """Answers with the Authorization header it received, as a careless API might."""

    def do_GET(self) -> None:
        body = json.dumps({"you_sent": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/echo"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stored_output_never_holds_the_secret_a_node_used(celery_worker, api, owner):
    credential = credential_create(
        workspace=workspace_ensure_personal(user=owner),
        name="echo auth",
        type="http_bearer",
        data={"token": TOKEN},
    )
    with echo_server() as url:
        call = {"id": "call", "type": "http.request", "params": {"url": url}}
        graph = chain(
            {**call, "credential": str(credential.pk)}, {"id": "after", "type": "flow.noop"}
        )
        execution_id = execute(api, create_workflow(api, graph))
        status = wait_status(execution_id)

    body = detail(api, execution_id)
    assert status == "succeeded", body["error"]
    runs = {r["node_id"]: r for r in body["node_runs"]}
    assert runs["call"]["output"]["main"][0]["body"] == {"you_sent": f"Bearer {REDACTED}"}
    assert runs["after"]["input"] == runs["call"]["output"]["main"]
    stored = json.dumps(
        list(NodeRun.objects.filter(execution_id=execution_id).values()), default=str
    )
    assert TOKEN not in stored
    assert REDACTED in stored


def test_an_error_carrying_the_secret_is_redacted_on_the_execution_too(celery_worker, api, owner):
    credential = credential_create(
        workspace=workspace_ensure_personal(user=owner),
        name="echo auth",
        type="http_bearer",
        data={"token": TOKEN},
    )
    leak = "raise ValueError(items[0]['body']['you_sent'])"  # user code echoing the secret
    with echo_server() as url:
        graph = chain(
            {
                "id": "call",
                "type": "http.request",
                "params": {"url": url},
                "credential": str(credential.pk),
            },
            {"id": "leak", "type": "code.python", "params": {"code": leak}},
        )
        execution_id = execute(api, create_workflow(api, graph))
        status = wait_status(execution_id)

    execution = Execution.objects.get(pk=execution_id)
    assert status == "failed"
    assert execution.error["node_id"] == "leak"
    assert execution.error["message"].endswith(f"ValueError: Bearer {REDACTED}")
    assert TOKEN not in json.dumps(execution.error)
    leak_run = NodeRun.objects.get(execution_id=execution_id, node_id="leak")
    assert TOKEN not in json.dumps(leak_run.error)
