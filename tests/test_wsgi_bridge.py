"""The web role's HTTP bridge (linkflow/core/wsgi_bridge.py), driven as the ASGI server
drives it: a scope, the body in messages, and the messages it sends back."""

import asyncio
import threading
from typing import Any

import pytest
from django.http import HttpResponse, StreamingHttpResponse

from linkflow.core import wsgi_bridge
from linkflow.core.wsgi_bridge import WSGIBridge


def _scope(method: str = "POST", path: str = "/echo", headers: list | None = None) -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"a=1",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.2", 5555),
        "headers": headers or [],
    }


def _serve(app: Any, scope: dict, chunks: list[bytes]) -> list[dict]:
    """Run one request through a bridge over ``app``; the messages it sent. ``app`` may
    read ``received`` (how many body messages the bridge had taken) when it is called."""
    bridge = WSGIBridge(app, workers=2)
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]
    sent: list[dict] = []
    app.received = lambda: len(chunks) - len(incoming)

    async def receive() -> dict:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(bridge(scope, receive, send))
    bridge.executor.shutdown()
    return sent


class _Echo:
    """A WSGI app answering what it was given, remembering whether it was closed."""

    def __init__(self, streaming: bool = False) -> None:
        self.streaming = streaming
        self.closed = threading.Event()
        self.environ: dict[str, Any] = {}

    def __call__(self, environ: dict, start_response: Any) -> Any:
        self.environ = environ
        self.received_before_call = self.received()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        if self.streaming:
            response: Any = StreamingHttpResponse(iter([b"one,", b"two,", body[:5]]))
        else:
            response = HttpResponse(body, status=201, content_type="text/plain")
        response["X-Seen"] = environ["REQUEST_METHOD"] + " " + environ["PATH_INFO"]
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        closed = self.closed

        class Closing:
            streaming = response.streaming

            def __iter__(self):
                return iter(response)

            def close(self) -> None:
                response.close()
                closed.set()

        return Closing()


def _headers(start: dict) -> dict[bytes, bytes]:
    return dict(start["headers"])


def test_a_small_request_is_answered_in_one_start_and_one_body():
    app = _Echo()
    body = b'{"amount": 150}'
    sent = _serve(
        app,
        _scope(headers=[(b"content-length", str(len(body)).encode()), (b"x-token", b"t")]),
        [body[:5], body[5:]],
    )

    start, whole = sent
    assert start["type"] == "http.response.start" and start["status"] == 201
    assert _headers(start)[b"x-seen"] == b"POST /echo"
    assert whole == {"type": "http.response.body", "body": body, "more_body": False}
    assert app.environ["HTTP_X_TOKEN"] == "t" and app.environ["QUERY_STRING"] == "a=1"
    assert app.environ["REMOTE_ADDR"] == "127.0.0.2"
    assert app.closed.is_set()  # Django's request_finished ran


def test_a_body_past_the_preread_still_arrives_whole(monkeypatch):
    monkeypatch.setattr(wsgi_bridge, "PREREAD_BYTES", 10)
    app = _Echo()
    chunks = [b"0123456789", b"abcdefghij", b"KLMNOPQRST", b"end"]
    body = b"".join(chunks)

    sent = _serve(app, _scope(headers=[(b"content-length", str(len(body)).encode())]), chunks)

    assert sent[0]["status"] == 201
    assert b"".join(m.get("body", b"") for m in sent[1:]) == body
    # Read up to the pre-read's size before the app ran, the rest as the app read it:
    # a large upload is never gathered whole in the loop.
    assert app.received_before_call == 2
    assert app.closed.is_set()


def test_a_streaming_response_goes_out_chunk_by_chunk():
    app = _Echo(streaming=True)
    sent = _serve(app, _scope(headers=[(b"content-length", b"7")]), [b"payload"])

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [m["body"] for m in sent[1:]]
    assert bodies == [b"one,", b"two,", b"paylo", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, True, False]
    assert app.closed.is_set()


def test_a_client_gone_before_its_body_was_read_gets_nothing_and_runs_nothing():
    app = _Echo()
    bridge = WSGIBridge(app, workers=1)
    sent: list[dict] = []
    messages = [
        {"type": "http.request", "body": b"part", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(bridge(_scope(), receive, send))
    bridge.executor.shutdown()

    assert sent == [] and app.environ == {}


@pytest.mark.django_db
def test_django_answers_through_it():
    from django.core.wsgi import get_wsgi_application

    sent = _serve(
        get_wsgi_application(), _scope("GET", "/healthz", [(b"host", b"127.0.0.1")]), [b""]
    )

    assert sent[0]["status"] == 200
    assert b"ok" in b"".join(m["body"] for m in sent[1:]).lower()
