"""http.request against real local servers, through run_graph.

The host client is ``guarded_client(allow_private=True)``, the shape the worker uses, so
these tests also run every request through the SSRF guard's connection path.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from linkflow.engine import Graph, NullObserver, RunContext, RunResult, run_graph
from linkflow.engine.net import guarded_client
from linkflow.engine.nodes.http import MAX_RESPONSE_BYTES

from .conftest import FIXED_NOW

SLOW_SECONDS = 2.0
FILE_BYTES = b"%PDF-1.7 tiny"


class _Handler(BaseHTTPRequestHandler):
    """Routes: /echo, /text, /status/<code>, /slow, /redirect/<n> (echo after n redirects),
    /redirect-to?url=, /file, /bad-json, /json-as-text, /big (declared length) and
    /big-stream (no length). Each request is recorded as (method, path, headers, body)."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        recorded = (self.command, self.path, headers, body)
        self.server.requests.append(recorded)  # type: ignore[attr-defined]
        route = self._routes().get("/" + url.path.split("/")[1])  # "/status/404" -> "/status"
        if route is None:
            self._send(404, b"not here", "text/plain")
        else:
            route(url, headers, body)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _routes(self) -> dict[str, Callable[..., None]]:
        return {
            "/echo": self._echo,
            "/text": lambda *_: self._send(200, b"plain words", "text/plain; charset=utf-8"),
            "/status": lambda url, *_: self._send(
                int(url.path.rsplit("/", 1)[1]), b'{"error": "boom"}', "application/json"
            ),
            "/slow": self._slow,
            "/redirect": self._redirect_chain,
            "/redirect-to": lambda url, *_: self._redirect(parse_qs(url.query)["url"][0]),
            "/file": self._file,
            "/bad-json": lambda *_: self._send(200, b"not json", "application/json"),
            "/json-as-text": lambda *_: self._send(200, b'{"a": [1]}', "text/plain"),
            "/big": self._big,
            "/big-stream": self._big_stream,
        }

    def _echo(self, url: Any, headers: dict[str, str], body: bytes) -> None:
        echoed = {
            "method": self.command,
            "query": parse_qs(url.query),
            "headers": headers,
            "body": body.decode(),
        }
        self._send(200, json.dumps(echoed).encode(), "application/json")

    def _slow(self, *_: Any) -> None:
        time.sleep(SLOW_SECONDS)
        self._send(200, b"late", "text/plain")

    def _redirect_chain(self, url: Any, *_: Any) -> None:
        left = int(url.path.rsplit("/", 1)[1])
        if left == 0:
            self._echo(url, {}, b"")
        else:
            self._redirect(f"/redirect/{left - 1}")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _file(self, *_: Any) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Disposition", 'attachment; filename="../report.pdf"')
        self.send_header("Content-Length", str(len(FILE_BYTES)))
        self.end_headers()
        self.wfile.write(FILE_BYTES)

    def _big(self, *_: Any) -> None:
        self._send(200, b"x" * (MAX_RESPONSE_BYTES + 1), "text/plain")

    def _big_stream(self, *_: Any) -> None:
        # No Content-Length: the limit has to be enforced while reading.
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"y" * 65536
        try:
            for _ in range(MAX_RESPONSE_BYTES // len(chunk) + 2):
                self.wfile.write(chunk)
        except OSError:
            pass  # the client stopped reading at the limit, as it should

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class RecordingServer(ThreadingHTTPServer):
    request_queue_size = 64

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        """/slow writes to a client that already gave up; that is expected."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def servers() -> Iterator[Callable[[], RecordingServer]]:
    started: list[RecordingServer] = []

    def start() -> RecordingServer:
        server = RecordingServer()
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(servers: Callable[[], RecordingServer]) -> RecordingServer:
    return servers()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """The host client of a worker whose operator allowed private addresses."""
    with guarded_client(allow_private=True) as shared:
        yield shared


class MemoryFiles:
    """A FileStore keeping saved files in a list."""

    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    def save(self, *, name: str, content: bytes, content_type: str) -> dict[str, Any]:
        self.saved.append({"name": name, "content": content, "content_type": content_type})
        key = f"files/{len(self.saved)}"
        return {"$file": key, "name": name, "size": len(content), "content_type": content_type}

    def read(self, *, ref: dict[str, Any], limit: int) -> bytes:
        # As the host does: only this store's own keys; anything else is unknown.
        number = str(ref.get("$file", "")).removeprefix("files/")
        if not number.isdigit() or not 0 < int(number) <= len(self.saved):
            raise KeyError("not a file of this execution")
        content = self.saved[int(number) - 1]["content"]
        if len(content) > limit:
            raise ValueError(f"the file is larger than {limit} bytes")
        return bytes(content)


def run_http(
    client: httpx.Client | None,
    *,
    items: list[dict[str, Any]] | None = None,
    credential: dict[str, Any] | None = None,
    files: MemoryFiles | None = None,
    deadline_seconds: float | None = None,
    **params: Any,
) -> RunResult:
    """Run trigger.manual -> http.request (id "node"); ``items`` become the trigger input
    (one item) or, through a data.split of "rows", several items."""
    node: dict[str, Any] = {"id": "node", "type": "http.request", "params": params}
    if credential is not None:
        node["credential"] = "cred-1"
    graph = Graph.from_dict(
        {
            "nodes": [{"id": "start", "type": "trigger.manual", "params": {}}, node],
            "edges": [{"source": "start", "target": "node"}],
        }
    )
    run = RunContext(
        execution={"id": "ex-1", "mode": "manual"},
        trigger_input=(items or [{}])[0],
        http_client=client,
        credentials=(lambda cid: {"cred-1": credential}[cid]) if credential else None,
        files=files,
        clock=lambda: FIXED_NOW,
        deadline=FIXED_NOW + timedelta(seconds=deadline_seconds) if deadline_seconds else None,
    )
    return run_graph(graph, context=run, observer=NullObserver())


def only_item(result: RunResult) -> dict[str, Any]:
    assert result.status == "succeeded", result.error
    [item] = result.last_items
    return item


# Requests and responses


def test_get_sends_query_and_headers_and_parses_json(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client,
        items=[{"term": "shoes"}],
        url=f"{server.url}/echo",
        query={"q": "{{ json.term }}", "page": 2, "tag": ["a", "b"]},
        headers={"X-Token": "t-{{ json.term }}"},
    )

    item = only_item(result)
    assert item["status"] == 200
    assert item["headers"]["content-type"] == "application/json"
    assert item["body"]["method"] == "GET"
    assert item["body"]["query"] == {"q": ["shoes"], "page": ["2"], "tag": ["a", "b"]}
    assert item["body"]["headers"]["x-token"] == "t-shoes"


def test_post_sends_the_evaluated_body_as_json(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client,
        items=[{"name": "Ada", "tags": ["x"]}],
        method="POST",
        url=f"{server.url}/echo",
        body={"name": "{{ json.name }}", "tags": "{{ json.tags }}", "n": 2},
    )

    body = only_item(result)["body"]
    assert body["headers"]["content-type"] == "application/json"
    assert json.loads(body["body"]) == {"name": "Ada", "tags": ["x"], "n": 2}


def test_form_body_is_sent_urlencoded(client: httpx.Client, server: RecordingServer) -> None:
    result = run_http(
        client,
        method="POST",
        url=f"{server.url}/echo",
        body_type="form",
        body={"name": "Ada L", "n": 2, "ok": True, "tags": ["a", "b"], "none": None},
    )

    body = only_item(result)["body"]
    assert body["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert body["body"] == "name=Ada+L&n=2&ok=true&tags=a&tags=b&none="


def test_raw_body_is_sent_as_is_with_text_plain_by_default(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client, method="PUT", url=f"{server.url}/echo", body_type="raw", body="a,b\n1,2"
    )

    body = only_item(result)["body"]
    assert (body["headers"]["content-type"], body["body"]) == ("text/plain", "a,b\n1,2")


def test_raw_body_uses_the_content_type_param(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client,
        method="POST",
        url=f"{server.url}/echo",
        body_type="raw",
        body="<a/>",
        content_type="application/xml",
    )

    assert only_item(result)["body"]["headers"]["content-type"] == "application/xml"


def test_raw_body_that_is_not_a_string_fails_without_sending(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client, method="POST", url=f"{server.url}/echo", body_type="raw", body={"a": 1}
    )

    assert result.error == {
        "message": "Parameter 'body' must be a string when body_type is 'raw'.",
        "node_id": "node",
        "param": "params.body",
        "item": 0,
    }
    assert server.requests == []


def test_one_request_is_sent_per_item_with_its_own_params(
    client: httpx.Client, server: RecordingServer, items_trigger: str
) -> None:
    graph = Graph.from_dict(
        {
            "nodes": [
                {
                    "id": "start",
                    "type": items_trigger,
                    "params": {"items": [{"t": "a"}, {"t": "b"}]},
                },
                {
                    "id": "node",
                    "type": "http.request",
                    "params": {"url": f"{server.url}/echo", "query": {"q": "{{ json.t }}"}},
                },
            ],
            "edges": [{"source": "start", "target": "node"}],
        }
    )
    run = RunContext(
        execution={"id": "ex-1", "mode": "manual"}, trigger_input={}, http_client=client
    )

    result = run_graph(graph, context=run, observer=NullObserver())

    assert [item["body"]["query"] for item in result.last_items] == [{"q": ["a"]}, {"q": ["b"]}]


def test_text_response_is_kept_as_text_and_header_names_are_lower_case(
    client: httpx.Client, server: RecordingServer
) -> None:
    item = only_item(run_http(client, url=f"{server.url}/text"))

    assert (item["status"], item["body"]) == (200, "plain words")
    assert item["headers"]["content-type"] == "text/plain; charset=utf-8"
    assert all(name == name.lower() for name in item["headers"])


def test_response_format_text_keeps_json_as_text(
    client: httpx.Client, server: RecordingServer
) -> None:
    item = only_item(run_http(client, url=f"{server.url}/status/200", response_format="text"))

    assert item["body"] == '{"error": "boom"}'


def test_response_format_json_parses_a_body_not_labelled_json(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(client, url=f"{server.url}/json-as-text", response_format="json")

    assert only_item(result)["body"] == {"a": [1]}


def test_response_format_json_gives_null_for_an_empty_body(
    client: httpx.Client, server: RecordingServer
) -> None:
    url = f"{server.url}/redirect/1"

    result = run_http(
        client, url=url, follow_redirects=False, fail_on_status=False, response_format="json"
    )

    assert only_item(result)["body"] is None


def test_response_format_json_fails_on_invalid_json(
    client: httpx.Client, server: RecordingServer
) -> None:
    url = f"{server.url}/bad-json"

    result = run_http(client, url=url, response_format="json")

    assert result.error is not None
    assert result.error["message"].startswith(f"Response is not valid JSON: GET {url}: ")


def test_auto_format_keeps_invalid_json_as_text(
    client: httpx.Client, server: RecordingServer
) -> None:
    assert only_item(run_http(client, url=f"{server.url}/bad-json"))["body"] == "not json"


def test_file_response_is_saved_and_the_item_holds_the_reference(
    client: httpx.Client, server: RecordingServer
) -> None:
    files = MemoryFiles()

    item = only_item(
        run_http(client, url=f"{server.url}/file", response_format="file", files=files)
    )

    assert files.saved == [
        {"name": "report.pdf", "content": FILE_BYTES, "content_type": "application/pdf"}
    ]
    assert item["body"] == {
        "$file": "files/1",
        "name": "report.pdf",
        "size": len(FILE_BYTES),
        "content_type": "application/pdf",
    }


def test_file_response_without_a_file_store_fails_before_sending(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(client, url=f"{server.url}/file", response_format="file")

    assert result.error == {
        "message": "No file storage is available here.",
        "node_id": "node",
        "param": "params.response_format",
        "item": 0,
    }
    assert server.requests == []


def test_idempotency_key_header_is_sent_when_asked(
    client: httpx.Client, server: RecordingServer
) -> None:
    run_http(client, url=f"{server.url}/text", send_idempotency_key=True)
    run_http(client, url=f"{server.url}/text")

    sent = [headers.get("idempotency-key") for _, _, headers, _ in server.requests]
    assert sent == ["ex-1:node:1", None]


# Status handling


def test_error_status_fails_the_node(client: httpx.Client, server: RecordingServer) -> None:
    url = f"{server.url}/status/404"

    result = run_http(client, url=url)

    assert result.error == {"message": f"HTTP 404 from GET {url}", "node_id": "node", "item": 0}


def test_error_status_passes_through_when_fail_on_status_is_false(
    client: httpx.Client, server: RecordingServer
) -> None:
    item = only_item(run_http(client, url=f"{server.url}/status/500", fail_on_status=False))

    assert (item["status"], item["body"]) == (500, {"error": "boom"})


def test_error_message_hides_a_password_in_the_url(
    client: httpx.Client, server: RecordingServer
) -> None:
    url = f"{server.url}/status/500".replace("http://", "http://ada:hunter2@")

    result = run_http(client, url=url)

    assert result.error == {
        "message": f"HTTP 500 from GET {server.url}/status/500",
        "node_id": "node",
        "item": 0,
    }


def test_unsupported_url_scheme_fails_on_the_url_param(client: httpx.Client) -> None:
    result = run_http(client, url="ftp://files.example.com/a.csv")

    assert result.error is not None
    assert result.error["message"].startswith("Invalid URL 'ftp://files.example.com/a.csv': ")
    assert result.error["param"] == "params.url"


def test_non_boolean_flag_from_an_expression_is_refused(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client, items=[{"f": "false"}], url=f"{server.url}/text", fail_on_status="{{ json.f }}"
    )

    assert result.error is not None
    assert result.error["param"] == "params.fail_on_status"


# Redirects


def test_redirects_are_followed_up_to_max_redirects(
    client: httpx.Client, server: RecordingServer
) -> None:
    item = only_item(run_http(client, url=f"{server.url}/redirect/3", max_redirects=3))

    assert (item["status"], item["body"]["method"]) == (200, "GET")
    assert [path for _, path, _, _ in server.requests] == [
        "/redirect/3",
        "/redirect/2",
        "/redirect/1",
        "/redirect/0",
    ]


def test_more_redirects_than_max_redirects_fail_the_node(
    client: httpx.Client, server: RecordingServer
) -> None:
    url = f"{server.url}/redirect/3"

    result = run_http(client, url=url, max_redirects=2)

    assert result.error == {
        "message": f"Too many redirects (more than 2): GET {url}",
        "node_id": "node",
        "item": 0,
    }
    assert len(server.requests) == 3


def test_default_redirect_bound_is_five(client: httpx.Client, server: RecordingServer) -> None:
    assert only_item(run_http(client, url=f"{server.url}/redirect/5"))["status"] == 200
    assert run_http(client, url=f"{server.url}/redirect/6").status == "failed"


def test_max_redirects_above_twenty_is_refused(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(client, url=f"{server.url}/text", max_redirects=21)

    assert result.error is not None
    assert result.error["param"] == "params.max_redirects"


def test_redirect_is_returned_when_follow_redirects_is_false(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client, url=f"{server.url}/redirect/1", follow_redirects=False, fail_on_status=False
    )

    item = only_item(result)
    assert (item["status"], item["headers"]["location"]) == (302, "/redirect/0")
    assert len(server.requests) == 1


# Credentials


@pytest.mark.parametrize(
    ("credential", "header", "value", "secret"),
    [
        (
            {"type": "http_basic", "username": "ada", "password": "s3cret"},
            "authorization",
            "Basic " + base64.b64encode(b"ada:s3cret").decode(),
            "s3cret",
        ),
        ({"type": "http_bearer", "token": "tok-123"}, "authorization", "Bearer tok-123", "tok-123"),
        ({"type": "http_header", "name": "X-Api-Key", "value": "k-9"}, "x-api-key", "k-9", "k-9"),
        (
            {"type": "oauth2_client", "client_id": "c", "access_token": "at-77"},
            "authorization",
            "Bearer at-77",
            "at-77",
        ),
    ],
)
def test_credential_is_applied_and_never_emitted(
    client: httpx.Client,
    server: RecordingServer,
    credential: dict[str, Any],
    header: str,
    value: str,
    secret: str,
) -> None:
    item = only_item(run_http(client, url=f"{server.url}/text", credential=credential))

    [(_, _, headers, _)] = server.requests
    assert headers[header] == value
    assert secret not in json.dumps(item)


def test_credential_wins_over_a_header_param_of_the_same_name(
    client: httpx.Client, server: RecordingServer
) -> None:
    run_http(
        client,
        url=f"{server.url}/text",
        headers={"authorization": "Bearer mine"},
        credential={"type": "http_bearer", "token": "tok"},
    )

    assert server.requests[0][2]["authorization"] == "Bearer tok"


def test_credential_does_not_follow_a_redirect_to_another_origin(
    client: httpx.Client, servers: Callable[[], RecordingServer]
) -> None:
    first, other = servers(), servers()
    credential = {"type": "http_header", "name": "X-Api-Key", "value": "k-9"}

    run_http(client, url=f"{first.url}/redirect-to?url={other.url}/text", credential=credential)
    run_http(client, url=f"{first.url}/redirect/1", credential=credential)

    assert [h.get("x-api-key") for _, _, h, _ in first.requests] == ["k-9", "k-9", "k-9"]
    assert [h.get("x-api-key") for _, _, h, _ in other.requests] == [None]


def test_credential_of_another_type_is_refused(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(client, url=f"{server.url}/text", credential={"type": "slack", "token": "x"})

    assert result.error == {
        "message": "Credential type 'slack' cannot be used here; use http_basic, http_bearer, "
        "http_header or oauth2_client.",
        "node_id": "node",
        "param": "credential",
    }
    assert server.requests == []


def test_an_oauth2_credential_that_was_never_connected_is_refused(
    client: httpx.Client, server: RecordingServer
) -> None:
    credential = {"type": "oauth2_client", "client_id": "c"}

    result = run_http(client, url=f"{server.url}/text", credential=credential)

    assert (
        result.error["message"] == "This OAuth2 credential is not connected yet: connect it first."
    )
    assert server.requests == []


def test_credential_with_a_line_break_is_refused_without_showing_it(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client,
        url=f"{server.url}/text",
        credential={"type": "http_bearer", "token": "tok\r\nX-Evil: 1"},
    )

    assert result.error == {
        "message": "Credential field 'token' contains characters not allowed in a header.",
        "node_id": "node",
        "param": "credential",
    }
    assert server.requests == []


# Limits


def test_timeout_fails_with_the_timeout_in_the_message(
    client: httpx.Client, server: RecordingServer
) -> None:
    url = f"{server.url}/slow"

    result = run_http(client, url=url, timeout_seconds=0.5)

    assert result.error == {
        "message": f"Timed out after 0.5 s: GET {url}",
        "node_id": "node",
        "item": 0,
    }


def test_execution_deadline_shortens_the_timeout(
    client: httpx.Client, server: RecordingServer
) -> None:
    url = f"{server.url}/slow"

    result = run_http(client, url=url, timeout_seconds=30, deadline_seconds=0.3)

    assert result.error == {
        "message": f"Timed out after 0.3 s: GET {url}",
        "node_id": "node",
        "item": 0,
    }


def test_timeout_above_300_seconds_is_refused(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(client, url=f"{server.url}/text", timeout_seconds=301)

    assert result.error is not None
    assert result.error["param"] == "params.timeout_seconds"


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_response_over_10_mb_is_refused(
    client: httpx.Client, server: RecordingServer, path: str
) -> None:
    url = f"{server.url}{path}"

    result = run_http(client, url=url)

    assert result.error == {
        "message": f"Response is larger than {MAX_RESPONSE_BYTES} bytes: GET {url}",
        "node_id": "node",
        "item": 0,
    }


def test_connection_refused_fails_with_a_clear_message(
    client: httpx.Client, closed_port_url: str
) -> None:
    result = run_http(client, url=closed_port_url)

    assert result.error is not None
    assert result.error["message"].startswith(f"Could not connect: GET {closed_port_url}: ")


# Sending file items on (issue #12, point 13)


def stored(files: MemoryFiles, content: bytes = FILE_BYTES) -> dict[str, Any]:
    return files.save(name="report.pdf", content=content, content_type="application/pdf")


def test_a_file_body_sends_the_files_bytes_with_its_content_type(
    client: httpx.Client, server: RecordingServer
) -> None:
    files = MemoryFiles()
    ref = stored(files)

    only_item(
        run_http(
            client,
            items=[{"doc": ref}],
            files=files,
            method="POST",
            url=f"{server.url}/echo",
            body="{{ json.doc }}",
            body_type="file",
        )
    )

    [(method, _, headers, body)] = server.requests
    assert (method, body) == ("POST", FILE_BYTES)
    assert headers["content-type"] == "application/pdf"


def test_a_multipart_body_sends_file_references_as_file_parts_and_the_rest_as_fields(
    client: httpx.Client, server: RecordingServer
) -> None:
    files = MemoryFiles()
    ref = stored(files)

    only_item(
        run_http(
            client,
            items=[{"doc": ref}],
            files=files,
            method="POST",
            url=f"{server.url}/echo",
            body={"upload": "{{ json.doc }}", "note": "monthly", "n": 3},
            body_type="multipart",
        )
    )

    [(_, _, headers, body)] = server.requests
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="upload"; filename="report.pdf"' in body
    assert b"Content-Type: application/pdf\r\n\r\n" + FILE_BYTES in body
    assert b'name="note"\r\n\r\nmonthly' in body and b'name="n"\r\n\r\n3' in body


def test_a_forged_reference_to_a_file_not_of_this_execution_fails_the_item_unsent(
    client: httpx.Client, server: RecordingServer
) -> None:
    forged = {"$file": "files/other-execution/secret.pdf", "name": "secret.pdf"}

    result = run_http(
        client,
        items=[{"doc": forged}],
        files=MemoryFiles(),
        method="POST",
        url=f"{server.url}/echo",
        body={"upload": "{{ json.doc }}"},
        body_type="multipart",
    )

    assert result.status == "failed"
    assert result.error["message"] == "The file 'secret.pdf' is not one of this execution's files."
    assert result.error["param"] == "params.body.upload"
    assert server.requests == []


def test_a_file_body_that_is_no_reference_is_refused_on_body(
    client: httpx.Client, server: RecordingServer
) -> None:
    result = run_http(
        client,
        files=MemoryFiles(),
        method="POST",
        url=f"{server.url}/echo",
        body="just text",
        body_type="file",
    )

    assert result.status == "failed"
    assert result.error["param"] == "params.body"
    assert "Expected a file item's reference" in result.error["message"]
    assert server.requests == []
