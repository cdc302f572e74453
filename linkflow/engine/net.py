"""Outbound connections that cannot be pointed at the platform's own network (SSRF guard).

Workflows are written by users, so a URL in a node is untrusted: without a guard a
workflow could read a cloud metadata endpoint, an admin port on localhost or a database
on the private network, and show the answer in its run output.

``guarded_client()`` returns an ``httpx.Client`` whose connections are opened by
``GuardedBackend``. Every new connection, so every redirect hop to a new origin,
resolves the host once, refuses it when any resolved address is internal, and then
connects to exactly the addresses it checked: the URL, the ``Host`` header and the TLS
server name keep the host name, and nothing resolves the name a second time, so DNS
rebinding has no window. A pooled keep-alive connection is only ever reused for its own
origin (scheme, host, port), and its peer address was checked when it was opened.

Every other protocol a node speaks (SMTP today, databases and brokers later) opens its
TCP connections with ``open_guarded_socket()``: the same resolve-once, check, connect-to-
the-checked-address rule under the same ``AddressPolicy``, with the node's timeout.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses to try, in order; the default asks the system resolver.
Resolver = Callable[[str, int], Sequence[str]]

# Instance metadata and similar host-local cloud endpoints. Some are ordinary public
# addresses (Azure's 168.63.129.16), so they are listed, not inferred. They stay blocked
# even with allow_private, because opening the private network rarely means "hand out
# the machine's cloud credentials"; only an explicit allow_hosts entry reaches them.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS pod identity agent
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)
_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class BlockedAddress(httpx.TransportError, OSError):
    """The guard refused to connect: ``host`` resolved to ``address``, which is ``reason``
    (for example "loopback"). Raised before any byte is sent to that address, so the
    answer is the same whether anything listens there or not. An httpx.TransportError for
    HTTP callers and an OSError for socket users (smtplib, database drivers), which treat
    it like any other connection failure."""

    def __init__(self, *, host: str, address: str, reason: str) -> None:
        super().__init__(
            f"Refused to connect to {host!r} at {address}: {reason} address. "
            "Internal network addresses are blocked unless an operator allows them."
        )
        self.host = host
        self.address = address
        self.reason = reason


class ResponseTooLarge(Exception):
    """A response body grew past the reader's ``limit`` (bytes, after decompression)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Response is larger than {limit} bytes")
        self.limit = limit


def read_capped(response: httpx.Response, *, limit: int, deadline: float | None = None) -> bytes:
    """The body of a streamed ``response``, refusing to hold more than ``limit`` bytes.

    A hostile server must not exhaust a worker's memory or time: raises ResponseTooLarge
    past ``limit`` (counted after decompression, so compression bombs stop too), and
    httpx.ReadTimeout once ``deadline`` (a time.monotonic() value) has passed between
    chunks, so a server trickling bytes cannot outlive the caller's timeout.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(limit)
        chunks.append(chunk)
        if deadline is not None and time.monotonic() > deadline:
            raise httpx.ReadTimeout("the response took longer than the timeout")
    return b"".join(chunks)


def blocked_reason(address: IPAddress) -> str | None:
    """Why connecting to ``address`` is refused by default ("loopback", "private", …), or
    None for a globally routable address. Addresses that embed an IPv4 address
    (IPv4-mapped, 6to4, NAT64) are judged by the embedded address."""
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return blocked_reason(embedded)
    return _internal_reason(address)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _internal_reason(address: IPAddress) -> str | None:
    # From the most specific to the most general, so the message names the real reason.
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address in _CARRIER_GRADE_NAT, "carrier-grade NAT"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        # Whatever else the registries do not call global (documentation, benchmarking…).
        (not address.is_global, "non-global"),
    )
    return next((reason for matched, reason in checks if matched), None)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection, in resolver order,
    without duplicates. Raises OSError (socket.gaierror) when the name does not resolve.
    IP literals, including the forms the C library accepts (2130706433, 127.1), come back
    as the address they mean, so they are checked like any name."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which destinations a guarded client may reach. Immutable, so threads share it."""

    allow_private: bool = False
    # (host, port) pairs, port None for any port; see allow_hosts_from().
    allow_hosts: frozenset[tuple[str, int | None]] = frozenset()
    # LinkFlow's own database, Redis and brokers as (network, port): refused to every node
    # whatever else is allowed, since they hold every workspace's data. See own_endpoints().
    own_endpoints: frozenset[tuple[IPNetwork, int]] = frozenset()

    def check_own(self, host: str, address: str, port: int) -> None:
        """Raise BlockedAddress when ``address``:``port`` is one of LinkFlow's own services."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        ip = _embedded_ipv4(ip) or ip
        if any(ip in network and port == own for network, own in self.own_endpoints):
            raise BlockedAddress(host=host, address=address, reason="LinkFlow's own service")

    def host_allowed(self, host: str, port: int) -> bool:
        """True when an operator listed this host, or this host and port, explicitly."""
        name = _normalise_host(host)
        return (name, None) in self.allow_hosts or (name, port) in self.allow_hosts

    def check(self, host: str, address: str) -> None:
        """Raise BlockedAddress when ``address`` (a resolution of ``host``) is refused."""
        reason = blocked_reason(ipaddress.ip_address(address.split("%", 1)[0]))
        if reason is None or (self.allow_private and reason != "cloud metadata"):
            return
        raise BlockedAddress(host=host, address=address, reason=reason)


def allow_hosts_from(entries: Iterable[str]) -> frozenset[tuple[str, int | None]]:
    """Parse operator entries ("API.internal", "10.0.0.5:8080", "fd00::5", "[::1]:8080")
    into (lower-case host, port or None) pairs; blank entries are dropped. Raises
    ValueError for a port that is not a number, so a typo fails at startup, not silently.
    """
    parsed = set()
    for entry in entries:
        text = entry.strip().lower()
        if not text:
            continue
        if text.startswith("["):  # "[v6]" or "[v6]:port"
            host, _, port = text[1:].partition("]")
            port = port.removeprefix(":")
        elif text.count(":") == 1:  # "name:port"; a bare IPv6 address has several colons
            host, _, port = text.partition(":")
        else:
            host, port = text, ""
        if port and not port.isdigit():
            raise ValueError(f"allowed host {entry.strip()!r} has an invalid port")
        parsed.add((_normalise_host(host), int(port) if port else None))
    return frozenset(parsed)


def _normalise_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


class UnresolvedHost(OSError):
    """``host`` has no address: the resolver failed or answered nothing."""


def checked_addresses(
    host: str, port: int, *, policy: AddressPolicy, resolver: Resolver = system_resolver
) -> Sequence[str]:
    """The addresses to connect to for ``host``:``port``, resolved once and each checked.

    Callers connect to these addresses only, never to the name again (no DNS-rebinding
    window). Raises BlockedAddress when any resolved address is refused (one bad answer
    refuses the host: which answer gets used is not ours to predict) and UnresolvedHost
    when the name does not resolve. A host the policy lists explicitly is not checked.
    """
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as error:
        raise UnresolvedHost(f"Could not resolve host {host!r}: {error}") from error
    if not addresses:
        raise UnresolvedHost(f"Could not resolve host {host!r}: no addresses")
    allowed = policy.host_allowed(host, port)
    for address in addresses:
        policy.check_own(host, address, port)  # even for a host the operator listed
        if not allowed:
            policy.check(host, address)
    return addresses


_LOOPBACK_AND_ANY = tuple(
    ipaddress.ip_network(text) for text in ("127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128")
)


def own_endpoints(
    endpoints: Iterable[tuple[str, int]], *, resolver: Resolver = system_resolver
) -> frozenset[tuple[IPNetwork, int]]:
    """The (network, port) pairs that reach the given (host, port) services of LinkFlow.

    A name is resolved now (a name that does not resolve is skipped: nothing can reach
    it either). A service on a loopback or wildcard address is reachable through every
    loopback and wildcard address and through the machine's own addresses, so all of
    those are listed for its port.
    """
    found: set[tuple[IPNetwork, int]] = set()
    for host, port in endpoints:
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError):
            continue
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            found.add((ipaddress.ip_network(ip), port))
            if ip.is_loopback or ip.is_unspecified:
                found.update((network, port) for network in _LOOPBACK_AND_ANY)
                found.update(
                    (ipaddress.ip_network(own.split("%", 1)[0]), port)
                    for own in _machine_addresses()
                )
    return frozenset(found)


def _machine_addresses() -> list[str]:
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)]
    except OSError:
        return []


def open_guarded_socket(
    host: str,
    port: int,
    *,
    timeout: float,
    policy: AddressPolicy,
    resolver: Resolver = system_resolver,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """A connected TCP socket to ``host``:``port`` that the address policy allows.

    For every protocol but HTTP (which uses guarded_client): resolves once, checks every
    address like the HTTP guard does, then connects to the checked addresses in turn
    until one answers. ``timeout`` bounds the whole connect phase (all addresses
    together) and is left on the socket, so each later operation is bounded by it too.

    Raises BlockedAddress (an OSError) before any packet reaches a refused address,
    UnresolvedHost when the name does not resolve, TimeoutError when no address answered
    within ``timeout``, else the last connection error (ConnectionRefusedError…).
    """
    deadline = time.monotonic() + timeout
    error: OSError | None = None
    for address in checked_addresses(host, port, policy=policy, resolver=resolver):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            return _connect(
                address, port, timeout=timeout, connect_timeout=left, source_address=source_address
            )
        except OSError as failure:
            error = failure
    if error is None or isinstance(error, TimeoutError):
        raise TimeoutError(f"Could not connect to {host!r} within {timeout:g} s")
    raise error


def _connect(
    address: str,
    port: int,
    *,
    timeout: float,
    connect_timeout: float,
    source_address: tuple[str, int] | None,
) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout)
        if source_address is not None:
            sock.bind(source_address)
        sock.connect((address, port))
        sock.settimeout(timeout)
    except BaseException:
        sock.close()
        raise
    return sock


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that resolves, checks, and connects only to the
    addresses it checked. Holds nothing mutable, hence thread-safe."""

    def __init__(self, *, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first reachable checked address of ``host``.

        Raises BlockedAddress when any resolved address is refused (one bad answer
        refuses the host: which answer gets used is not ours to predict), ConnectError
        when the name does not resolve, else the last connection error.
        """
        error: Exception | None = None
        for address in self._checked_addresses(host, port):
            try:
                return self._sockets.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failure:
                error = failure
        assert error is not None  # _checked_addresses never returns an empty list
        raise error

    def _checked_addresses(self, host: str, port: int) -> Sequence[str]:
        try:
            return checked_addresses(host, port, policy=self._policy, resolver=self._resolver)
        except BlockedAddress:
            raise
        except UnresolvedHost as error:
            raise httpcore.ConnectError(str(error)) from error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Always refused: a Unix socket is the local machine by definition."""
        raise BlockedAddress(host=path, address=path, reason="Unix socket")

    def sleep(self, seconds: float) -> None:
        """Delegate to the standard backend (httpcore sleeps between connect retries)."""
        self._sockets.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's pooled HTTP/1.1 transport whose pool opens connections through
    GuardedBackend. Never uses proxies from the environment: behind a proxy the guard
    would check the proxy's address instead of the destination's."""

    def __init__(self, *, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=False)  # costly: built once
        super().__init__(verify=ssl_context, trust_env=False, limits=_POOL_LIMITS)
        # httpx has no public switch for the network backend, so the pool it built is
        # replaced by one with the same settings plus ours (httpx is pinned exactly).
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=_POOL_LIMITS.max_connections,
            max_keepalive_connections=_POOL_LIMITS.max_keepalive_connections,
            keepalive_expiry=_POOL_LIMITS.keepalive_expiry,
            network_backend=GuardedBackend(policy=policy, resolver=resolver),
        )


def guarded_client(
    *,
    allow_private: bool = False,
    allow_hosts: Sequence[str] = (),
    timeout: float = 30.0,
    resolver: Resolver = system_resolver,
    policy: AddressPolicy | None = None,
) -> httpx.Client:
    """A pooled, thread-safe ``httpx.Client`` that refuses internal destinations.

    Refused with BlockedAddress (an httpx.TransportError), before anything is sent: a
    host with any resolved address that is private, loopback, link-local, multicast,
    reserved, unspecified, carrier-grade NAT, an IPv6 form embedding such an IPv4 address,
    or a cloud metadata address. ``allow_private`` opens all of these except metadata;
    an ``allow_hosts`` entry ("host" or "host:port") opens that host completely. The client
    follows no redirects by itself (callers bound them per request; each hop to a new
    origin is checked), ignores proxy variables and keeps no cookies. ``resolver`` is for
    tests and custom DNS. A ``policy`` given replaces ``allow_private`` and ``allow_hosts``.
    Close the client when done: it owns a connection pool.
    """
    if policy is None:
        policy = AddressPolicy(
            allow_private=allow_private, allow_hosts=allow_hosts_from(allow_hosts)
        )
    return httpx.Client(
        transport=GuardedTransport(policy=policy, resolver=resolver),
        # The client is shared by every workspace's runs: a cookie one run receives must
        # never ride along on another's request, so the jar accepts none.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


_default_client: httpx.Client | None = None
_default_client_lock = threading.Lock()


def default_client() -> httpx.Client:
    """The process-wide default-deny ``guarded_client()``, for nodes whose host gave no
    client. Shared rather than built per run: its pool and TLS context are reused."""
    global _default_client
    if _default_client is None:
        with _default_client_lock:
            if _default_client is None:
                _default_client = guarded_client()
    return _default_client
