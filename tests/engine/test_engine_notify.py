"""notify.email with an in-test mailer, notify.slack against a local stand-in for Slack."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from linkflow.engine import Graph, NullObserver, RunContext, RunResult, run_graph
from linkflow.engine.net import guarded_client

SMTP = {
    "type": "smtp",
    "host": "mail.example.com",
    "port": 587,
    "username": "robot",
    "password": "smtp-pw-1",
    "security": "starttls",
    "from": "LinkFlow <robot@example.com>",
}
TOKEN = "xoxb-test-token"


class RecordingMailer:
    """A Mailer that keeps what it was asked to send, or fails with ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.error = error

    def send(self, *, smtp: dict[str, Any], message: dict[str, Any], timeout: float) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append({"smtp": smtp, "message": message, "timeout": timeout})


def run_node(
    node_type: str,
    params: dict[str, Any],
    *,
    credential: dict[str, Any],
    items: list[dict[str, Any]] | None = None,
    items_trigger: str | None = None,
    mailer: RecordingMailer | None = None,
    http_client: httpx.Client | None = None,
) -> RunResult:
    """Run a trigger -> the node (id "node", credential "cred-1")."""
    if items_trigger:
        trigger = {"id": "start", "type": items_trigger, "params": {"items": items}}
    else:
        trigger = {"id": "start", "type": "trigger.manual", "params": {}}
    node = {"id": "node", "type": node_type, "params": params, "credential": "cred-1"}
    graph = Graph.from_dict(
        {"nodes": [trigger, node], "edges": [{"source": "start", "target": "node"}]}
    )
    run = RunContext(
        execution={"id": "ex-1", "mode": "manual"},
        trigger_input=(items or [{}])[0] if not items_trigger else {},
        credentials=lambda cid: {"cred-1": credential}[cid],
        mailer=mailer,
        http_client=http_client,
    )
    return run_graph(graph, context=run, observer=NullObserver())


# notify.email


def test_email_sends_one_mail_per_item_with_its_evaluated_params(items_trigger: str) -> None:
    mailer = RecordingMailer()
    params = {
        "to": "{{ json.email }}",
        "subject": "Order {{ json.order }}",
        "text": "Hi {{ json.name }}",
        "html": "<p>Hi {{ json.name }}</p>",
    }
    items = [
        {"email": "ada@example.com", "order": 1, "name": "Ada"},
        {"email": "alan@example.com", "order": 2, "name": "Alan"},
    ]

    result = run_node(
        "notify.email",
        params,
        credential=SMTP,
        items=items,
        items_trigger=items_trigger,
        mailer=mailer,
    )

    assert result.last_items == [
        {"sent": True, "to": ["ada@example.com"]},
        {"sent": True, "to": ["alan@example.com"]},
    ]
    assert [sent["message"] for sent in mailer.sent] == [
        {
            "from": '"LinkFlow" <robot@example.com>',
            "to": ["ada@example.com"],
            "subject": "Order 1",
            "text": "Hi Ada",
            "html": "<p>Hi Ada</p>",
        },
        {
            "from": '"LinkFlow" <robot@example.com>',
            "to": ["alan@example.com"],
            "subject": "Order 2",
            "text": "Hi Alan",
            "html": "<p>Hi Alan</p>",
        },
    ]
    assert mailer.sent[0]["smtp"] == {key: value for key, value in SMTP.items() if key != "type"}


def test_email_accepts_address_lists_cc_and_a_from_param() -> None:
    mailer = RecordingMailer()
    params = {
        "to": "a@example.com, Bo <b@example.com>",
        "cc": ["c@example.com"],
        "from": "ops@example.com",
        "subject": "Hello",
        "text": "Body",
    }

    result = run_node("notify.email", params, credential=SMTP, mailer=mailer)

    assert result.last_items == [{"sent": True, "to": ["a@example.com", '"Bo" <b@example.com>']}]
    assert mailer.sent[0]["message"] == {
        "from": "ops@example.com",
        "to": ["a@example.com", '"Bo" <b@example.com>'],
        "cc": ["c@example.com"],
        "subject": "Hello",
        "text": "Body",
    }


def test_email_defaults_security_to_starttls_and_needs_a_sender() -> None:
    mailer = RecordingMailer()
    credential = {"type": "smtp", "host": "mail.example.com", "port": "25"}
    params = {"to": "a@example.com", "subject": "s", "text": "t"}

    result = run_node("notify.email", params, credential=credential, mailer=mailer)

    assert result.error == {
        "message": "Give one sender in 'from' or in the SMTP credential's 'from'.",
        "node_id": "node",
        "param": "params.from",
        "item": 0,
    }
    assert mailer.sent == []

    run_node(
        "notify.email", {**params, "from": "x@example.com"}, credential=credential, mailer=mailer
    )
    assert mailer.sent[0]["smtp"] == {
        "host": "mail.example.com",
        "port": 25,
        "security": "starttls",
    }


def test_email_refuses_a_subject_with_a_line_break() -> None:
    mailer = RecordingMailer()
    params = {"to": "a@example.com", "subject": "Hi\r\nBcc: all@example.com", "text": "t"}

    result = run_node("notify.email", params, credential=SMTP, mailer=mailer)

    assert result.error == {
        "message": "Parameter 'subject' must not contain line breaks.",
        "node_id": "node",
        "param": "params.subject",
        "item": 0,
    }
    assert mailer.sent == []


def test_email_refuses_an_invalid_address() -> None:
    mailer = RecordingMailer()

    result = run_node(
        "notify.email",
        {"to": "nobody", "subject": "s", "text": "t"},
        credential=SMTP,
        mailer=mailer,
    )

    assert result.error == {
        "message": "Parameter 'to' holds an invalid address.",
        "node_id": "node",
        "param": "params.to",
        "item": 0,
    }


def test_email_without_a_mailer_fails() -> None:
    result = run_node(
        "notify.email", {"to": "a@example.com", "subject": "s", "text": "t"}, credential=SMTP
    )

    assert result.error == {"message": "Sending email is not available here.", "node_id": "node"}


def test_email_needs_an_smtp_credential() -> None:
    result = run_node(
        "notify.email",
        {"to": "a@example.com", "subject": "s", "text": "t"},
        credential={"type": "slack", "token": TOKEN},
        mailer=RecordingMailer(),
    )

    assert result.error == {
        "message": "This node needs an SMTP credential.",
        "node_id": "node",
        "param": "credential",
    }


def test_email_failure_names_the_server_and_hides_the_password() -> None:
    mailer = RecordingMailer(error=OSError("login as robot/smtp-pw-1 refused"))

    result = run_node(
        "notify.email",
        {"to": "a@example.com", "subject": "s", "text": "t"},
        credential=SMTP,
        mailer=mailer,
    )

    assert result.error == {
        "message": "Could not send email through mail.example.com:587: login as robot/*** refused",
        "node_id": "node",
        "item": 0,
    }


# notify.slack


class _SlackHandler(BaseHTTPRequestHandler):
    """/hook: an incoming webhook (400 "invalid_payload" without text);
    /api/chat.postMessage: the web API (channel "C-missing" -> ok false);
    /limited/chat.postMessage: 429 with Retry-After."""

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        auth = self.headers.get("Authorization")
        self.server.received.append((self.path, auth, payload))  # type: ignore[attr-defined]
        if self.path == "/hook":
            ok = bool(payload.get("text"))
            self._send(200 if ok else 400, b"ok" if ok else b"invalid_payload", "text/plain")
        elif self.path == "/api/chat.postMessage":
            self._send(
                200,
                json.dumps(self._api_answer(auth, payload)).encode(),
                "application/json; charset=utf-8",
            )
        else:
            self._send(429, b"", "text/plain", retry_after="3")

    def _api_answer(self, auth: str | None, payload: dict[str, Any]) -> dict[str, Any]:
        if auth != f"Bearer {TOKEN}":
            return {"ok": False, "error": "invalid_auth"}
        if payload["channel"] == "C-missing":
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": "C123", "ts": "1700000000.000100", "message": {}}

    def _send(self, status: int, body: bytes, content_type: str, retry_after: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def slack() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlackHandler)
    server.received = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with guarded_client(allow_private=True) as shared:
        yield shared


def base(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_slack_webhook_posts_text_and_blocks(slack: Any, client: httpx.Client) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    credential = {"type": "slack", "webhook_url": f"{base(slack)}/hook"}

    result = run_node(
        "notify.slack",
        {"text": "hi {{ json.n }}", "blocks": json.dumps(blocks)},
        credential=credential,
        items=[{"n": 1}],
        http_client=client,
    )

    assert result.last_items == [{"ok": True}]
    assert slack.received == [("/hook", None, {"text": "hi 1", "blocks": blocks})]


def test_slack_webhook_error_fails_without_showing_the_url(
    slack: Any, client: httpx.Client
) -> None:
    credential = {"type": "slack", "webhook_url": f"{base(slack)}/hook"}

    result = run_node(
        "notify.slack",
        {"text": "{{ json.empty }}"},
        credential=credential,
        items=[{"empty": ""}],
        http_client=client,
    )

    assert result.error == {
        "message": "Slack webhook answered HTTP 400: invalid_payload",
        "node_id": "node",
        "item": 0,
    }


def test_slack_api_posts_with_the_bot_token(slack: Any, client: httpx.Client) -> None:
    credential = {"type": "slack", "token": TOKEN, "api_base_url": f"{base(slack)}/api/"}

    result = run_node(
        "notify.slack",
        {"text": "deployed", "channel": "C123"},
        credential=credential,
        http_client=client,
    )

    assert result.last_items == [{"ok": True, "channel": "C123", "ts": "1700000000.000100"}]
    assert slack.received == [
        ("/api/chat.postMessage", f"Bearer {TOKEN}", {"text": "deployed", "channel": "C123"})
    ]


def test_slack_api_ok_false_fails_with_slacks_error(slack: Any, client: httpx.Client) -> None:
    credential = {"type": "slack", "token": TOKEN, "api_base_url": f"{base(slack)}/api"}

    result = run_node(
        "notify.slack",
        {"text": "x", "channel": "C-missing"},
        credential=credential,
        http_client=client,
    )

    assert result.error == {
        "message": "Slack API error: channel_not_found",
        "node_id": "node",
        "item": 0,
    }


def test_slack_api_rate_limit_names_the_retry_delay(slack: Any, client: httpx.Client) -> None:
    credential = {"type": "slack", "token": TOKEN, "api_base_url": f"{base(slack)}/limited"}

    result = run_node(
        "notify.slack", {"text": "x", "channel": "C1"}, credential=credential, http_client=client
    )

    assert result.error == {
        "message": "Slack API answered HTTP 429 (retry after 3 s).",
        "node_id": "node",
        "item": 0,
    }


def test_slack_token_without_a_channel_fails_before_sending(
    slack: Any, client: httpx.Client
) -> None:
    credential = {"type": "slack", "token": TOKEN, "api_base_url": f"{base(slack)}/api"}

    result = run_node("notify.slack", {"text": "x"}, credential=credential, http_client=client)

    assert result.error == {
        "message": "Parameter 'channel' is needed to post with a bot token.",
        "node_id": "node",
        "param": "params.channel",
        "item": 0,
    }
    assert slack.received == []


def test_slack_refuses_blocks_that_are_not_a_list_of_objects(
    slack: Any, client: httpx.Client
) -> None:
    credential = {"type": "slack", "webhook_url": f"{base(slack)}/hook"}

    result = run_node(
        "notify.slack",
        {"text": "x", "blocks": "{not json"},
        credential=credential,
        http_client=client,
    )

    assert result.error is not None
    assert result.error["param"] == "params.blocks"
    assert slack.received == []


def test_slack_without_a_host_client_is_guarded_and_hides_the_webhook(slack: Any) -> None:
    credential = {"type": "slack", "webhook_url": f"{base(slack)}/hook/T000/B000/secretpath"}

    result = run_node("notify.slack", {"text": "x"}, credential=credential)

    assert result.error is not None
    assert result.error["message"].startswith("Refused to connect to '127.0.0.1' at 127.0.0.1")
    assert "secretpath" not in result.error["message"]
    assert slack.received == []
