"""Waiting for a call: the resume URL and approval links of flow.wait's call and approval modes.

Each execution has one resume token, ``<execution id>:<HMAC>`` (django.core.signing with
SECRET_KEY and its own salt): only LinkFlow can make one, so the URL is the credential. It
is the same for the whole run, so nodes BEFORE the wait can send it (``{{
execution.resume_url }}``, ``approve_url``, ``reject_url``). A call is accepted only while
the execution is parked in a flow.wait of the matching mode and before that wait's expiry;
it wakes the execution with one conditional UPDATE (``waiting`` -> ``pending``) that also
stores the call, so of two calls exactly one resumes and the other gets 410: a token is
good once per wait. Waits that time out resume through the beat (recovery.py) and leave
by the node's "timeout" port.
"""

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from executions.error_codes import ExecutionErrorCode
from executions.models import Execution, ExecutionStatus, NodeRun, NodeRunStatus
from executions.starting.dispatch import dispatch_promote
from linkflow.core.errors import LinkflowError, NotFound
from linkflow.engine import Graph

_SALT = "linkflow.executions.wait-resume"
WAIT_NODE_TYPE = "flow.wait"
DECISIONS = ("approve", "reject")


def resume_token(*, execution_id: str) -> str:
    """The signed token of the execution's resume URL and approval links."""
    return signing.Signer(salt=_SALT).sign(execution_id)


def resume_urls(*, execution_id: str) -> dict[str, str]:
    """``resume_url`` (under /webhooks/, on the webhook origin when there is one),
    ``approve_url`` and ``reject_url`` (confirmation pages on the UI's origin)."""
    token = resume_token(execution_id=execution_id)
    hooks = settings.LINKFLOW_WEBHOOK_BASE_URL or settings.LINKFLOW_PUBLIC_URL.rstrip("/")
    public = settings.LINKFLOW_PUBLIC_URL.rstrip("/")
    return {
        "resume_url": hooks + _path("wait-resume", token),
        "approve_url": public + _path("wait-decide", token, decision="approve"),
        "reject_url": public + _path("wait-decide", token, decision="reject"),
    }


# Every run computes these three paths: the URL resolver is asked once per process for
# each, with a placeholder token that quoting leaves alone, as a token's characters are.
_PLACEHOLDER = "0placeholder0"
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:")


@functools.cache
def _template(name: str, decision: str | None) -> tuple[str, str]:
    kwargs = {"token": _PLACEHOLDER} | ({"decision": decision} if decision else {})
    before, _, after = reverse(name, kwargs=kwargs).partition(_PLACEHOLDER)
    return before, after


def _path(name: str, token: str, decision: str | None = None) -> str:
    if not _TOKEN_CHARS.issuperset(token):
        kwargs = {"token": token} | ({"decision": decision} if decision else {})
        return reverse(name, kwargs=kwargs)
    before, after = _template(name, decision)
    return before + token + after


@dataclass(frozen=True)
class ParkedWait:
    """An execution parked in a flow.wait waiting for a call."""

    execution: Execution
    node_id: str
    mode: str


def wait_find(*, token: str, mode: str) -> ParkedWait:
    """The wait ``token`` may resume now, in ``mode`` ("call" or "approval").

    Raises NotFound (404) for a token LinkFlow did not sign, and ``wait_not_waiting``
    (410) when its execution is not parked in a flow.wait of that mode, or the wait
    expired: already resumed, timed out, finished, or never waiting for a call.
    """
    try:
        execution_id = signing.Signer(salt=_SALT).unsign(token)
    except signing.BadSignature:
        raise NotFound() from None
    execution = (
        Execution.objects.select_related("version")
        .filter(pk=execution_id, status=ExecutionStatus.WAITING)
        .first()
    )
    waiting = None
    if execution is not None:
        waiting = (
            NodeRun.objects.filter(execution_id=execution.pk, status=NodeRunStatus.WAITING)
            .order_by("-sequence")
            .values("node_id", "resume_at")
            .first()
        )
    if execution is None or waiting is None or not _in_time(waiting["resume_at"]):
        raise _gone()
    node = Graph.from_dict(execution.version.graph).find(waiting["node_id"])
    if node is None or node.type != WAIT_NODE_TYPE or node.params.get("mode", "time") != mode:
        raise _gone()
    return ParkedWait(execution=execution, node_id=waiting["node_id"], mode=mode)


def wait_resume(*, token: str, mode: str, call: dict[str, Any]) -> Execution:
    """Resume the wait ``token`` names with ``call`` (``{"body": ...}`` for "call",
    ``{"decision": "approve" | "reject"}`` for "approval"): stored on the execution and
    woken ``pending`` in one conditional UPDATE, then dispatched when its workspace has a
    slot. Raises as ``wait_find``; a second call for the same wait gets 410."""
    parked = wait_find(token=token, mode=mode)
    execution = parked.execution
    woken = Execution.objects.filter(
        pk=execution.pk, status=ExecutionStatus.WAITING, resume_at=execution.resume_at
    ).update(
        status=ExecutionStatus.PENDING,
        resume_at=None,
        resume_call={**call, "node_id": parked.node_id},
    )
    if not woken:  # another call, or the expiry, got there first
        raise _gone()
    dispatch_promote(workspace_id=execution.workspace_id)
    return execution


def _in_time(resume_at: Any) -> bool:
    return resume_at is None or timezone.now() < resume_at


def _gone() -> LinkflowError:
    return LinkflowError(
        ExecutionErrorCode.WAIT_NOT_WAITING,
        "This link is no longer waiting for a call.",
        status_code=410,
    )
