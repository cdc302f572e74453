"""DjangoMailer against a real (minimal) SMTP server on 127.0.0.1; no database needed.

The address policy and the timeout of notify.email's SMTP connections are tested at the end.
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from executions.running.mail import DjangoMailer, SMTPTimeout
from linkflow.engine import Graph, NullObserver, RunContext, run_graph
from linkflow.engine.net import AddressPolicy, allow_hosts_from


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough ESMTP for smtplib: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP,
    QUIT. Recipients in ``server.refuse`` get 550; each accepted message is stored."""

    def handle(self) -> None:
        self.server.connections += 1  # type: ignore[attr-defined]
        self.envelope: dict[str, Any] = {"from": None, "to": [], "auth": None}
        self._reply("220 test.local ESMTP")
        while line := self.rfile.readline():
            verb, _, argument = line.decode().rstrip("\r\n").partition(" ")
            if not self._dispatch(verb.upper(), argument):
                return

    def _dispatch(self, verb: str, argument: str) -> bool:
        if verb == "EHLO":
            self._reply("250-test.local", "250-AUTH PLAIN", "250 8BITMIME")
        elif verb == "AUTH":
            _, user, password = base64.b64decode(argument.split(" ", 1)[1]).split(b"\0")
            self.envelope["auth"] = (user.decode(), password.decode())
            self._reply("235 2.7.0 Authentication successful")
        elif verb == "MAIL":
            self.envelope["from"] = argument.split(":", 1)[1].strip("<>")
            self._reply("250 OK")
        elif verb == "RCPT":
            self._recipient(argument.split(":", 1)[1].strip("<>"))
        elif verb == "DATA":
            self._data()
        elif verb == "QUIT":
            self._reply("221 Bye")
            return False
        else:  # HELO, RSET, NOOP
            self._reply("250 OK")
        return True

    def _recipient(self, address: str) -> None:
        if address in self.server.refuse:  # type: ignore[attr-defined]
            self._reply("550 5.1.1 No such user")
            return
        self.envelope["to"].append(address)
        self._reply("250 OK")

    def _data(self) -> None:
        self._reply("354 End data with <CR><LF>.<CR><LF>")
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)  # dot-unstuffing
        data = b"".join(lines).replace(b"\r\n", b"\n")  # stored as a local MTA would
        self.server.received.append({**self.envelope, "data": data})  # type: ignore[attr-defined]
        self.envelope = {**self.envelope, "from": None, "to": []}
        self._reply("250 OK queued")

    def _reply(self, *lines: str) -> None:
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.received: list[dict[str, Any]] = []
        self.refuse: set[str] = set()
        self.connections = 0

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def smtp(server: SMTPServer, **fields: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": server.port, "security": "none", **fields}


def parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# Every test server is on the loopback interface, which the default policy refuses.
LOCAL = DjangoMailer(policy=AddressPolicy(allow_hosts=allow_hosts_from(["127.0.0.1"])))

MESSAGE = {
    "from": "LinkFlow <robot@example.com>",
    "to": ["ada@example.com"],
    "subject": "Order 42 shipped",
    "text": "Your order is on its way.\n.\nBye",
}


def test_sends_a_plain_text_mail_without_logging_in(smtp_server: SMTPServer) -> None:
    LOCAL.send(smtp=smtp(smtp_server), message=MESSAGE, timeout=5)

    [received] = smtp_server.received
    assert (received["from"], received["to"], received["auth"]) == (
        "robot@example.com",
        ["ada@example.com"],
        None,
    )
    mail = parse(received["data"])
    assert mail["From"] == "LinkFlow <robot@example.com>"
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == "Order 42 shipped"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content() == "Your order is on its way.\n.\nBye\n"


def test_sends_cc_and_an_html_alternative(smtp_server: SMTPServer) -> None:
    message = {**MESSAGE, "cc": ["bo@example.com"], "html": "<p>On its way.</p>"}

    LOCAL.send(smtp=smtp(smtp_server), message=message, timeout=5)

    [received] = smtp_server.received
    assert received["to"] == ["ada@example.com", "bo@example.com"]
    mail = parse(received["data"])
    assert mail["Cc"] == "bo@example.com"
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and html is not None
    assert (plain.get_content(), html.get_content()) == (
        "Your order is on its way.\n.\nBye",
        "<p>On its way.</p>",
    )


def test_logs_in_with_the_credentials_username_and_password(smtp_server: SMTPServer) -> None:
    credential = smtp(smtp_server, username="robot", password="pw-1")

    LOCAL.send(smtp=credential, message=MESSAGE, timeout=5)

    assert smtp_server.received[0]["auth"] == ("robot", "pw-1")


def test_never_logs_in_with_the_platforms_own_email_settings(
    smtp_server: SMTPServer, settings: Any
) -> None:
    settings.EMAIL_HOST_USER = "platform"
    settings.EMAIL_HOST_PASSWORD = "platform-secret"

    LOCAL.send(smtp=smtp(smtp_server), message=MESSAGE, timeout=5)

    assert smtp_server.received[0]["auth"] is None


def test_starttls_is_required_when_the_credential_asks_for_it(smtp_server: SMTPServer) -> None:
    # This server offers no STARTTLS: the mail must fail, not go out in clear text.
    with pytest.raises(smtplib.SMTPNotSupportedError):
        LOCAL.send(
            smtp=smtp(smtp_server, security="starttls", username="u", password="p"),
            message=MESSAGE,
            timeout=5,
        )

    assert smtp_server.received == []


def test_a_refused_recipient_raises(smtp_server: SMTPServer) -> None:
    smtp_server.refuse.add("ada@example.com")

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        LOCAL.send(smtp=smtp(smtp_server), message=MESSAGE, timeout=5)

    assert smtp_server.received == []


def test_notify_email_node_delivers_through_the_django_mailer(smtp_server: SMTPServer) -> None:
    credential = {"type": "smtp", "from": "robot@example.com", **smtp(smtp_server)}
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual", "params": {}},
                {
                    "id": "mail",
                    "type": "notify.email",
                    "credential": "smtp-1",
                    "params": {
                        "to": "{{ json.email }}",
                        "subject": "Hi {{ json.name }}",
                        "text": "Hello {{ json.name }}",
                    },
                },
            ],
            "edges": [{"source": "start", "target": "mail"}],
        }
    )
    run = RunContext(
        execution={"id": "ex-1", "mode": "manual"},
        trigger_input={"email": "ada@example.com", "name": "Ada"},
        credentials=lambda cid: {"smtp-1": credential}[cid],
        mailer=LOCAL,
    )

    result = run_graph(graph, context=run, observer=NullObserver())

    assert result.last_items == [{"sent": True, "to": ["ada@example.com"]}]
    mail = parse(smtp_server.received[0]["data"])
    assert (mail["From"], mail["To"], mail["Subject"]) == (
        "robot@example.com",
        "ada@example.com",
        "Hi Ada",
    )
    assert mail.get_content() == "Hello Ada\n"


# The address policy and the timeout of notify.email (issue #10, section 4)


def email_graph(*, timeout_seconds: float | None = None) -> Graph:
    node: dict[str, Any] = {
        "id": "mail",
        "type": "notify.email",
        "credential": "smtp-1",
        "params": {"to": "ada@example.com", "subject": "Hi", "text": "Hello"},
    }
    if timeout_seconds is not None:
        node["timeout_seconds"] = timeout_seconds
    return Graph.from_dict(
        {
            "nodes": [{"id": "start", "type": "trigger.manual", "params": {}}, node],
            "edges": [{"source": "start", "target": "mail"}],
        }
    )


def send_through(mailer: DjangoMailer, *, host: str, port: int, **node: Any) -> Any:
    """Run trigger -> notify.email through ``host``:``port``; the run's result."""
    credential = {"type": "smtp", "from": "robot@example.com", "host": host, "port": port}
    run = RunContext(
        execution={"id": "ex-1", "mode": "manual"},
        trigger_input={},
        credentials=lambda cid: {"smtp-1": {**credential, "security": "none"}}[cid],
        mailer=mailer,
    )
    return run_graph(email_graph(**node), context=run, observer=NullObserver())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_error(result: Any) -> str:
    assert result.status == "failed"
    return str(result.error["message"])


def test_smtp_to_a_loopback_host_is_refused_by_the_default_policy(
    smtp_server: SMTPServer,
) -> None:
    from executions.running.host import address_policy

    for mailer in (DjangoMailer(), DjangoMailer(policy=address_policy())):
        for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]".strip("[]")):
            message = node_error(send_through(mailer, host=host, port=smtp_server.port))
            assert "Refused to connect" in message
            assert "loopback address" in message

    # Refused before connecting: the server never saw a connection, so nothing was sent.
    assert (smtp_server.connections, smtp_server.received) == (0, [])


def test_an_open_and_a_closed_internal_port_give_the_same_error(smtp_server: SMTPServer) -> None:
    closed = closed_port()

    open_error = node_error(send_through(DjangoMailer(), host="127.0.0.1", port=smtp_server.port))
    closed_error = node_error(send_through(DjangoMailer(), host="127.0.0.1", port=closed))

    # Only the port number the caller gave differs: no way to tell which one listens.
    assert open_error.replace(str(smtp_server.port), "N") == closed_error.replace(str(closed), "N")
    assert smtp_server.connections == 0


def test_smtp_to_an_operator_allowed_host_delivers(smtp_server: SMTPServer, settings: Any) -> None:
    from executions.running.host import address_policy

    settings.LINKFLOW_HTTP_ALLOW_HOSTS = [f"127.0.0.1:{smtp_server.port}"]

    result = send_through(
        DjangoMailer(policy=address_policy()), host="127.0.0.1", port=smtp_server.port
    )

    assert result.status == "succeeded"
    assert result.last_items == [{"sent": True, "to": ["ada@example.com"]}]
    assert [mail["to"] for mail in smtp_server.received] == [["ada@example.com"]]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose server accepts TCP connections (the kernel's backlog does) and never
    says a word: an SMTP client waits there for the greeting."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_the_node_timeout_bounds_a_server_that_never_answers(silent_server: int) -> None:
    result = send_through(LOCAL, host="127.0.0.1", port=silent_server, timeout_seconds=1)

    message = node_error(result)
    # The node's own timeout, not smtplib's 30 s; what is left of it when the item starts.
    found = re.fullmatch(
        rf"The SMTP server 127\.0\.0\.1:{silent_server} did not answer within ([0-9.]+) s\.",
        message,
    )
    assert found is not None, message
    assert 0.5 < float(found.group(1)) <= 1


@pytest.fixture
def trickling_server() -> Iterator[int]:
    """An SMTP server that greets with continuation lines ("220-…"), one every 50 ms,
    for 5 s: each read is quick, the greeting never ends (smtplib reads on as long as
    lines come)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        with suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                for _ in range(100):
                    connection.sendall(b"220-still here\r\n")
                    time.sleep(0.05)

    threading.Thread(target=serve, daemon=True).start()
    yield int(listener.getsockname()[1])
    listener.close()


def test_a_trickling_server_cannot_stretch_the_send_past_the_timeout(
    trickling_server: int,
) -> None:
    smtp_settings = {"host": "127.0.0.1", "port": trickling_server, "security": "none"}

    with pytest.raises(SMTPTimeout, match=r"did not answer within 0\.5 s"):
        LOCAL.send(smtp=smtp_settings, message=MESSAGE, timeout=0.5)
