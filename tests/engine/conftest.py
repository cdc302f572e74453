"""Engine test fixtures: a real local HTTP server, a recording observer, a test trigger.

No database and no Django: these fixtures only use the standard library and the engine.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import pytest

from linkflow.engine import NodeContext, NodeOutcome, NodeType
from linkflow.engine.registry import register, unregister

SLOW_RESPONSE_SECONDS = 2.0


class _TestHandler(BaseHTTPRequestHandler):
    """Routes: /echo (the request as JSON), /text, /status/<code>, /slow."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/echo":
            self._echo(url.path, url.query)
        elif url.path == "/text":
            self._send(200, b"plain words", "text/plain; charset=utf-8")
        elif url.path.startswith("/status/"):
            self._send(int(url.path.rsplit("/", 1)[1]), b'{"error": "boom"}', "application/json")
        elif url.path == "/slow":
            time.sleep(SLOW_RESPONSE_SECONDS)
            self._send(200, b"late", "text/plain")
        else:
            self._send(404, b"not here", "text/plain")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _echo(self, path: str, query: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        is_json = self.headers.get("Content-Type") == "application/json"
        echoed = {
            "method": self.command,
            "path": path,
            "query": dict(parse_qsl(query)),
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "json": json.loads(raw) if is_json else None,
        }
        self._send(200, json.dumps(echoed).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """The /slow handler writes to a client that already gave up; that is expected."""


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    """Base URL ("http://127.0.0.1:<port>") of a threaded HTTP server running for the session."""
    server = _QuietServer(("127.0.0.1", 0), _TestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on a local port nothing listens on, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing"


class RecordingObserver:
    """Records observer calls as tuples; asks to stop once ``stop_after`` nodes finished."""

    def __init__(self, *, stop_after: int | None = None) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.stop_after = stop_after
        self.finished = 0

    def node_started(
        self, *, node_id: str, node_type: str, attempt: int, input: list[dict[str, Any]]
    ) -> None:
        self.events.append(("started", node_id, node_type, attempt, input))

    def node_finished(
        self,
        *,
        node_id: str,
        node_type: str,
        attempt: int,
        input: list[dict[str, Any]],
        outcome: NodeOutcome,
        started_at: datetime,
        finished_at: datetime,
    ) -> None:
        assert started_at.tzinfo is not None and finished_at >= started_at
        self.finished += 1
        self.events.append(("finished", node_id, outcome.status))

    def should_stop(self) -> bool:
        return self.stop_after is not None and self.finished >= self.stop_after


@pytest.fixture
def observer() -> RecordingObserver:
    """A fresh recording observer."""
    return RecordingObserver()


class ItemsTrigger(NodeType):
    """Test trigger that emits the items listed in its params (real triggers emit one)."""

    type = "test.items"
    label = "Items (test)"
    description = "Emits params.items."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "object"}}},
        "required": ["items"],
        "additionalProperties": False,
    }
    is_trigger = True

    def execute(self, ctx: NodeContext, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"main": [dict(item) for item in ctx.params["items"]]}


@pytest.fixture
def items_trigger() -> Iterator[str]:
    """Registers the "test.items" trigger for one test and returns its type name."""
    register(ItemsTrigger.type, ItemsTrigger)
    yield ItemsTrigger.type
    unregister(ItemsTrigger.type)


FIXED_NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def fixed_clock() -> Any:
    """A clock that always answers FIXED_NOW."""
    return lambda: FIXED_NOW
