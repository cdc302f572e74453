"""The client address that rate limits, sign-in lockouts and the audit log count by.

The address is the connection's peer (``REMOTE_ADDR``): a client chooses its
``X-Forwarded-For`` header freely, so a limit keyed on the header is no limit. Only when
the peer is a proxy the operator named in ``LINKFLOW_TRUSTED_PROXIES`` does the header
count, and then only the part those proxies wrote: walking it from the right, the first
address that is not a trusted proxy is the client.

The same setting is the web server's ``--forwarded-allow-ips`` (Procfile, ``manage.py
serve``), so uvicorn rewrites the peer address by the same rule before Django sees it;
resolving here too keeps the rule true under any other server.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies_from(entries: Iterable[str]) -> tuple[Network, ...]:
    """Parse ``LINKFLOW_TRUSTED_PROXIES`` entries (IP addresses or CIDR networks).

    Raises ValueError for anything else, "*" included: a typo in a security switch must
    stop start-up, and trusting every peer would let any client name its own address.
    """
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"LINKFLOW_TRUSTED_PROXIES: {text!r} is not an IP address or network "
                "(write e.g. 10.0.0.5 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return trusted_proxies_from(entries)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(text: str, networks: tuple[Network, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in networks)


def client_address(request: Any) -> str:
    """The address of the client behind ``request`` (a Django or DRF request): the peer,
    or, when the peer is a trusted proxy, the last untrusted hop its X-Forwarded-For
    names. "unknown" when the server gave no peer address."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    networks = _networks(tuple(settings.LINKFLOW_TRUSTED_PROXIES))
    if not networks or not _trusted(remote, networks):
        return remote or "unknown"
    header = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            address = _address(hop)
            return str(address) if address is not None else hop[:64]
    # Every hop is a trusted proxy: the first one is where the request started.
    return hops[0] if hops else remote
