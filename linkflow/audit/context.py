"""The address of the request being served, so services can audit it without a request."""

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from linkflow.core.client_ip import client_address

_client_ip: ContextVar[str | None] = ContextVar("linkflow_audit_client_ip", default=None)


def current_ip() -> str | None:
    """The client address of the request this thread serves; None outside requests."""
    return _client_ip.get()


def request_ip(request: HttpRequest) -> str | None:
    """The client address of the request, as the rate limits see it (the peer, or behind
    a proxy named in LINKFLOW_TRUSTED_PROXIES, the client it names)."""
    address = client_address(request)
    return None if address == "unknown" else address


class AuditContextMiddleware:
    """Makes the client address of each request available to ``audit_record``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _client_ip.set(request_ip(request))
        try:
            return self.get_response(request)
        finally:
            _client_ip.reset(token)
