"""Answering a call to a webhook trigger's URL.

A call is checked (``webhook_call_check``) before its body is read, then authenticated
(webhook_auth.py), turned into the trigger item (webhook_items.py) and run
(``webhook_call_handle``); in sync mode the caller waits for the outcome the worker
announces.
"""

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import IntegrityError, connection

from executions.feeds.completion import completion_wait
from executions.services import execution_create
from linkflow.core.errors import ErrorCode, LinkflowError, NotFound

from .error_codes import WebhookErrorCode
from .models import WebhookMode, WebhookTrigger
from .webhook_auth import webhook_authenticate
from .webhook_failures import public_failures
from .webhook_items import WebhookCall, webhook_item
from .webhook_lookup import trigger_cache_forget, trigger_cached
from .webhook_rows import path_normalized


@dataclass(frozen=True)
class WebhookReply:
    """What to answer: ``body`` is sent as is when it is a string, else as JSON."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def webhook_trigger_by_token(*, token: str, cached: bool = False) -> WebhookTrigger:
    """The trigger with this URL token, its workflow loaded; NotFound (404). ``cached``
    (production URLs) may answer from webhook_lookup.py's cache: up to its few seconds
    old for a change made by another process."""
    if cached:
        return trigger_cached(key=("token", token), load=lambda: _trigger_get(token=token))
    return _trigger_get(token=token)


def webhook_trigger_by_path(
    *, workspace_id: UUID, path: str, cached: bool = False
) -> WebhookTrigger:
    """The trigger with this readable path in the workspace; NotFound (404). ``cached``
    as for ``webhook_trigger_by_token``."""
    path = path_normalized(path)
    if not path:
        raise NotFound("No webhook answers at this address.")
    if cached:
        return trigger_cached(
            key=("path", str(workspace_id), path),
            load=lambda: _trigger_get(workspace_id=workspace_id, path=path),
        )
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
    try:
        execution = execution_create(
            user=None,
            workflow=trigger.workflow,
            trigger_input=item,
            mode="webhook",
            trigger_node_id=trigger.node_id,
        )
    except IntegrityError:
        # A cached trigger whose workflow another process deleted moments ago: the
        # execution's foreign key fails. That URL is gone, not broken.
        if WebhookTrigger.objects.filter(pk=trigger.pk).exists():
            raise
        trigger_cache_forget()
        raise NotFound("No webhook answers at this address.") from None
    return webhook_answer(trigger=trigger, execution=execution)


def webhook_answer(*, trigger: WebhookTrigger, execution: Any) -> WebhookReply:
    """The answer to a call that started ``execution``: 202 at once in async mode, else
    its outcome (``webhook_reply_for``) once it finishes or the trigger's timeout passes.
    Shared by production and test URLs (workflows/listening.py)."""
    execution_id = str(execution.pk)
    if trigger.mode != WebhookMode.SYNC:
        return WebhookReply(202, {"execution_id": execution_id, "status": execution.status})
    # Hand the database connection back to the pool first: a caller may wait a while, and
    # a pool of N connections must not be held by N waiting callers. A connection that is
    # this thread's own for the process's life (embedded SQLite) is shared with nobody:
    # closing it only made the thread's next request open it again. (Inside a transaction
    # -- only tests wrap requests in one -- the connection must stay.)
    if not connection.in_atomic_block and connection.settings_dict["CONN_MAX_AGE"] is not None:
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
