"""Dead letters: jobs that failed for good, kept for an operator to replay or discard.

A LinkFlow task that raises (past any retries it has) or a message naming a task no worker
knows becomes a ``DeadLetter``. Celery reports both through its signals, connected in
``ExecutionsConfig.ready``; the handlers here are thin and never raise into the worker.

An execution whose run raised an unexpected exception (a bug or corrupt data, not a
node failure, which the engine records as a normal failed execution) would otherwise
stay "running" until recovery re-sent it, failing again for ever. It is marked failed
with the code ``internal_error`` instead; replaying its dead letter queues it again.
"""

import hashlib
import json
import logging
import uuid
from datetime import datetime
from typing import Any

from celery import current_app
from celery.exceptions import TimeLimitExceeded
from cryptography.fernet import InvalidToken
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from credentials.handoff import secrets_unseal
from credentials.redaction import active_secrets, redact
from executions.feeds.completion import completion_publish
from executions.models import (
    DeadLetter,
    DeadLetterStatus,
    Execution,
    ExecutionMode,
    ExecutionStatus,
)
from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.models import Membership, Role
from linkflow.core.errors import ErrorCode, LinkflowError, NotFound
from linkflow.core.outages import is_outage

logger = logging.getLogger(__name__)

# Tasks of these apps are LinkFlow's; Celery's own (celery.*) and third parties' are not.
_LINKFLOW_TASK_PREFIXES = ("executions.", "workflows.", "credentials.", "billing.", "linkflow.")
# Tasks whose first argument (or execution_id keyword) is an execution id.
_EXECUTION_TASKS = frozenset({"executions.run"})
_TRACEBACK_MAX_CHARS = 8000
_ERROR_MAX_CHARS = 2000
INTERNAL_ERROR = str(ErrorCode.INTERNAL_ERROR)


# --- recording ---------------------------------------------------------------------------
def dead_letter_record(
    *,
    task_name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    error: str,
    traceback: str = "",
    task_id: str = "",
    attempts: int = 1,
    workspace_id: uuid.UUID | str | None = None,
    execution_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
) -> DeadLetter:
    """Record a failure of ``task_name(*args, **kwargs)``; return its dead letter.

    The same job failing again (same task and arguments) updates its pending dead letter,
    or reopens the one last replayed, adding ``attempts``; otherwise a new one is made.
    Arguments that JSON cannot hold are kept as their repr. Raises database errors.
    """
    now = now or timezone.now()
    args, kwargs = _jsonable(list(args)), _jsonable(dict(kwargs))
    fields = {
        "error": error[:_ERROR_MAX_CHARS],
        "traceback": traceback[-_TRACEBACK_MAX_CHARS:],
        "task_id": task_id[:255],
        "last_failed_at": now,
    }
    fingerprint = _fingerprint(task_name, args, kwargs)
    for _ in range(3):  # a concurrent failure of the same job may create the row first
        try:
            with transaction.atomic():
                return _reopen(fingerprint, attempts, fields) or DeadLetter.objects.create(
                    task_name=task_name,
                    args=args,
                    kwargs=kwargs,
                    fingerprint=fingerprint,
                    attempts=attempts,
                    first_failed_at=now,
                    workspace_id=workspace_id,
                    execution_id=execution_id,
                    **fields,
                )
        except IntegrityError:
            continue
    raise RuntimeError(f"could not record the dead letter of {task_name}")


def _reopen(fingerprint: str, attempts: int, fields: dict[str, Any]) -> DeadLetter | None:
    """The job's pending dead letter, else its last replayed one, updated and pending."""
    rows = DeadLetter.objects.select_for_update().filter(fingerprint=fingerprint)
    found = rows.filter(status=DeadLetterStatus.PENDING).first() or (
        rows.filter(status=DeadLetterStatus.REPLAYED).order_by("-last_failed_at").first()
    )
    if found is None:
        return None
    DeadLetter.objects.filter(pk=found.pk).update(
        **fields,
        status=DeadLetterStatus.PENDING,
        attempts=F("attempts") + attempts,
        resolved_at=None,
    )
    found.refresh_from_db()
    return found


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


def _fingerprint(task_name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    canonical = json.dumps([task_name, args, kwargs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def execution_fail_internal(*, execution_id: uuid.UUID | str, dead_letter: DeadLetter) -> bool:
    """Mark an execution that crashed its worker failed (code ``internal_error``).

    Only a queued or running execution changes (a conditional UPDATE): one that finished
    meanwhile keeps its outcome. A sync webhook caller waiting on it is told at once.
    Returns whether the execution changed.
    """
    error = {
        "code": INTERNAL_ERROR,
        "message": "An internal error stopped this execution; it was kept for operators.",
        "node_id": None,
        "dead_letter": str(dead_letter.pk),
    }
    active = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
    changed = Execution.objects.filter(pk=execution_id, status__in=active).update(
        status=ExecutionStatus.FAILED,
        error=error,
        finished_at=timezone.now(),
        resume_at=None,
        lease_owner="",
        lease_expires_at=None,
    )
    mode = Execution.objects.filter(pk=execution_id).values_list("mode", flat=True).first()
    if changed and mode == ExecutionMode.WEBHOOK:
        outcome: dict[str, Any] = {
            "status": "failed",
            "response": None,
            "last_items": [],
            "error": error,
        }
        completion_publish(execution_id=str(execution_id), outcome=outcome)
    return bool(changed)


# --- Celery signal handlers (connected in apps.py) ----------------------------------------
def on_task_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    """Celery ``task_failure``: a LinkFlow task raised and will not be retried."""
    task_name = getattr(sender, "name", "") or ""
    if not task_name.startswith(_LINKFLOW_TASK_PREFIXES) or exception is None:
        return
    if task_name in _EXECUTION_TASKS and isinstance(exception, TimeLimitExceeded):
        # Not a job to replay: the worker failed the execution with the reason
        # (executions/running/worker.py), and replaying it would only be killed again.
        return
    request = getattr(sender, "request", None)
    retries = getattr(request, "retries", 0) or 0
    _record_safely(
        task_name=task_name,
        task_id=task_id or "",
        args=list(args or []),
        kwargs=dict(kwargs or {}),
        exception=exception,
        traceback=str(getattr(einfo, "traceback", "") or ""),
        attempts=retries + 1,
    )


def on_task_unknown(
    sender: Any = None,
    name: str | None = None,
    id: str | None = None,
    message: Any = None,
    exc: BaseException | None = None,
    **_: Any,
) -> None:
    """Celery ``task_unknown``: a message names a task this worker does not have."""
    args, kwargs = _message_arguments(message)
    _record_safely(
        task_name=name or "?",
        task_id=id or "",
        args=args,
        kwargs=kwargs,
        exception=exc or LookupError(f"unknown task {name!r}"),
        traceback="",
        attempts=1,
    )


def _message_arguments(message: Any) -> tuple[list[Any], dict[str, Any]]:
    try:
        payload = message.decode() if message is not None else None
    except Exception:  # an undecodable body: keep what can be kept, the name
        return [], {}
    if isinstance(payload, list | tuple) and len(payload) >= 2:  # protocol 2
        return list(payload[0] or []), dict(payload[1] or {})
    return [], {}


def _record_safely(
    *,
    task_name: str,
    task_id: str,
    args: list[Any],
    kwargs: dict[str, Any],
    exception: BaseException,
    traceback: str,
    attempts: int,
) -> None:
    # Runs inside the worker's failure path: an error here must never take the worker down.
    try:
        execution = _execution_of(task_name, args, kwargs)
        secrets = _secrets_of(execution)
        dead_letter = dead_letter_record(
            task_name=task_name,
            task_id=task_id,
            args=redact(args, secrets),
            kwargs=redact(kwargs, secrets),
            error=redact(f"{type(exception).__name__}: {exception}", secrets),
            traceback=redact(traceback, secrets),
            attempts=attempts,
            workspace_id=execution["workspace_id"] if execution else None,
            execution_id=execution["pk"] if execution else None,
        )
        # An outage is transient: recovery re-sends the execution once services are back.
        if execution and not is_outage(exception):
            execution_fail_internal(execution_id=execution["pk"], dead_letter=dead_letter)
    except Exception:
        logger.exception("could not record the failure of %s %s", task_name, task_id)


def _secrets_of(execution: dict[str, Any]) -> frozenset[str]:
    """The secrets a dead letter must not hold: those of every resolver alive in this
    process (the failed run's among them: Celery reports the failure while the
    exception's traceback still holds the run's frames) and those the execution
    inherited from its caller, which outlive its run."""
    secrets = active_secrets()
    sealed = execution.get("inherited_secrets") or ""
    try:
        return secrets | secrets_unseal(sealed=sealed)
    except InvalidToken:  # keys rotated away: the live secrets are all there is
        return secrets


def _execution_of(task_name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The execution a task works on (pk and workspace), or {} when none or unknown."""
    if task_name not in _EXECUTION_TASKS:
        return {}
    raw = args[0] if args else kwargs.get("execution_id")
    try:
        execution_id = uuid.UUID(str(raw))
    except ValueError:
        return {}
    fields = ("pk", "workspace_id", "inherited_secrets")
    return Execution.objects.filter(pk=execution_id).values(*fields).first() or {}


# --- reads (tenant-scoped) ---------------------------------------------------------------
def dead_letter_list(*, user: Actor, status: str | None = None) -> QuerySet[DeadLetter]:
    """Dead letters of the workspaces the user owns or administers; staff also see the
    platform-level ones (no workspace)."""
    managed = Membership.objects.filter(
        user=user_of(user), role__in=(Role.OWNER, Role.ADMIN)
    ).values("workspace_id")
    visible = Q(workspace_id__in=managed)
    if user_of(user).is_staff:
        visible |= Q(workspace__isnull=True)
    rows = DeadLetter.objects.filter(visible)
    return rows.filter(status=status) if status else rows


def dead_letter_get(*, user: Actor, id: object) -> DeadLetter:
    """One dead letter the user may see, or NotFound (also for a malformed id)."""
    try:
        return dead_letter_list(user=user).get(pk=uuid.UUID(str(id)))
    except (DeadLetter.DoesNotExist, ValueError):
        raise NotFound("Dead letter not found.") from None


# --- operator actions --------------------------------------------------------------------
def dead_letter_replay(*, dead_letter: DeadLetter) -> DeadLetter:
    """Send the job again (after commit) and mark the dead letter replayed.

    An execution it failed with ``internal_error`` is queued again first, so the run
    resumes from its recorded NodeRuns. If the job fails again, the same dead letter
    comes back as pending. Raises ``conflict`` (409) unless it is pending. Callers check
    access (``dead_letter_get``).
    """
    with transaction.atomic():
        _resolve(dead_letter, status=DeadLetterStatus.REPLAYED, verb="replayed")
        if dead_letter.execution_id is not None:
            Execution.objects.filter(
                pk=dead_letter.execution_id,
                status=ExecutionStatus.FAILED,
                error__code=INTERNAL_ERROR,
            ).update(status=ExecutionStatus.QUEUED, error=None, finished_at=None)
        name, args, kwargs = dead_letter.task_name, dead_letter.args, dead_letter.kwargs
        transaction.on_commit(lambda: current_app.send_task(name, args=args, kwargs=kwargs))
    dead_letter.refresh_from_db()
    return dead_letter


def dead_letter_discard(*, dead_letter: DeadLetter) -> DeadLetter:
    """Mark the dead letter discarded (kept for the record, never sent again).

    Raises ``conflict`` (409) unless it is pending.
    """
    _resolve(dead_letter, status=DeadLetterStatus.DISCARDED, verb="discarded")
    dead_letter.refresh_from_db()
    return dead_letter


def _resolve(dead_letter: DeadLetter, *, status: str, verb: str) -> None:
    # Conditional: of two operators acting at once, exactly one changes the row.
    changed = DeadLetter.objects.filter(pk=dead_letter.pk, status=DeadLetterStatus.PENDING).update(
        status=status, resolved_at=timezone.now()
    )
    if not changed:
        raise LinkflowError(
            ErrorCode.CONFLICT,
            f"Only a pending dead letter can be {verb}.",
            details={"status": DeadLetter.objects.get(pk=dead_letter.pk).status},
            status_code=409,
        )


def dead_letters_pending_count() -> int:
    """How many dead letters wait for an operator (all workspaces; for metrics)."""
    return DeadLetter.objects.filter(status=DeadLetterStatus.PENDING).count()
