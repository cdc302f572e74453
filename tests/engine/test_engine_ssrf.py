"""The SSRF guard (linkflow.engine.net) against real servers on the loopback interface.

Every local server is an internal address, so "allowed" servers are opened with
``allow_private`` or an ``allow_hosts`` entry, and refusals are proven by a server that
counts the connections it accepted.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from linkflow.engine import Graph, NullObserver, RunContext, run_graph
from linkflow.engine.net import (
    AddressPolicy,
    BlockedAddress,
    allow_hosts_from,
    blocked_reason,
    guarded_client,
    open_guarded_socket,
)


class _Handler(BaseHTTPRequestHandler):
    """GET /redirect?to=<url> answers 302 to it; anything else answers the Host header."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.server.hosts.append(self.headers.get("Host"))  # type: ignore[attr-defined]
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(url.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (self.headers.get("Host") or "").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class CountingServer(ThreadingHTTPServer):
    """Counts accepted connections and records the Host header of every request."""

    request_queue_size = 64  # the default 5 drops concurrent connects (1 s SYN retry)

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), _Handler)
        self.connections = 0
        self.hosts: list[str | None] = []
        self.lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def server_factory() -> Iterator[Any]:
    """Starts CountingServers on demand; all are stopped after the test."""
    started: list[CountingServer] = []

    def start(host: str = "127.0.0.1") -> CountingServer:
        server = CountingServer(host)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(server_factory: Any) -> CountingServer:
    return server_factory()


def refusal(host: str, address: str, reason: str) -> str:
    return (
        f"Refused to connect to {host!r} at {address}: {reason} address. "
        "Internal network addresses are blocked unless an operator allows them."
    )


# Default deny


def test_loopback_ip_is_refused_before_connecting(server: CountingServer) -> None:
    with guarded_client() as client, pytest.raises(BlockedAddress) as refused:
        client.get(f"http://127.0.0.1:{server.port}/")

    assert str(refused.value) == refusal("127.0.0.1", "127.0.0.1", "loopback")
    assert server.connections == 0


def test_ipv6_loopback_literal_is_refused_before_connecting(server_factory: Any) -> None:
    server = server_factory("::1")

    with guarded_client() as client, pytest.raises(BlockedAddress) as refused:
        client.get(f"http://[::1]:{server.port}/")

    assert str(refused.value) == refusal("::1", "::1", "loopback")
    assert server.connections == 0


def test_ipv4_mapped_ipv6_literal_is_judged_by_its_ipv4_address(server: CountingServer) -> None:
    with guarded_client() as client, pytest.raises(BlockedAddress) as refused:
        client.get(f"http://[::ffff:127.0.0.1]:{server.port}/")

    assert refused.value.reason == "loopback"
    assert server.connections == 0


def test_hostname_resolving_to_loopback_is_refused(server: CountingServer) -> None:
    with guarded_client() as client, pytest.raises(BlockedAddress) as refused:
        client.get(f"http://localhost:{server.port}/")

    assert refused.value.host == "localhost"
    assert refused.value.address in ("127.0.0.1", "::1")
    assert str(refused.value).startswith("Refused to connect to 'localhost' at ")
    assert server.connections == 0


def test_decimal_integer_ip_is_refused_as_the_address_it_means(server: CountingServer) -> None:
    with guarded_client() as client, pytest.raises(BlockedAddress) as refused:
        client.get(f"http://2130706433:{server.port}/")

    assert str(refused.value) == refusal("2130706433", "127.0.0.1", "loopback")
    assert server.connections == 0


def test_private_network_address_is_refused() -> None:
    with guarded_client(timeout=5) as client, pytest.raises(BlockedAddress) as refused:
        client.get("http://10.0.0.1/")

    assert str(refused.value) == refusal("10.0.0.1", "10.0.0.1", "private")


def test_cloud_metadata_address_is_refused_even_with_allow_private() -> None:
    for allow_private in (False, True):
        client = guarded_client(allow_private=allow_private, timeout=5)
        with client, pytest.raises(BlockedAddress) as refused:
            client.get("http://169.254.169.254/latest/meta-data")

        assert str(refused.value) == refusal("169.254.169.254", "169.254.169.254", "cloud metadata")


def test_a_host_with_one_internal_answer_among_public_ones_is_refused(
    server: CountingServer,
) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "127.0.0.1"]

    with guarded_client(resolver=resolver) as client, pytest.raises(BlockedAddress) as refused:
        client.get(f"http://mixed.test:{server.port}/")

    assert str(refused.value) == refusal("mixed.test", "127.0.0.1", "loopback")
    assert server.connections == 0


def test_redirect_from_an_allowed_server_to_a_private_address_is_refused(
    server_factory: Any,
) -> None:
    allowed, private = server_factory(), server_factory()
    target = f"http://127.0.0.1:{private.port}/secret"
    url = f"http://127.0.0.1:{allowed.port}/redirect?to={target}"

    client = guarded_client(allow_hosts=[f"127.0.0.1:{allowed.port}"])
    with client, pytest.raises(BlockedAddress) as refused:
        client.get(url, follow_redirects=True)

    assert str(refused.value) == refusal("127.0.0.1", "127.0.0.1", "loopback")
    assert allowed.hosts == [f"127.0.0.1:{allowed.port}"]
    assert private.connections == 0


def test_http_node_without_a_host_client_uses_the_default_deny_guard(
    server: CountingServer,
) -> None:
    url = f"http://127.0.0.1:{server.port}/"
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual", "params": {}},
                {"id": "node", "type": "http.request", "params": {"url": url}},
            ],
            "edges": [{"source": "start", "target": "node"}],
        }
    )
    run = RunContext(execution={"id": "ex-1", "mode": "manual"}, trigger_input={})

    result = run_graph(graph, context=run, observer=NullObserver())

    assert result.error == {
        "message": f"{refusal('127.0.0.1', '127.0.0.1', 'loopback')} (GET {url})",
        "node_id": "node",
        "item": 0,
    }
    assert server.connections == 0


# Opening the guard


def test_allow_private_reaches_local_servers(server: CountingServer) -> None:
    with guarded_client(allow_private=True) as client:
        response = client.get(f"http://localhost:{server.port}/")

    assert (response.status_code, response.text) == (200, f"localhost:{server.port}")


def test_allow_hosts_entry_with_a_port_opens_only_that_port(server_factory: Any) -> None:
    listed, other = server_factory(), server_factory()

    with guarded_client(allow_hosts=[f" 127.0.0.1:{listed.port} "]) as client:
        assert client.get(f"http://127.0.0.1:{listed.port}/").status_code == 200
        with pytest.raises(BlockedAddress):
            client.get(f"http://127.0.0.1:{other.port}/")

    assert other.connections == 0


def test_allow_hosts_entry_without_a_port_opens_every_port(server_factory: Any) -> None:
    first, second = server_factory("::1"), server_factory("::1")

    with guarded_client(allow_hosts=["[::1]"]) as client:
        statuses = [client.get(f"http://[::1]:{s.port}/").status_code for s in (first, second)]

    assert statuses == [200, 200]


# Connecting to the checked address


def test_connection_goes_to_the_address_the_guard_checked(server: CountingServer) -> None:
    # "service.test" does not exist in DNS: reaching the server proves the connection used
    # the resolver's (checked) answer, and nothing resolved the name a second time.
    lookups: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        return ["127.0.0.1"]

    with guarded_client(allow_private=True, resolver=resolver) as client:
        response = client.get(f"http://service.test:{server.port}/")

    assert response.text == f"service.test:{server.port}"
    assert server.hosts == [f"service.test:{server.port}"]
    assert lookups == [("service.test", server.port)]


def test_one_client_is_safe_to_share_between_threads(server: CountingServer) -> None:
    with guarded_client(allow_private=True) as client:

        def fetch(index: int) -> int:
            return client.get(f"http://127.0.0.1:{server.port}/?n={index}").status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(fetch, range(40)))

    assert statuses == [200] * 40
    assert len(server.hosts) == 40


def test_guarded_client_ignores_proxy_environment(
    server: CountingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would make the guard check the proxy instead of the destination.
    monkeypatch.setenv("HTTP_PROXY", "http://10.255.255.1:3128")

    with guarded_client() as client, pytest.raises(BlockedAddress):
        client.get(f"http://127.0.0.1:{server.port}/")

    assert server.connections == 0


def test_guarded_client_keeps_no_cookies_between_requests() -> None:
    client = guarded_client()
    jar_before = list(client.cookies.jar)
    client.cookies.extract_cookies(
        httpx.Response(
            200,
            headers={"Set-Cookie": "session=abc; Path=/"},
            request=httpx.Request("GET", "https://example.com/"),
        )
    )

    assert (jar_before, list(client.cookies.jar)) == ([], [])
    client.close()


# The address rules


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "private"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),
        ("192.0.2.10", "private"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_blocked_reason_classifies_addresses(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


def test_allow_hosts_entries_are_parsed_into_host_and_optional_port() -> None:
    entries = ["API.internal.", "10.0.0.5:8080", "fd00::5", "[::1]:8080", "[fd00::6]", " "]

    assert allow_hosts_from(entries) == {
        ("api.internal", None),
        ("10.0.0.5", 8080),
        ("fd00::5", None),
        ("::1", 8080),
        ("fd00::6", None),
    }


def test_allow_hosts_entry_with_a_bad_port_is_an_error() -> None:
    with pytest.raises(ValueError, match="allowed host 'db:five' has an invalid port"):
        guarded_client(allow_hosts=["db:five"])


# open_guarded_socket: the same policy for every protocol that is not HTTP


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def test_guarded_socket_refuses_a_name_resolving_internal_before_connecting(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with pytest.raises(BlockedAddress, match="loopback"):
        open_guarded_socket(
            "db.example.com", port, timeout=2, policy=AddressPolicy(), resolver=resolver
        )

    assert asked == ["db.example.com"]
    with pytest.raises(BlockingIOError):  # no connection ever reached the listener
        listener.accept()


def test_guarded_socket_connects_to_the_address_it_checked_resolving_once(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    answers = iter([["127.0.0.1"], ["203.0.113.9"]])  # a rebinding resolver's two answers
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    policy = AddressPolicy(allow_private=True)
    with open_guarded_socket(
        "db.example.com", port, timeout=2, policy=policy, resolver=resolver
    ) as sock:
        assert sock.getpeername() == ("127.0.0.1", port)
        assert sock.gettimeout() == 2  # each later operation is bounded too
    assert asked == ["db.example.com"]


def test_guarded_socket_keeps_metadata_blocked_with_allow_private() -> None:
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        open_guarded_socket(
            "169.254.169.254", 80, timeout=2, policy=AddressPolicy(allow_private=True)
        )
