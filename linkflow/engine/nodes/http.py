"""The HTTP request node: one request per input item, one response item per request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from linkflow.engine.errors import NodeError
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_TYPES = ("json", "form", "text")
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_TIMEOUT_SECONDS = 300.0
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_SCALAR = {"type": ["string", "number", "boolean", "null"]}


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, Any]
    content: dict[str, Any]  # httpx keyword for the body: json=, data= or content=
    timeout: float
    fail_on_status: bool


class HttpRequest(NodeType):
    """Calls an HTTP API and emits ``{"status", "headers", "body"}`` per request."""

    type = "http.request"
    label = "HTTP request"
    description = "Sends an HTTP request for each item and emits the response."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "method": {**or_expression({"enum": list(METHODS)}), "default": "GET"},
            "url": {"type": "string", "minLength": 1},
            "headers": or_expression(
                {"type": "object", "additionalProperties": {"type": "string"}}
            ),
            "query": or_expression(
                {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]
                    },
                }
            ),
            "body": {"description": "Any JSON value; sent for POST, PUT, PATCH and DELETE."},
            "body_type": {"enum": list(BODY_TYPES), "default": "json"},
            "timeout_seconds": {
                **or_expression(
                    {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT_SECONDS}
                ),
                "default": DEFAULT_TIMEOUT_SECONDS,
            },
            "fail_on_status": {**or_expression({"type": "boolean"}), "default": True},
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Send one request per item with that item's evaluated params, in item order.

        Uses the host's ``http_client`` when given, else a client closed afterwards. Raises
        NodeError for a bad parameter, a connection error or timeout, a response over 10 MB,
        or a non-2xx status while ``fail_on_status`` is true.
        """
        if ctx.run.http_client is not None:
            return {"main": [_send(ctx.run.http_client, _build(ctx, i)) for i in range(len(items))]}
        with httpx.Client() as client:
            return {"main": [_send(client, _build(ctx, i)) for i in range(len(items))]}


def _build(ctx: NodeContext, index: int) -> _Request:
    method = str(ctx.param("method", item_index=index, default="GET")).upper()
    if method not in METHODS:
        raise NodeError(f"Unsupported HTTP method {method!r}.", param="params.method")
    url = ctx.param("url", item_index=index)
    if not isinstance(url, str) or not url.strip():
        raise NodeError("Parameter 'url' must be a non-empty string.", param="params.url")
    body = ctx.param("body", item_index=index, default=None)
    body_type = ctx.param("body_type", item_index=index, default="json")
    return _Request(
        method=method,
        url=url.strip(),
        headers=_headers(ctx.param("headers", item_index=index, default={})),
        query=_object(ctx.param("query", item_index=index, default={}), "query"),
        content=_content(body, body_type) if method in BODY_METHODS else {},
        timeout=_timeout(
            ctx.param("timeout_seconds", item_index=index, default=DEFAULT_TIMEOUT_SECONDS)
        ),
        fail_on_status=bool(ctx.param("fail_on_status", item_index=index, default=True)),
    )


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NodeError(f"Parameter '{name}' must be an object.", param=f"params.{name}")
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _headers(value: Any) -> dict[str, str]:
    return {str(name): _as_text(text) for name, text in _object(value, "headers").items()}


def _content(body: Any, body_type: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if body_type == "form":
        return {"data": {key: _as_text(value) for key, value in _object(body, "body").items()}}
    if body_type == "text":
        return {"content": _as_text(body).encode()}
    if body_type == "json":
        return {"json": body}
    raise NodeError(f"Unsupported body_type {body_type!r}.", param="params.body_type")


def _timeout(value: Any) -> float:
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    if not valid or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise NodeError(
            f"Parameter 'timeout_seconds' must be a number above 0 and at most "
            f"{MAX_TIMEOUT_SECONDS:g}.",
            param="params.timeout_seconds",
        )
    return float(value)


def _send(client: httpx.Client, request: _Request) -> dict[str, Any]:
    target = f"{request.method} {request.url}"
    try:
        with client.stream(
            request.method,
            request.url,
            params=request.query or None,
            headers=request.headers,
            timeout=request.timeout,
            **request.content,
        ) as response:
            raw = _read_limited(response, target)
    except httpx.TimeoutException as error:
        raise NodeError(f"Timed out after {request.timeout:g} s: {target}") from error
    except httpx.ConnectError as error:
        raise NodeError(f"Could not connect: {target}: {error}") from error
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise NodeError(f"Invalid URL {request.url!r}: {error}", param="params.url") from error
    except httpx.HTTPError as error:
        raise NodeError(f"Request failed: {target}: {error}") from error
    if request.fail_on_status and not response.is_success:
        raise NodeError(f"HTTP {response.status_code} from {target}")
    return {
        "status": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": _decode_body(response, raw),
    }


def _read_limited(response: httpx.Response, target: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise NodeError(f"Response is larger than {MAX_RESPONSE_BYTES} bytes: {target}")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_body(response: httpx.Response, raw: bytes) -> Any:
    if raw and "json" in response.headers.get("content-type", "").lower():
        try:
            return json.loads(raw)
        except ValueError:
            pass  # a server that says JSON but sends something else: keep its text
    return raw.decode(response.encoding or "utf-8", errors="replace")
