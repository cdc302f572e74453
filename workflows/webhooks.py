"""The public webhook endpoint: the URL of a `trigger.webhook` node.

A plain Django view, not DRF: no session, JWT or CSRF, because the unguessable token (and
the node's header token or HMAC signature) is the credential. It reads the call, hands it
to workflows.webhook_calls and shapes the answer; refusals use the one error shape. Every answer
is sandboxed by workflows.origin.WebhookOriginMiddleware.
"""

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt

from linkflow.core.api import error_body
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.core.json_body import own_body_limit
from linkflow.core.throttling import webhook_throttled
from linkflow.engine.reply_headers import reply_headers_split

from .listening import webhook_test_call
from .models import WebhookTrigger
from .webhook_calls import (
    WebhookReply,
    webhook_call_check,
    webhook_call_handle,
    webhook_trigger_by_path,
    webhook_trigger_by_token,
)
from .webhook_items import WebhookCall

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@csrf_exempt
@own_body_limit  # LINKFLOW_WEBHOOK_MAX_BYTES, read in _body_read
def webhook_by_token(request: HttpRequest, token: str) -> HttpResponse:
    """``/webhooks/<token>``: call the webhook trigger that owns the token."""
    return _answer(request, lambda: webhook_trigger_by_token(token=token, cached=True))


@csrf_exempt
@own_body_limit  # LINKFLOW_WEBHOOK_MAX_BYTES, read in _body_read
def webhook_by_path(request: HttpRequest, workspace_id: UUID, path: str) -> HttpResponse:
    """``/webhooks/w/<workspace id>/<path>``: call the trigger with that readable path."""
    return _answer(
        request,
        lambda: webhook_trigger_by_path(workspace_id=workspace_id, path=path, cached=True),
    )


@csrf_exempt
@own_body_limit  # LINKFLOW_WEBHOOK_MAX_BYTES, read in _body_read
def webhook_test_by_token(request: HttpRequest, token: str) -> HttpResponse:
    """``/webhooks/test/<token>``: the trigger's test URL (answers only while listened to)."""
    return _answer_test(request, lambda: webhook_trigger_by_token(token=token))


@csrf_exempt
@own_body_limit  # LINKFLOW_WEBHOOK_MAX_BYTES, read in _body_read
def webhook_test_by_path(request: HttpRequest, workspace_id: UUID, path: str) -> HttpResponse:
    """``/webhooks/test/w/<workspace id>/<path>``: the test form of a readable path."""
    return _answer_test(
        request, lambda: webhook_trigger_by_path(workspace_id=workspace_id, path=path)
    )


def _answer_test(request: HttpRequest, find: Callable[[], WebhookTrigger]) -> HttpResponse:
    # The same budget, origin sandbox and reply header allowlist as the production URL.
    throttled = webhook_throttled(request)
    if throttled is not None:
        return throttled
    try:
        trigger = find()
        reply = webhook_test_call(
            trigger=trigger, method=request.method or "", read=lambda: _call(request)
        )
    except LinkflowError as error:
        return _error_response(error)
    return _reply_response(reply)


def _answer(request: HttpRequest, find: Callable[[], WebhookTrigger]) -> HttpResponse:
    throttled = webhook_throttled(request)  # the "execute" budget, per webhook URL
    if throttled is not None:
        return throttled
    try:
        trigger = find()
        # Method and state are checked before the body is read: a refused call costs nothing.
        webhook_call_check(trigger=trigger, method=request.method or "")
        reply = webhook_call_handle(trigger=trigger, call=_call(request))
    except LinkflowError as error:
        return _error_response(error)
    return _reply_response(reply)


def _call(request: HttpRequest) -> WebhookCall:
    return WebhookCall(
        method=request.method or "",
        path=request.path,
        query=[(name, value) for name, values in request.GET.lists() for value in values],
        headers={name.lower(): value for name, value in request.headers.items()},
        content_type=request.content_type or "",
        body=_body_read(request),
    )


def _body_read(request: HttpRequest) -> bytes:
    """The raw body, refused with 413 above the limit without holding more than limit+1
    bytes. Read from the stream, not ``request.body``: DATA_UPLOAD_MAX_MEMORY_SIZE (for
    forms) must not cap webhooks, and ``request.body`` would buffer a body of any size."""
    limit = getattr(settings, "LINKFLOW_WEBHOOK_MAX_BYTES", DEFAULT_MAX_BYTES)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    try:
        # The declared length may be absent (chunked) or wrong: the read itself is capped.
        body = request.read(limit + 1)
    except UnreadablePostError:
        raise LinkflowError(
            ErrorCode.MALFORMED_REQUEST, "The request body could not be read.", status_code=400
        ) from None
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _too_large(limit: int) -> LinkflowError:
    return LinkflowError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is larger than {limit} bytes.",
        details={"max_bytes": limit},
        status_code=413,
    )


def _error_response(error: LinkflowError) -> HttpResponse:
    response = JsonResponse(
        error_body(error.code, error.message, error.details), status=error.status_code
    )
    if error.status_code == 405:
        response["Allow"] = ", ".join(error.details["allow"])
    return response


def _reply_response(reply: WebhookReply) -> HttpResponse:
    content, content_type = _encoded(reply.body)
    response = HttpResponse(content, status=reply.status, content_type=content_type)
    # webhook.respond already dropped what the allowlist refuses; a graph saved before the
    # allowlist existed, or a reply recorded by an older worker, is held to it here too.
    allowed, _dropped = reply_headers_split(reply.headers)
    for name, value in allowed.items():
        response[name] = value
    return response


def _encoded(body: Any) -> tuple[str, str]:
    if body is None:
        return "", "text/plain; charset=utf-8"
    if isinstance(body, str):
        return body, "text/plain; charset=utf-8"
    return json.dumps(body), "application/json"
