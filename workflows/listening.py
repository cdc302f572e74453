"""Listening for a test event: the test URL of a webhook trigger (docs/editor-loop.md).

``POST /api/v1/workflows/{id}/listen`` opens a window, kept in the cache (Redis when
distributed, so every web process sees it; local memory embedded, where the one process
is every role). While it is open, one request to a test URL of the workflow
(``/webhooks/test/<token>``, ``/webhooks/test/w/<workspace>/<path>``) starts a test run of
the current graph with that request as the trigger item, active workflow or not, and
closes the window; outside one the test URL answers 404 saying to listen first. Taking
the window is one atomic cache delete, so of two racing requests only one starts a run.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.models import User
from linkflow.accounts.selectors import require_writer
from linkflow.core.errors import ErrorCode, LinkflowError

from .error_codes import WorkflowErrorCode
from .models import WebhookTrigger, Workflow
from .webhook_auth import webhook_authenticate
from .webhook_calls import WebhookReply, webhook_answer, webhook_call_check
from .webhook_failures import public_failures
from .webhook_items import WebhookCall, webhook_item

MAX_LISTEN_SECONDS = 600


@dataclass(frozen=True)
class Listening:
    until: datetime
    pin: bool


def _key(workflow_id: object) -> str:
    return f"linkflow:listen:{workflow_id}"


def listen_open(
    *, user: Actor, workflow: Workflow, seconds: int | None = None, pin: bool = False
) -> Listening:
    """Open (or restart) the workflow's listening window for ``seconds`` (default
    LINKFLOW_LISTEN_SECONDS): one window per workflow, the latest call's. With ``pin``
    the request received is also pinned as its trigger's data.

    Raises PermissionDenied (403) below the editor role, and ``conflict`` (409) when the
    current graph has no webhook trigger to listen on.
    """
    require_writer(user=user, workspace_id=workflow.workspace_id)
    if not WebhookTrigger.objects.filter(workflow=workflow, disabled=False).exists():
        raise LinkflowError(
            ErrorCode.CONFLICT,
            "This workflow has no webhook trigger to listen on; save one first.",
            status_code=409,
        )
    seconds = seconds or settings.LINKFLOW_LISTEN_SECONDS
    until = timezone.now() + timedelta(seconds=seconds)
    window = {"user_id": str(user_of(user).pk), "pin": pin, "until": until.isoformat()}
    cache.set(_key(workflow.pk), window, timeout=seconds)
    return Listening(until=until, pin=pin)


def listen_close(*, user: Actor, workflow: Workflow) -> None:
    """Close the workflow's window if one is open. Raises PermissionDenied (403)."""
    require_writer(user=user, workspace_id=workflow.workspace_id)
    cache.delete(_key(workflow.pk))


@public_failures
def webhook_test_call(*, trigger: WebhookTrigger, method: str, read: Any) -> WebhookReply:
    """Answer a request to a test URL of ``trigger``: while its workflow is listened to,
    authenticate it as the production URL would, close the window and start a test run
    with the request as the trigger item; answer like the production URL (202, or the
    outcome in sync mode). ``read()`` gives the WebhookCall (the body is read only then).

    Raises ``not_listening`` (404) outside a window (or when another request took it
    first), and the refusals of the production URL but ``workflow_inactive``, made public
    as the production URL's are (webhook_failures.py).
    """
    if cache.get(_key(trigger.workflow_id)) is None:
        raise _not_listening()
    webhook_call_check(trigger=trigger, method=method, require_active=False)
    call: WebhookCall = read()
    hidden = webhook_authenticate(trigger=trigger, call=call)
    item = webhook_item(call=call, hidden_headers=hidden)
    window = cache.get(_key(trigger.workflow_id))
    if window is None or not cache.delete(_key(trigger.workflow_id)):
        raise _not_listening()
    return webhook_answer(trigger=trigger, execution=_start(trigger, item, window))


def _start(trigger: WebhookTrigger, item: dict[str, Any], window: dict[str, Any]) -> Any:
    from executions.sources.test_runs import test_run_start  # executions imports workflows

    from .pinned import pinned_put

    user = User.objects.get(pk=window["user_id"])
    workflow = trigger.workflow
    if window.get("pin"):
        pinned_put(user=user, workflow=workflow, node_id=trigger.node_id, items=[item])
    return test_run_start(
        user=user, workflow=workflow, trigger_input=item, trigger_node_id=trigger.node_id
    )


def _not_listening() -> LinkflowError:
    return LinkflowError(
        WorkflowErrorCode.NOT_LISTENING,
        "Nobody is listening for a test event of this workflow: click 'Listen for test "
        "event' in the editor (POST /api/v1/workflows/{id}/listen) first, then call again.",
        status_code=404,
    )
