"""A real HTTP server on 127.0.0.1 standing in for an outside service."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class OrdersHandler(BaseHTTPRequestHandler):
    """GET /orders?user=N answers the user's order total: user 1 big, others small."""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        user = parse_qs(url.query).get("user", [""])[0]
        body = json.dumps({"user": user, "total": 250 if user == "1" else 20}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.hits.append(self.path)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def orders_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OrdersHandler)
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
