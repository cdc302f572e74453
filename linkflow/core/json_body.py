"""Bounded request bodies: one size limit and one JSON depth limit for every entrance.

Django refuses a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with ``RequestDataTooBig`` and
the stdlib parser refuses deep JSON with ``RecursionError``; both used to surface as 500s.
Here they become ``413 payload_too_large`` (details ``{"max_bytes": n}``) and
``400 malformed_request``. The limit is one setting, ``LINKFLOW_REQUEST_MAX_BYTES``
(``DATA_UPLOAD_MAX_MEMORY_SIZE`` is set from it); webhooks read their own, larger bodies
and say so with ``@own_body_limit``.

A view that reads a body itself calls ``request_json(request)`` (or ``body_bytes`` and
``json_loads``); DRF views get the same rules through ``BoundedJSONParser``; the
middleware answers for everything else (form posts, a declared length over the limit).
"""

import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from rest_framework.parsers import JSONParser

from .errors import ErrorCode, LinkflowError, error_body

# Deeper JSON than this is refused: far beyond any real workflow or payload, and well
# inside what the parser, the database's jsonb and every later json.dumps can take.
MAX_JSON_DEPTH = 128

View = TypeVar("View", bound=Callable[..., Any])


def max_bytes() -> int:
    """The largest request body accepted (``LINKFLOW_REQUEST_MAX_BYTES``)."""
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def too_large(limit: int | None = None) -> LinkflowError:
    """The 413 ``payload_too_large`` error, naming the limit in ``details.max_bytes``."""
    limit = max_bytes() if limit is None else limit
    return LinkflowError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is larger than {limit} bytes.",
        details={"max_bytes": limit},
        status_code=413,
    )


def malformed(message: str) -> LinkflowError:
    """The 400 ``malformed_request`` error."""
    return LinkflowError(ErrorCode.MALFORMED_REQUEST, message, status_code=400)


def body_bytes(request: HttpRequest, *, limit: int | None = None) -> bytes:
    """The raw body, at most ``limit`` bytes (default ``max_bytes()``), read from the stream
    so no more than limit+1 bytes are ever held. Raises ``too_large`` (413) past it and
    ``malformed_request`` (400) for a body the client did not finish sending."""
    limit = max_bytes() if limit is None else limit
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    try:
        body = request.read(limit + 1)  # the declared length may be absent or wrong
    except UnreadablePostError:
        raise malformed("The request body could not be read.") from None
    if len(body) > limit:
        raise too_large(limit)
    return body


def json_loads(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``raw`` parsed as strict JSON (no NaN or Infinity), nested at most ``max_depth``
    arrays and objects deep. Raises ``malformed_request`` (400) otherwise."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise malformed(f"The body is not valid JSON: {error}") from None
    if isinstance(raw, bytes):
        brackets = raw.count(b"[") + raw.count(b"{")
    else:
        brackets = raw.count("[") + raw.count("{")
    # Only a text with that many brackets can be that deep: the walk is for those alone.
    if brackets > max_depth and json_depth(value) > max_depth:
        raise _too_deep(max_depth)
    return value


def request_json(request: HttpRequest, *, limit: int | None = None) -> Any:
    """The request's body as JSON within both limits (None for an empty body); the errors
    of ``body_bytes`` and ``json_loads``."""
    raw = body_bytes(request, limit=limit)
    return json_loads(raw) if raw.strip() else None


def json_depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` nests (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


# The mark own_body_limit sets on a view function and the middleware reads.
_OWN_BODY_LIMIT = "own_body_limit"


def own_body_limit(view: View) -> View:
    """Mark a view that reads and bounds its body itself (webhooks, with their own limit):
    ``BodyLimitMiddleware`` leaves it alone."""
    setattr(view, _OWN_BODY_LIMIT, True)
    return view


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with this module's depth rule and error codes."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = max_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:  # Django checks only a declared length
            raise too_large(limit)
        return json_loads(raw) if raw.strip() else None


class BodyLimitMiddleware:
    """Answers 413 before any view, form or CSRF check reads a body declared too large, and
    turns a ``RequestDataTooBig`` raised in a view (a body without a declared length) into
    the same 413. Put it before CsrfViewMiddleware: that one reads form posts."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if getattr(view, _OWN_BODY_LIMIT, False):
            return None
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > max_bytes():
            return error_response(too_large())
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return error_response(too_large())
        return None


def error_response(error: LinkflowError) -> JsonResponse:
    """``error`` as a plain-Django JSON response in the one error shape."""
    body = error_body(error.code, error.message, error.details)
    return JsonResponse(body, status=error.status_code)


class NestedTooDeep(LinkflowError):
    """400 ``malformed_request``: JSON nested deeper than allowed (a caller that words its
    own message for bad JSON still lets this one through)."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(
            ErrorCode.MALFORMED_REQUEST,
            f"The JSON is nested more than {max_depth} levels deep.",
            details={"max_depth": max_depth},
            status_code=400,
        )


def _too_deep(max_depth: int) -> LinkflowError:
    return NestedTooDeep(max_depth)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
