"""The HTTP request node: one request per input item, one response item per request.

Redirects are followed here, hop by hop, rather than by httpx: the bound is a per-node
parameter while the client is shared, and a credential must not follow a redirect to
another origin. Every hop still goes through the client, so the SSRF guard of
``guarded_client`` checks each new destination.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.message import Message
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from linkflow.engine.errors import NodeError
from linkflow.engine.file_items import file_read, is_file_ref
from linkflow.engine.net import BlockedAddress, ResponseTooLarge, default_client, read_capped
from linkflow.engine.nodes.http_pages import PAGINATION_SCHEMA, follow_pages
from linkflow.engine.registry import PER_ITEM, Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# "text" is the v1 name of "raw" (non-string bodies were JSON-encoded); kept for old graphs.
# "file": the body is a file item's bytes; "multipart": a form whose file references are
# sent as file parts (docs/nodes.md, "File items").
BODY_TYPES = ("json", "form", "raw", "text", "file", "multipart")
RESPONSE_FORMATS = ("auto", "json", "text", "file")
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_TIMEOUT_SECONDS = 300.0
DEFAULT_MAX_REDIRECTS = 5
MAX_REDIRECTS = 20
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_BOOLEAN = or_expression({"type": "boolean"})


@dataclass(frozen=True, slots=True)
class _Auth:
    """Headers a credential adds, and the secret strings no message may ever show."""

    headers: dict[str, str]
    secrets: tuple[str, ...]


NO_AUTH = _Auth(headers={}, secrets=())


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    url: str
    headers: httpx.Headers
    query: dict[str, Any]
    content: dict[str, Any]  # httpx keyword for the body: json=, data= or content=
    timeout: float
    follow_redirects: bool
    max_redirects: int
    response_format: str
    fail_on_status: bool
    # The names of the headers the credential set (a page on another origin drops them).
    credential_headers: tuple[str, ...] = ()


class HttpRequest(NodeType):
    """Calls an HTTP API and emits ``{"status", "headers", "body"}`` per request."""

    type = "http.request"
    credential_types = ("http_basic", "http_bearer", "http_header", "oauth2_client")
    credential_optional = True  # no credential: an unauthenticated request
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
            "body": {
                "description": "Any JSON value; sent for POST, PUT, PATCH and DELETE. With "
                "body_type 'file' a file item's reference; with 'multipart' an object "
                "whose file references go as file parts."
            },
            "body_type": {**or_expression({"enum": list(BODY_TYPES)}), "default": "json"},
            "content_type": {"type": "string", "minLength": 1, "default": "text/plain"},
            "timeout_seconds": {
                **or_expression(
                    {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT_SECONDS}
                ),
                "default": DEFAULT_TIMEOUT_SECONDS,
            },
            "follow_redirects": {**_BOOLEAN, "default": True},
            "max_redirects": {
                **or_expression({"type": "integer", "minimum": 0, "maximum": MAX_REDIRECTS}),
                "default": DEFAULT_MAX_REDIRECTS,
            },
            "response_format": {
                **or_expression({"enum": list(RESPONSE_FORMATS)}),
                "default": "auto",
            },
            "fail_on_status": {**_BOOLEAN, "default": True},
            "send_idempotency_key": {**_BOOLEAN, "default": False},
            "pagination": PAGINATION_SCHEMA,
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    item_mode = PER_ITEM

    def setup(self, ctx: NodeContext) -> None:
        """Resolve the credential once for all items; NodeError for an unusable one."""
        with redacted(()):
            self._auth = _auth(ctx) if ctx.credential_id else NO_AUTH
        self._client = ctx.run.http_client or default_client()

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        """Send the item's request with its evaluated params and emit the response.

        Uses the host's ``http_client`` when given, else the process-wide default-deny
        client (net.default_client). Raises NodeError for a bad parameter, a refused
        (internal) address, a connection error or timeout, too many redirects, a response
        over 10 MB, a body that is not the requested format, a file response without a
        file store, or a non-2xx status while ``fail_on_status`` is true. No message ever
        contains a credential's secret. With ``send_idempotency_key`` the key is the
        item's (version 2: the same on every attempt; version 1: the attempt's).
        With ``pagination`` it emits one item per page (http_pages.py), each with its
        ``url``; a failing page fails the item, and the pages stored before it stay stored.
        """
        with redacted(self._auth.secrets):
            request = _build(ctx, index, self._auth)
            if request.response_format == "file" and ctx.run.files is None:
                # Checked before sending: the request may have effects we cannot undo.
                raise NodeError(
                    "No file storage is available here.", param="params.response_format"
                )
            if ctx.params.get("pagination"):
                return follow_pages(
                    ctx, index, request, lambda page: self._fetch(ctx, _own_origin(request, page))
                )
            return [self._fetch(ctx, request)]

    def _fetch(self, ctx: NodeContext, request: _Request) -> dict[str, Any]:
        credential_headers = tuple(self._auth.headers)
        response, raw = _exchange(self._client, request, credential_headers=credential_headers)
        item = _item(ctx, request, response, raw)
        if ctx.params.get("pagination"):
            # Where the page came from: a relative next link is resolved against it.
            item["url"] = _display(response.request.url)
        return item


# Credentials


def _auth(ctx: NodeContext) -> _Auth:
    """The headers of the node's credential; NodeError for an unusable credential."""
    fields = ctx.credential()
    kind = fields.get("type")
    if kind == "http_basic":
        username = _secret_field(fields, "username")
        if ":" in username:
            raise NodeError("Credential field 'username' must not contain ':'.", param="credential")
        password = _secret_field(fields, "password", allow_empty=True)
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return _Auth({"Authorization": f"Basic {token}"}, (password, token))
    if kind == "http_bearer":
        token = _secret_field(fields, "token")
        return _Auth({"Authorization": f"Bearer {token}"}, (token,))
    if kind == "oauth2_client":
        # The host's resolver has already refreshed an expiring token before handing it out.
        if not fields.get("access_token"):
            raise NodeError(
                "This OAuth2 credential is not connected yet: connect it first.",
                param="credential",
            )
        token = _secret_field(fields, "access_token")
        return _Auth({"Authorization": f"Bearer {token}"}, (token,))
    if kind == "http_header":
        name, value = _secret_field(fields, "name"), _secret_field(fields, "value")
        if not name.isascii() or not all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in name):
            raise NodeError(
                "Credential field 'name' is not a valid header name.", param="credential"
            )
        return _Auth({name: value}, (value,))
    raise NodeError(
        f"Credential type {kind!r} cannot be used here; use http_basic, http_bearer, "
        "http_header or oauth2_client.",
        param="credential",
    )


def _secret_field(fields: dict[str, Any], name: str, *, allow_empty: bool = False) -> str:
    # The value goes into a header: control characters would be rejected by the HTTP
    # library with the raw header in its message, so refuse them here without the value.
    value = fields.get(name)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise NodeError(f"Credential field '{name}' is missing.", param="credential")
    if not value.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise NodeError(
            f"Credential field '{name}' contains characters not allowed in a header.",
            param="credential",
        )
    return value


@contextmanager
def redacted(secrets: tuple[str, ...]) -> Iterator[None]:
    """Re-raise a NodeError from the block with every non-empty ``secret`` in its message
    replaced by "***": a server may quote a header back in its error text, a library may
    show a value. Other exceptions pass unchanged."""
    try:
        yield
    except NodeError as error:
        message = error.message
        for secret in (s for s in secrets if s):
            message = message.replace(secret, "***")
        if message != error.message:
            error.message = message
            error.args = (message,)
        raise


# Parameters


def _build(ctx: NodeContext, index: int, auth: _Auth) -> _Request:
    def param(name: str, default: Any) -> Any:
        return ctx.param(name, item_index=index, default=default)

    method = str(param("method", "GET")).upper()
    if method not in METHODS:
        raise NodeError(f"Unsupported HTTP method {method!r}.", param="params.method")
    body_type = _choice(param("body_type", "json"), BODY_TYPES, "body_type")
    headers = _headers(param("headers", {}))
    content = {}
    if method in BODY_METHODS:
        body = param("body", None)
        if body_type in ("file", "multipart"):
            content = _file_content(ctx, body, body_type, index)
        else:
            content = _content(body, body_type)
        if body_type in ("raw", "text") and content:
            headers.setdefault("Content-Type", _text(param("content_type", "text/plain")))
        if body_type == "file" and content:
            headers.setdefault("Content-Type", content.pop("content_type"))
    if _flag(param("send_idempotency_key", False), "send_idempotency_key"):
        headers["Idempotency-Key"] = (
            ctx.item_key(index) if ctx.version >= 2 else ctx.idempotency_key
        )
    headers.update(auth.headers)  # last: a credential wins over a same-named header
    return _Request(
        method=method,
        url=_url(ctx.param("url", item_index=index)),
        headers=headers,
        query=_query(param("query", {})),
        content=content,
        timeout=_timeout(ctx, param("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
        follow_redirects=_flag(param("follow_redirects", True), "follow_redirects"),
        max_redirects=_max_redirects(param("max_redirects", DEFAULT_MAX_REDIRECTS)),
        response_format=_choice(
            param("response_format", "auto"), RESPONSE_FORMATS, "response_format"
        ),
        fail_on_status=_flag(param("fail_on_status", True), "fail_on_status"),
        credential_headers=tuple(auth.headers),
    )


def _own_origin(first: _Request, page: _Request) -> _Request:
    """``page`` without the credential's headers when it is on another origin than the
    first request: a next link a server hands out must not carry the credential away,
    as a redirect cannot."""
    if not first.credential_headers or page.url == first.url:
        return page
    try:
        elsewhere = _origin(httpx.URL(page.url)) != _origin(httpx.URL(first.url))
    except httpx.InvalidURL:
        return page  # the exchange refuses it before sending anything
    if elsewhere:
        headers = page.headers.copy()
        for name in first.credential_headers:
            headers.pop(name, None)
        return replace(page, headers=headers)
    return page


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise NodeError("Parameter 'url' must be a non-empty string.", param="params.url")
    return value.strip()


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise NodeError(f"Unsupported {name} {value!r}.", param=f"params.{name}")
    return str(value)


def _flag(value: Any, name: str) -> bool:
    # Strict: the string "false" from an expression must not count as true.
    if not isinstance(value, bool):
        raise NodeError(f"Parameter '{name}' must be true or false.", param=f"params.{name}")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise NodeError(f"Parameter '{name}' must be an object.", param=f"params.{name}")
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _headers(value: Any) -> httpx.Headers:
    return httpx.Headers(
        {str(name): _text(text) for name, text in _object(value, "headers").items()}
    )


def _query(value: Any) -> dict[str, Any]:
    # Scalars and lists of scalars are what a query string can say; anything else is sent
    # as its JSON text rather than failing inside the HTTP library.
    def encode(item: Any) -> Any:
        return item if item is None or isinstance(item, str | int | float) else _text(item)

    query = _object(value, "query")
    return {
        str(name): [encode(v) for v in entry] if isinstance(entry, list) else encode(entry)
        for name, entry in query.items()
    }


def _content(body: Any, body_type: str) -> dict[str, Any]:
    if body is None:
        return {}
    if body_type == "json":
        return {"json": body}
    if body_type == "form":
        return {"data": {key: _form_value(value) for key, value in _object(body, "body").items()}}
    if body_type == "raw" and not isinstance(body, str):
        raise NodeError(
            "Parameter 'body' must be a string when body_type is 'raw'.", param="params.body"
        )
    return {"content": _text(body).encode()}


def _file_content(ctx: NodeContext, body: Any, body_type: str, index: int) -> dict[str, Any]:
    """httpx's keywords for a file body (``content``, plus the file's ``content_type``
    for the header) or a multipart form (``files``: every field a part, file references
    as file parts, other values as text parts). Every reference is read through the
    host's file store, so one of another execution fails this item."""
    if body is None:
        return {}
    if body_type == "file":
        read = file_read(ctx, body, limit=MAX_UPLOAD_BYTES, param="params.body", item=index)
        return {"content": read.content, "content_type": read.content_type}
    parts: list[tuple[str, tuple[str | None, bytes, str | None]]] = []
    for key, value in _object(body, "body").items():
        for entry in value if isinstance(value, list) else [value]:
            if is_file_ref(entry):
                read = file_read(
                    ctx, entry, limit=MAX_UPLOAD_BYTES, param=f"params.body.{key}", item=index
                )
                parts.append((str(key), (read.name, read.content, read.content_type)))
            else:
                parts.append((str(key), (None, _form_scalar(entry).encode(), None)))
    if sum(len(part[1][1]) for part in parts) > MAX_UPLOAD_BYTES:
        raise NodeError(
            f"The form is larger than {MAX_UPLOAD_BYTES} bytes.", param="params.body", item=index
        )
    return {"files": parts}


def _form_value(value: Any) -> str | list[str]:
    if isinstance(value, list):
        return [_form_scalar(item) for item in value]
    return _form_scalar(value)


def _form_scalar(value: Any) -> str:
    return "" if value is None else _text(value)


def _timeout(ctx: NodeContext, value: Any) -> float:
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    if not valid or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise NodeError(
            f"Parameter 'timeout_seconds' must be a number above 0 and at most "
            f"{MAX_TIMEOUT_SECONDS:g}.",
            param="params.timeout_seconds",
        )
    # The node timeout and the execution deadline may leave less than the parameter asks.
    left = ctx.time_left(default=float(value))
    return float(value) if left is None else left


def _max_redirects(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REDIRECTS:
        raise NodeError(
            f"Parameter 'max_redirects' must be a whole number from 0 to {MAX_REDIRECTS}.",
            param="params.max_redirects",
        )
    return value


# The exchange


def _exchange(
    client: httpx.Client, request: _Request, *, credential_headers: tuple[str, ...]
) -> tuple[httpx.Response, bytes]:
    """Send the request, follow redirects within the bound, and return the final response
    (closed) with its body. The timeout bounds the whole exchange, redirects included."""
    deadline = time.monotonic() + request.timeout
    with _errors(request.method, _display(request.url), request.timeout, first=True):
        outgoing = client.build_request(
            request.method,
            request.url,
            params=request.query or None,
            headers=request.headers,
            timeout=request.timeout,
            **request.content,
        )
    origin = _origin(outgoing.url)
    for hop in range(request.max_redirects + 1):
        with _errors(outgoing.method, _display(outgoing.url), request.timeout, first=hop == 0):
            answer = _send_once(client, outgoing, request.follow_redirects, deadline)
            if isinstance(answer, tuple):
                return answer
            if _origin(answer.url) != origin:
                for name in credential_headers:  # a credential stays with its own origin
                    answer.headers.pop(name, None)
            answer.extensions["timeout"] = httpx.Timeout(_remaining(deadline)).as_dict()
            outgoing = answer
    raise NodeError(
        f"Too many redirects (more than {request.max_redirects}): "
        f"{request.method} {_display(request.url)}"
    )


def _send_once(
    client: httpx.Client, outgoing: httpx.Request, follow_redirects: bool, deadline: float
) -> tuple[httpx.Response, bytes] | httpx.Request:
    """The final response with its body, or the next request when this one redirects."""
    response = client.send(outgoing, stream=True, follow_redirects=False)
    try:
        if follow_redirects and response.next_request is not None:
            return response.next_request
        return response, read_capped(response, limit=MAX_RESPONSE_BYTES, deadline=deadline)
    finally:
        response.close()


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpx.ReadTimeout("the exchange took longer than its timeout")
    return left


@contextmanager
def _errors(method: str, url: str, timeout: float, *, first: bool = False) -> Iterator[None]:
    """Turn httpx's exceptions into NodeErrors naming the request, never its headers.
    ``first``: the URL is the parameter's, so a bad one is the user's (not a server's
    Location header) and the error points at ``params.url``."""
    target = f"{method} {url}"
    try:
        yield
    except httpx.TimeoutException as error:
        raise NodeError(f"Timed out after {timeout:g} s: {target}") from error
    except BlockedAddress as error:
        raise NodeError(f"{error} ({target})") from error
    except ResponseTooLarge as error:
        raise NodeError(f"{error}: {target}") from error
    except httpx.ConnectError as error:
        raise NodeError(f"Could not connect: {target}: {error}") from error
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        param = "params.url" if first else None
        raise NodeError(f"Invalid URL {url!r}: {error}", param=param) from error
    except httpx.HTTPError as error:
        raise NodeError(f"Request failed: {target}: {error}") from error


def _target(request: httpx.Request) -> str:
    return f"{request.method} {_display(request.url)}"


def _display(url: httpx.URL | str) -> str:
    # A password in the URL's user-info must not reach the run record.
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return str(url).rpartition("@")[2]
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else str(parsed)


# The emitted item


def _item(
    ctx: NodeContext, request: _Request, response: httpx.Response, raw: bytes
) -> dict[str, Any]:
    if request.fail_on_status and not response.is_success:
        raise NodeError(f"HTTP {response.status_code} from {_target(response.request)}")
    return {
        "status": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": _body(ctx, request.response_format, response, raw),
    }


def _body(ctx: NodeContext, response_format: str, response: httpx.Response, raw: bytes) -> Any:
    content_type = response.headers.get("content-type", "")
    if response_format == "file":
        assert ctx.run.files is not None  # checked before the request was sent
        return ctx.run.files.save(
            name=_file_name(response),
            content=raw,
            content_type=content_type or "application/octet-stream",
        )
    says_json = "json" in content_type.lower() and bool(raw.strip())
    if response_format == "json" or (response_format == "auto" and says_json):
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError as error:
            if response_format == "json":
                raise NodeError(
                    f"Response is not valid JSON: {_target(response.request)}: {error}"
                ) from error
            # "auto": a server that says JSON but sends something else; keep its text
    return raw.decode(response.encoding or "utf-8", errors="replace")


def _file_name(response: httpx.Response) -> str:
    """The server's file name (Content-Disposition), else the URL's last path segment."""
    disposition = Message()
    disposition["content-disposition"] = response.headers.get("content-disposition", "")
    name = disposition.get_filename() or response.request.url.path.rsplit("/", 1)[-1]
    # Only the last path component: the name is a label, never a path to write to.
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name or "response"
