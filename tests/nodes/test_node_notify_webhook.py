"""notify.webhook against a local HTTP receiver that checks the signature the way
LinkFlow's own webhooks do, fails on demand, and counts deliveries; retries park the run
(run_graph returns "waiting" with a resume time) and the last failure is a dead letter."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from linkflow.engine import Graph, NullObserver, RunContext, run_graph
from linkflow.engine.net import AddressPolicy, guarded_client
from linkflow.engine.signing import signature

from .conftest import OPEN_POLICY

SECRET = "whsec-test-0123456789"


class Receiver(BaseHTTPRequestHandler):
    """POST /hook?fail=N answers 503 to the first N deliveries, then 200 to those whose
    X-LinkFlow-Signature verifies (401 otherwise)."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        server: Any = self.server
        server.calls += 1
        fail = int(self.path.partition("fail=")[2] or 0)
        if server.calls <= fail:
            return self._send(503)
        parts = dict(
            p.split("=", 1) for p in self.headers.get("x-linkflow-signature", "").split(",")
        )
        expected = signature(secret=SECRET, timestamp=int(parts.get("t", 0)), body=body)
        if parts.get("v1") != expected:
            return self._send(401)
        server.delivered.append((self.headers["x-linkflow-delivery"], json.loads(body)))
        self._send(200)

    def _send(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.calls, server.delivered = 0, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield server
    server.shutdown()


def graph(url: str, *, max_attempts: int = 3) -> Graph:
    return Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "hook",
                    "type": "notify.webhook",
                    "credential": "key",
                    "params": {"url": url, "event": "order.paid"},
                    "retry": {"max_attempts": max_attempts, "backoff_seconds": 30},
                    "on_error": "error_output",
                },
                {"id": "dead", "type": "flow.noop"},
            ],
            "edges": [
                {"source": "start", "target": "hook"},
                {"source": "hook", "target": "dead", "output": "error"},
            ],
        }
    )


def run(g: Graph, *, attempts: int, policy: AddressPolicy = OPEN_POLICY) -> Any:
    with guarded_client(policy=policy) as client:
        context = RunContext(
            execution={"id": "e1", "mode": "manual"},
            trigger_input={"order": 7},
            http_client=client,
            credentials=lambda _id: {"type": "hmac_key", "key": SECRET},
        )
        return run_graph(g, context=context, observer=NullObserver(), attempts={"hook": attempts})


def test_a_signed_event_is_delivered_with_a_stable_delivery_id(receiver: Any) -> None:
    result = run(graph(receiver.url), attempts=0)

    assert result.status == "succeeded"
    assert receiver.delivered == [("e1:hook:0", {"order": 7})]
    assert result.outcomes["hook"].output["main"][0]["status"] == 200


def test_a_failed_delivery_parks_the_run_for_a_retry_instead_of_sleeping(receiver: Any) -> None:
    g = graph(f"{receiver.url}?fail=1")

    first = run(g, attempts=0)
    second = run(g, attempts=1)

    assert first.status == "waiting" and first.resume_at is not None
    assert second.status == "succeeded"
    assert receiver.delivered == [("e1:hook:0", {"order": 7})]  # same id on the retry


def test_after_the_last_attempt_the_event_is_a_dead_letter(receiver: Any) -> None:
    g = graph(f"{receiver.url}?fail=99", max_attempts=2)

    first = run(g, attempts=0)
    last = run(g, attempts=1)

    assert first.status == "waiting"
    assert last.status == "succeeded"
    dead = last.outcomes["dead"].output["main"]
    assert dead == [{"order": 7, "error": dead[0]["error"]}]
    assert "503" in dead[0]["error"]["message"] and receiver.delivered == []


def test_a_receiver_on_a_private_address_is_refused_by_the_default_policy(receiver: Any) -> None:
    result = run(graph(receiver.url, max_attempts=1), attempts=0, policy=AddressPolicy())

    assert "loopback" in result.outcomes["dead"].output["main"][0]["error"]["message"]
    assert receiver.calls == 0
