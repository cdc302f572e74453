"""A real HTTP server on 127.0.0.1 standing in for outside services."""

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class _JsonHandler(BaseHTTPRequestHandler):
    """Answers JSON and keeps quiet in the test output."""

    def _json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class OrdersHandler(_JsonHandler):
    """Routes:

    - GET /orders?user=N: the user's order total (user 1 big, others small);
    - GET /flaky/<key>?failures=N: 500 for the first N calls per key, then 200;
    - GET /slow?seconds=S: answers after S seconds;
    - GET /held: answers once the test sets ``server.release`` (at most 60 s).
    - POST /users/<n>: 201 with the user created (any method: the same).

    Every method is routed alike; ``hits`` lists the paths in arrival order.
    """

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        if url.path.startswith("/users/"):
            self._json(201, {"user": url.path.rsplit("/", 1)[1], "method": self.command})
        elif url.path == "/orders":
            user = query.get("user", "")
            self._json(200, {"user": user, "total": 250 if user == "1" else 20})
        elif url.path.startswith("/flaky/"):
            calls = self.server.calls  # type: ignore[attr-defined]
            calls[url.path] += 1
            failing = calls[url.path] <= int(query.get("failures", "2"))
            self._json(500 if failing else 200, {"call": calls[url.path]})
        elif url.path == "/slow":
            time.sleep(float(query.get("seconds", "1")))
            self._json(200, {"slept": float(query.get("seconds", "1"))})
        elif url.path == "/held":
            released = self.server.release.wait(60)  # type: ignore[attr-defined]
            self._json(200, {"released": released})
        else:
            self._json(404, {"error": "no such path"})

    do_POST = do_PUT = do_GET


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A threaded server of ``handler`` on a free port of 127.0.0.1 while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def orders_server() -> Iterator[ThreadingHTTPServer]:
    with _serving(OrdersHandler) as server:
        server.hits = []  # type: ignore[attr-defined]
        server.calls = Counter()  # type: ignore[attr-defined]
        server.release = threading.Event()  # type: ignore[attr-defined]
        yield server


class HeadersEchoHandler(_JsonHandler):
    """Answers any GET with ``{"headers": {<lower-case name>: value}}``: the request's
    headers sent back, as a careless API or a debugging endpoint does."""

    def do_GET(self) -> None:
        self._json(200, {"headers": {name.lower(): v for name, v in self.headers.items()}})


@contextmanager
def headers_echo_server() -> Iterator[str]:
    """A HeadersEchoHandler server; yields its URL."""
    with _serving(HeadersEchoHandler) as server:
        yield f"http://127.0.0.1:{server.server_port}/echo"


REPORT_BYTES = b"%PDF-1.7 quarterly report \x00\x01\x02"


class FilesHandler(BaseHTTPRequestHandler):
    """GET /report.pdf answers REPORT_BYTES as a PDF attachment; any other request (an
    upload) is kept in ``server.uploads`` as (path, content type, body) and answered 204."""

    def do_GET(self) -> None:
        if self.command == "GET" and self.path == "/report.pdf":
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Disposition", 'attachment; filename="report.pdf"')
            self.send_header("Content-Length", str(len(REPORT_BYTES)))
            self.end_headers()
            self.wfile.write(REPORT_BYTES)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        uploads = self.server.uploads  # type: ignore[attr-defined]
        uploads.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(204)
        self.end_headers()

    do_POST = do_PUT = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def files_server() -> Iterator[ThreadingHTTPServer]:
    """A FilesHandler server: serves a report, records uploads."""
    with _serving(FilesHandler) as server:
        server.uploads = []  # type: ignore[attr-defined]
        yield server


class PagesHandler(_JsonHandler):
    """A paginated list of ``server.total`` records (``{"id": n}``), 2 per page, served
    four ways; ``server.hits`` lists the paths asked for, in arrival order:

    - GET /link?page=N: the page, a relative ``Link: <...>; rel="next"`` while more remain;
    - GET /next?page=N: ``{"records", "next"}``, next an absolute URL or null at the end;
    - GET /numbered?page=N: the page's records as a list, ``[]`` past the end;
    - GET /cursor?cursor=C: ``{"records", "cursor"}``, the cursor null at the end;
    - GET /fail-at?page=N&fail=F: like /link, but page F answers 500 (once per server);
    - GET /evil: a next link to ``server.evil_next`` (an address no node may reach);
    - any of them with ``slow=N``: page N answers after ``server.slow_seconds``.
    """

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        page = int(query.get("page") or query.get("cursor") or 1)
        total = self.server.total  # type: ignore[attr-defined]
        records = [{"id": n} for n in range((page - 1) * 2 + 1, min(page * 2, total) + 1)]
        more = page * 2 < total
        base = f"http://127.0.0.1:{self.server.server_port}"
        if query.get("slow") == str(page):
            time.sleep(self.server.slow_seconds)  # type: ignore[attr-defined]
        if url.path == "/fail-at" and page == int(query["fail"]) and not self.server.failed:  # type: ignore[attr-defined]
            self.server.failed = True  # type: ignore[attr-defined]
            self._json(500, {"error": "page failed"})
        elif url.path in ("/link", "/fail-at"):
            kept = "".join(f"&{k}={query[k]}" for k in ("fail", "slow") if k in query)
            nxt = f"{url.path}?page={page + 1}{kept}"
            self._json(200, {"records": records}, link=nxt if more else None)
        elif url.path == "/next":
            nxt = f"{base}/next?page={page + 1}" if more else None
            self._json(200, {"records": records, "next": nxt})
        elif url.path == "/numbered":
            self._json(200, records)
        elif url.path == "/cursor":
            self._json(200, {"records": records, "cursor": str(page + 1) if more else None})
        elif url.path == "/evil":
            self._json(200, {"records": []}, link=self.server.evil_next)  # type: ignore[attr-defined]
        else:
            self._json(404, {"error": "no such path"})

    def _json(self, status: int, payload: object, *, link: str | None = None) -> None:  # type: ignore[override]
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if link:
            self.send_header("Link", f'<{link}>; rel="next"')
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def pages_server(
    *, total: int = 5, evil_next: str = "", slow_seconds: float = 3
) -> Iterator[ThreadingHTTPServer]:
    """A PagesHandler server of ``total`` records."""
    with _serving(PagesHandler) as server:
        server.slow_seconds = slow_seconds  # type: ignore[attr-defined]
        server.hits = []  # type: ignore[attr-defined]
        server.total = total  # type: ignore[attr-defined]
        server.failed = False  # type: ignore[attr-defined]
        server.evil_next = evil_next  # type: ignore[attr-defined]
        yield server
