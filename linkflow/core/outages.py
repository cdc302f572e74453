"""A backing service (PostgreSQL, Redis) being down is an outage, not a bug in LinkFlow.

Such failures answer ``503 service_unavailable`` with ``Retry-After`` in the one error
shape, so clients retry instead of reporting a crash. The DRF exception handler
(``linkflow.core.api``) uses ``is_outage`` for API views; ``OutageMiddleware`` does the same
for plain Django views (webhooks, health). Workers use ``is_outage`` to tell a transient
failure (try again later) from a poison job (dead letter).
"""

import logging
from collections.abc import Callable

import redis.exceptions
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from psycopg_pool import PoolTimeout, TooManyRequests

from .errors import ErrorCode, error_body

logger = logging.getLogger(__name__)

# Seconds a client should wait before trying again: long enough for a restart to finish.
RETRY_AFTER_SECONDS = 5

_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    TooManyRequests,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means a backing service is unreachable or overloaded."""
    return isinstance(exc, _OUTAGE_ERRORS)


def outage_body() -> dict[str, object]:
    """The error body of a 503 caused by an outage (no internals: hosts, ports, SQL)."""
    return error_body(
        ErrorCode.SERVICE_UNAVAILABLE,
        "A service LinkFlow depends on is unavailable; try again shortly.",
    )


def outage_response() -> JsonResponse:
    response = JsonResponse(outage_body(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class OutageMiddleware:
    """Answer 503 in the error shape when a plain Django view hits an outage."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_outage(exception):
            return None  # a real bug: Django's 500 handling (and logging) applies
        logger.warning("outage while serving %s: %r", request.path, exception)
        return outage_response()
