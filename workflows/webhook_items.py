"""A webhook call as the view read it, and the trigger item made of it.

The item is what the workflow's trigger node emits: ``{"method", "path", "query",
"headers", "body"}``, with everything the database cannot store refused up front.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.core.json_body import json_loads

# Characters PostgreSQL's jsonb refuses; stored as is they would fail the insert (a 500).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_JSON_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F])")


@dataclass(frozen=True)
class WebhookCall:
    """An HTTP call to a webhook as the view read it. ``headers`` have lower-case names;
    ``query`` is every (name, value) pair in order; ``body`` is the raw bytes."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    content_type: str
    body: bytes


def webhook_item(*, call: WebhookCall, hidden_headers: Iterable[str] = ()) -> dict[str, Any]:
    """The trigger item ``{"method", "path", "query", "headers", "body"}`` for the call.

    A repeated query or form name gives a list. The body is parsed JSON for a JSON content
    type, a dict for a form, else text (invalid UTF-8 and NUL replaced); ``{}`` when empty.
    ``hidden_headers`` (the auth headers) are left out. Raises ``malformed_request`` (400)
    for JSON that does not parse, and for JSON, form, query or header text holding a NUL
    or an unpaired surrogate, which the database cannot store.
    """
    hidden = set(hidden_headers)
    item = {
        "method": call.method,
        "path": call.path,
        "query": _grouped(call.query),
        "headers": {k: v for k, v in call.headers.items() if k not in hidden},
    }
    _storable_check(item)
    item["body"] = _body_parse(call)
    return item


def _body_parse(call: WebhookCall) -> Any:
    if not call.body:
        return {}
    content_type = call.content_type.lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        return _json_parse(call.body)
    if content_type == "application/x-www-form-urlencoded":
        text = call.body.decode("utf-8", errors="replace")
        form = _grouped(parse_qsl(text, keep_blank_values=True))
        _storable_check(form)
        return form
    return call.body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _json_parse(raw: bytes) -> Any:
    value = json_loads(raw)  # 400 malformed_request for bad or too-deep JSON
    # Walking a large body is costly; only an escape in the raw text can produce the
    # characters the database refuses (literal control characters are invalid JSON).
    if _UNSTORABLE_JSON_ESCAPE.search(raw):
        _storable_check(value)
    return value


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}


def _storable_check(value: Any) -> None:
    """Raise malformed_request if any string (key or value) inside ``value`` has a
    character PostgreSQL's jsonb refuses. Iterative: deep JSON must not overflow."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            if _UNSTORABLE.search(current):
                raise _malformed("The request holds a NUL character or an unpaired surrogate.")
        elif isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def _malformed(message: str) -> LinkflowError:
    return LinkflowError(ErrorCode.MALFORMED_REQUEST, message, status_code=400)
