"""Webhook triggers: keeping their rows in step with the graph, and answering their calls.

Every `trigger.webhook` node of a workflow's current graph has a WebhookTrigger row, written
by ``webhook_triggers_sync`` in the transaction that saves a version. A call to its URL is
checked (``webhook_call_check``), authenticated, turned into the trigger item and run
(``webhook_call_handle``); in sync mode the caller waits for the outcome the worker announces.
"""

import hmac
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from credentials.services import credential_resolver
from executions.completion import completion_wait
from executions.services import execution_create
from linkflow.core.errors import ErrorCode, LinkflowError, NotFound
from linkflow.core.json_body import json_loads
from linkflow.engine.signing import signature

from .models import WebhookAuth, WebhookMode, WebhookTrigger, Workflow, webhook_token_new
from .webhook_failures import public_failures

logger = logging.getLogger(__name__)

WEBHOOK_NODE_TYPE = "trigger.webhook"
DEFAULT_TOKEN_HEADER = "X-Webhook-Token"
SIGNATURE_HEADER = "x-linkflow-signature"
SIGNATURE_TOLERANCE_SECONDS = 300
# Longer than the whole window a timestamp is accepted in (±300 s), so a signature cannot
# be replayed after the cache forgot it.
_SIGNATURE_MEMORY_SECONDS = 600
# Characters PostgreSQL's jsonb refuses; stored as is they would fail the insert (a 500).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_JSON_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F])")
_SYNCED_FIELDS = (
    "path",
    "method",
    "mode",
    "auth",
    "credential_id",
    "timeout_seconds",
    "disabled",
)


class WebhookErrorCode(StrEnum):
    """Error codes of webhook saving and calling (stable, like linkflow.core.errors)."""

    PATH_TAKEN = "webhook_path_taken"
    AUTH_FAILED = "webhook_auth_failed"
    WORKFLOW_INACTIVE = "workflow_inactive"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    EXECUTION_FAILED = "execution_failed"
    EXECUTION_TIMEOUT = "execution_timeout"


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


@dataclass(frozen=True)
class WebhookReply:
    """What to answer: ``body`` is sent as is when it is a string, else as JSON."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


# --- keeping rows in step with the graph ---------------------------------------------------


def webhook_triggers_sync(*, workflow: Workflow) -> None:
    """Make the workflow's WebhookTrigger rows match the webhook nodes of its current graph.

    Call it inside the transaction that set ``workflow.current_version`` (the graph is
    already validated). Rows of removed nodes are deleted, new nodes get a fresh token and
    kept node ids keep theirs. Raises ``webhook_path_taken`` (409, details node_id and path)
    when a readable path is already used in the workspace, by another workflow or another
    node of this graph; the caller's transaction then stores nothing.
    """
    wanted = _webhook_nodes(workflow)
    _paths_check(workflow=workflow, wanted=wanted)
    try:
        with transaction.atomic():  # a savepoint, so a lost race leaves the outer one usable
            _rows_write(workflow=workflow, wanted=wanted)
    except IntegrityError:
        # Another save took the path between our check and our write: say which one.
        _paths_check(workflow=workflow, wanted=wanted)
        raise


def webhook_token_rotate(*, trigger: WebhookTrigger) -> WebhookTrigger:
    """Give the trigger a new token (a leaked URL); the old URL stops answering at once."""
    trigger.token = webhook_token_new()
    trigger.save(update_fields=["token", "updated_at"])
    return trigger


def _webhook_nodes(workflow: Workflow) -> dict[str, dict[str, Any]]:
    version = workflow.current_version
    nodes = version.graph.get("nodes", []) if version is not None else []
    return {n["id"]: _node_settings(n) for n in nodes if n.get("type") == WEBHOOK_NODE_TYPE}


def _node_settings(node: dict[str, Any]) -> dict[str, Any]:
    """The row's fields for one node, with the node type's defaults filled in."""
    params = node.get("params") or {}
    return {
        "path": path_normalized(params.get("path") or ""),
        "method": str(params.get("method", "POST")).upper(),
        "mode": params.get("mode", WebhookMode.ASYNC),
        "auth": params.get("auth", WebhookAuth.NONE),
        "credential_id": node.get("credential") or "",
        "timeout_seconds": float(params.get("timeout_seconds", 30)),
        "disabled": bool(node.get("disabled", False)),
    }


def path_normalized(path: str) -> str:
    """A readable path as stored and looked up: "orders/" and "orders" are one address."""
    return path.strip("/")


def _paths_check(*, workflow: Workflow, wanted: dict[str, dict[str, Any]]) -> None:
    owners: dict[str, str] = {}
    for node_id, settings in wanted.items():
        path = settings["path"]
        if path and path in owners:
            raise _path_taken(node_id=node_id, path=path)
        if path:
            owners[path] = node_id
    if not owners:
        return
    taken = (
        WebhookTrigger.objects.filter(workspace_id=workflow.workspace_id, path__in=owners)
        .exclude(workflow=workflow)
        .values_list("path", flat=True)
        .first()
    )
    if taken is not None:
        raise _path_taken(node_id=owners[taken], path=taken)


def _path_taken(*, node_id: str, path: str) -> LinkflowError:
    return LinkflowError(
        WebhookErrorCode.PATH_TAKEN,
        f"The webhook path '{path}' is already used in this workspace.",
        details={"node_id": node_id, "path": path},
        status_code=409,
    )


def _rows_write(*, workflow: Workflow, wanted: dict[str, dict[str, Any]]) -> None:
    existing = {row.node_id: row for row in WebhookTrigger.objects.filter(workflow=workflow)}
    gone = [row.pk for node_id, row in existing.items() if node_id not in wanted]
    if gone:
        WebhookTrigger.objects.filter(pk__in=gone).delete()
    _rows_update([(existing[n], s) for n, s in wanted.items() if n in existing])
    WebhookTrigger.objects.bulk_create(
        WebhookTrigger(workspace_id=workflow.workspace_id, workflow=workflow, node_id=n, **s)
        for n, s in wanted.items()
        if n not in existing
    )


def _rows_update(pairs: list[tuple[WebhookTrigger, dict[str, Any]]]) -> None:
    changed = [row for row, s in pairs if any(getattr(row, k) != v for k, v in s.items())]
    moved = [row.pk for row, s in pairs if row.path != s["path"]]
    if moved:
        # Free the old paths first, so two nodes may swap paths without tripping the
        # (non-deferrable) unique constraint halfway through the update.
        WebhookTrigger.objects.filter(pk__in=moved).update(path="")
    now = timezone.now()
    for row, settings in pairs:
        if row in changed:
            for name, value in settings.items():
                setattr(row, name, value)
            row.updated_at = now  # bulk_update skips auto_now
    WebhookTrigger.objects.bulk_update(changed, [*_SYNCED_FIELDS, "updated_at"])


# --- answering a call ----------------------------------------------------------------------


def webhook_trigger_by_token(*, token: str) -> WebhookTrigger:
    """The trigger with this URL token, its workflow loaded; NotFound (404)."""
    return _trigger_get(token=token)


def webhook_trigger_by_path(*, workspace_id: UUID, path: str) -> WebhookTrigger:
    """The trigger with this readable path in the workspace; NotFound (404)."""
    path = path_normalized(path)
    if not path:
        raise NotFound("No webhook answers at this address.")
    return _trigger_get(workspace_id=workspace_id, path=path)


def _trigger_get(**lookup: Any) -> WebhookTrigger:
    # Not the version: starting the execution pins it by id, and its graph (parsed from
    # JSON on every load) is the worker's to read. A test URL loads it when it needs it.
    rows = WebhookTrigger.objects.select_related("workflow")
    try:
        return rows.get(**lookup)
    except WebhookTrigger.DoesNotExist:
        raise NotFound("No webhook answers at this address.") from None


def webhook_call_check(
    *, trigger: WebhookTrigger, method: str, require_active: bool = True
) -> None:
    """Refuse a call the trigger does not take, before its body is read.

    Raises NotFound (404) for a disabled node, ``method_not_allowed`` (405, details
    ``{"allow": [method]}``) for another HTTP method, and ``workflow_inactive`` (409) when
    the workflow is not active: like n8n's production URLs, only active workflows answer
    (a test URL passes ``require_active=False``).
    """
    if trigger.disabled:
        raise NotFound("No webhook answers at this address.")
    if method != trigger.method:
        raise LinkflowError(
            ErrorCode.METHOD_NOT_ALLOWED,
            f"This webhook answers {trigger.method} only.",
            details={"allow": [trigger.method]},
            status_code=405,
        )
    if require_active and not trigger.workflow.active:
        raise LinkflowError(
            WebhookErrorCode.WORKFLOW_INACTIVE,
            "The workflow is not active; activate it to receive webhooks.",
            status_code=409,
        )


@public_failures
def webhook_call_handle(*, trigger: WebhookTrigger, call: WebhookCall) -> WebhookReply:
    """Authenticate the call, start an execution with its item, answer per the trigger's mode.

    Async mode answers 202 with the queued execution's id at once. Sync mode waits up to
    the trigger's timeout for the outcome (see ``webhook_reply_for``). Raises
    ``webhook_auth_failed`` (401), ``malformed_request`` (400) for a body that does not
    parse, ``workflow_has_no_version`` (409), and in sync mode ``execution_failed`` (502)
    or ``execution_timeout`` (504). Failures not about the call itself carry a reference
    id instead of their message and details (webhook_failures.py).
    """
    hidden = webhook_authenticate(trigger=trigger, call=call)
    item = webhook_item(call=call, hidden_headers=hidden)
    execution = execution_create(
        user=None,
        workflow=trigger.workflow,
        trigger_input=item,
        mode="webhook",
        trigger_node_id=trigger.node_id,
    )
    return webhook_answer(trigger=trigger, execution=execution)


def webhook_answer(*, trigger: WebhookTrigger, execution: Any) -> WebhookReply:
    """The answer to a call that started ``execution``: 202 at once in async mode, else
    its outcome (``webhook_reply_for``) once it finishes or the trigger's timeout passes.
    Shared by production and test URLs (workflows/listening.py)."""
    execution_id = str(execution.pk)
    if trigger.mode != WebhookMode.SYNC:
        return WebhookReply(202, {"execution_id": execution_id, "status": execution.status})
    # Hand the database connection back to the pool first: a caller may wait a while, and
    # a pool of N connections must not be held by N waiting callers. (Inside a transaction
    # -- only tests wrap requests in one -- the connection must stay.)
    if not connection.in_atomic_block:
        connection.close()
    outcome = completion_wait(execution_id=execution_id, timeout=trigger.timeout_seconds)
    return webhook_reply_for(outcome=outcome, execution_id=execution_id)


def webhook_reply_for(*, outcome: dict[str, Any] | None, execution_id: str) -> WebhookReply:
    """The sync answer for a finished execution's ``outcome`` (None: it did not finish).

    A webhook.respond ``response`` is answered as given; otherwise success answers 200 with
    the last items (one item as the object, else the list). Raises ``execution_failed``
    (502, details execution_id, status, error) for any other ending or an invalid response
    status, and ``execution_timeout`` (504, details execution_id) when there is no outcome.
    """
    if outcome is None:
        raise LinkflowError(
            WebhookErrorCode.EXECUTION_TIMEOUT,
            "The execution did not finish in time; it goes on in the background.",
            details={"execution_id": execution_id},
            status_code=504,
        )
    if outcome.get("response"):
        return _custom_reply(outcome["response"], execution_id=execution_id)
    if outcome.get("status") == "succeeded":
        items = outcome.get("last_items") or []
        return WebhookReply(200, items[0] if len(items) == 1 else items)
    raise _execution_failed(execution_id, status=outcome.get("status"), error=outcome.get("error"))


def _custom_reply(response: dict[str, Any], *, execution_id: str) -> WebhookReply:
    status = response.get("status", 200)
    # A 1xx is not a final answer, and a bad value must not turn into our own 500.
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        error = {"message": f"webhook.respond gave an invalid HTTP status: {status!r}."}
        raise _execution_failed(execution_id, status="succeeded", error=error)
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    return WebhookReply(status, response.get("body"), headers)


def _execution_failed(execution_id: str, *, status: Any, error: Any) -> LinkflowError:
    # 500 is kept for LinkFlow's own bugs; a workflow that failed is a bad gateway.
    return LinkflowError(
        WebhookErrorCode.EXECUTION_FAILED,
        "The workflow execution failed.",
        details={"execution_id": execution_id, "status": status, "error": error},
        status_code=502,
    )


# --- authentication ------------------------------------------------------------------------


def webhook_authenticate(
    *, trigger: WebhookTrigger, call: WebhookCall, now: float | None = None
) -> frozenset[str]:
    """Check the call against the trigger's auth; return the header names that carried it.

    ``header``: the credential's ``header_name`` (default X-Webhook-Token) must carry its
    ``token``. ``hmac``: ``X-LinkFlow-Signature: t=<unix seconds>,v1=<hex>`` must hold
    HMAC-SHA256(secret, "<t>." + body), ``t`` within 300 s of ``now``, never seen before.
    Raises ``webhook_auth_failed`` (401) on any failure, a missing credential included.
    """
    if trigger.auth == WebhookAuth.NONE:
        return frozenset()
    fields = _auth_fields(trigger)
    if trigger.auth == WebhookAuth.HEADER:
        name = str(fields.get("header_name") or DEFAULT_TOKEN_HEADER).lower()
        _token_check(expected=fields.get("token"), given=call.headers.get(name))
        return frozenset({name})
    if trigger.auth == WebhookAuth.HMAC:
        moment = time.time() if now is None else now
        _signature_check(trigger=trigger, secret=fields.get("secret"), call=call, now=moment)
        return frozenset({SIGNATURE_HEADER})
    raise _auth_failed(f"Unknown webhook auth '{trigger.auth}'.")


def _auth_fields(trigger: WebhookTrigger) -> dict[str, Any]:
    try:
        return credential_resolver(workspace_id=trigger.workspace_id)(trigger.credential_id)
    except KeyError:
        logger.warning("webhook %s has no usable credential %r", trigger.pk, trigger.credential_id)
        raise _auth_failed("The webhook's credential is missing.") from None


def _token_check(*, expected: Any, given: str | None) -> None:
    # An empty configured token must never match an empty header.
    if not expected or given is None or not hmac.compare_digest(_utf8(given), _utf8(expected)):
        raise _auth_failed("The webhook token is missing or wrong.")


def _signature_check(
    *, trigger: WebhookTrigger, secret: Any, call: WebhookCall, now: float
) -> None:
    if not secret:
        raise _auth_failed("The webhook's credential has no secret.")
    timestamp, signatures = _signature_parse(call.headers.get(SIGNATURE_HEADER, ""))
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise _auth_failed("The signature's timestamp is too old or in the future.")
    expected = signature(secret=str(secret), timestamp=timestamp, body=call.body).encode()
    if not any(hmac.compare_digest(_utf8(given), expected) for given in signatures):
        raise _auth_failed("The signature does not match.")
    # cache.add is atomic: of two copies of one request racing in, only one gets through.
    key = f"linkflow:webhook-signature:{trigger.pk}:{expected.decode()}"
    if not cache.add(key, 1, timeout=_SIGNATURE_MEMORY_SECONDS):
        raise _auth_failed("This signature was used before.")


def _signature_parse(header: str) -> tuple[int, list[str]]:
    """(t, [v1 signatures]) from "t=...,v1=..."; several v1 allow rotating the secret."""
    parts = [part.strip().partition("=") for part in header.split(",")]
    timestamps = [value for key, _, value in parts if key == "t"]
    signatures = [value.lower() for key, _, value in parts if key == "v1"]
    if len(timestamps) != 1 or not re.fullmatch(r"[0-9]{1,12}", timestamps[0]) or not signatures:
        raise _auth_failed("The X-LinkFlow-Signature header is missing or malformed.")
    return int(timestamps[0]), signatures


def _utf8(value: Any) -> bytes:
    return str(value).encode("utf-8", errors="replace")


def _auth_failed(reason: str) -> LinkflowError:
    return LinkflowError(
        WebhookErrorCode.AUTH_FAILED,
        "Webhook authentication failed.",
        details={"reason": reason},
        status_code=401,
    )


# --- the trigger item ----------------------------------------------------------------------


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
