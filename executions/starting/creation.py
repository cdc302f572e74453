"""The one way an execution comes to exist: row, dedupe, admission, dispatch on commit.

Every creation path (API and webhooks, retry and re-run, cron, sub-workflow calls) calls
``execution_admit``. What differs between them is the admission policy the caller passes:

- ``Admission.EXTERNAL``: new work asked for from outside (API, webhook, cron, retry,
  re-run). The monthly quota is checked (``plan_limit_exceeded``, 402) and the execution
  waits ``pending`` for a dispatch slot of its workspace (executions/starting/dispatch.py).
- ``Admission.CHILD``: a sub-workflow call of a run already admitted and running. It is
  neither refused (that would fail the parent halfway) nor gated (a ``wait`` child must
  not wait for the slot its own parent holds): it is dispatched at once.
- ``Admission.CHILD_INLINE``: as CHILD, for a child its parent's worker runs itself
  (``wait``): created ``queued`` and not sent to the broker.
- ``Admission.FAILURE``: an error workflow's run for an execution that failed for good
  (error_workflows.py). It waits ``pending`` for a slot like external work but is never
  refused by the monthly quota: the failure was already admitted and counted, and a
  refusal would lose the alert, inside the very transaction that records the failure.
- ``Admission.TEST``: a test run from the editor's loop (test_runs.py). It never counts
  towards the plan (no monthly quota, no dispatch slot) and is dispatched at once, so it
  has limits of its own per workspace: LINKFLOW_TEST_RUNS_PER_MINUTE (429 past it) and
  LINKFLOW_TEST_RUN_CONCURRENCY unfinished test runs (429 past it): not a free
  production path.
"""

import contextlib
import dataclasses
import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.utils import timezone

from billing.admission import check_monthly_quota
from executions.models import Execution, ExecutionMode, ExecutionStatus
from executions.starting.dispatch import (
    Promoted,
    dispatch_after_commit,
    dispatch_promoted,
    enqueue_execution,
)
from executions.starting.idempotency import repeat_check
from linkflow.accounts.models import User, Workspace
from linkflow.core.errors import LinkflowError
from linkflow.core.prepared import prepared_cursor
from linkflow.core.throttling import limit_wait
from workflows.error_codes import WorkflowErrorCode

_UNFINISHED = (
    ExecutionStatus.PENDING,
    ExecutionStatus.QUEUED,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING,
)


class Admission(enum.Enum):
    EXTERNAL = "external"
    CHILD = "child"
    CHILD_INLINE = "child_inline"
    FAILURE = "failure"
    TEST = "test"

    @property
    def gated(self) -> bool:
        """True when the execution waits for a dispatch slot."""
        return self in (Admission.EXTERNAL, Admission.FAILURE)

    @property
    def metered(self) -> bool:
        """True when the monthly quota may refuse the execution."""
        return self is Admission.EXTERNAL


@dataclass(frozen=True)
class Dedupe:
    """A repeated ``key`` of the workflow gets the earlier execution back; past ``window``
    (if given) the earlier one gives the key up and a new execution is made. With a
    ``fingerprint`` (the request's hash, idempotency.py), a repeat whose fingerprint
    differs from the earlier one's is refused instead."""

    key: str
    window: timedelta | None = None
    fingerprint: str = ""


@dataclass(frozen=True)
class NewExecution:
    """What a new execution is: its workflow version, how it was started, with what."""

    workspace_id: Any
    workflow_id: Any
    version_id: Any
    mode: str
    trigger_input: dict[str, Any]
    trigger_node_id: str = ""
    created_by: User | None = None
    # A retry or re-run: the execution it repeats, and the node a re-run starts from.
    source: Execution | None = None
    rerun_from_node: str = ""
    # A sub-workflow call: its caller and the depth of the chain.
    parent: Execution | None = None
    depth: int = 0
    # The caller's secret set, sealed (credentials/handoff.py): the child redacts it too.
    inherited_secrets: str = ""


def execution_admit(
    *,
    new: NewExecution,
    admission: Admission,
    dedupe: Dedupe | None = None,
    prepare: Callable[[Execution], None] | None = None,
) -> Execution:
    """Create the execution ``new`` describes under ``admission``, and dispatch it on
    commit if its workspace has a free slot (EXTERNAL) or at once (CHILD); otherwise it
    stays pending until a slot frees. A CHILD_INLINE one is created queued, unsent.

    With ``dedupe``, an execution of the workflow already holding the key is returned
    instead (no quota check, nothing created), also when two callers race; one whose
    ``dedupe.fingerprint`` differs raises ``idempotency_key_reused`` (422). ``prepare``
    runs in the creating transaction after the insert (a re-run copies its reused
    NodeRuns there), so the row is never dispatched without it.

    Raises ``plan_limit_exceeded`` (402) past the monthly quota (EXTERNAL only), and
    ``test_run_limit`` (429, Retry-After) past the test-run rate or concurrency (TEST
    only); nothing is created then. Called inside a transaction (FAILURE), the execution
    and its dispatch commit or roll back with the caller's.
    """
    workflow_id = new.workflow_id
    if dedupe is not None:
        earlier = _deduplicated(workflow_id=workflow_id, dedupe=dedupe)
        if earlier is not None:
            return repeat_check(earlier=earlier, fingerprint=dedupe.fingerprint)
    if admission.metered:
        check_monthly_quota(workspace_id=new.workspace_id)
    if admission is Admission.TEST:
        check_test_rate(workspace_id=new.workspace_id)
    # Inside a caller's transaction (an error workflow's run, recorded with the failure),
    # the promotion is part of it; otherwise the row commits first and the promotion
    # follows it (dispatch.py: publish, then check), so no lock is held while inserting.
    inside = transaction.get_connection().in_atomic_block
    try:
        # A lone INSERT commits by itself: no transaction of its own to open and close.
        alone = admission is not Admission.TEST and prepare is None and not inside
        with contextlib.nullcontext() if alone else transaction.atomic():
            if admission is Admission.TEST:
                _check_test_concurrency(workspace_id=new.workspace_id)
            execution = _insert(new, admission=admission, dedupe=dedupe)
            if prepare is not None:
                prepare(execution)
            _dispatch(execution, admission=admission, inside=inside)
    except IntegrityError:
        if dedupe is None:
            raise
        # A concurrent request with the same key created it first: answer with that one.
        earlier = Execution.objects.get(workflow_id=workflow_id, dedupe_key=dedupe.key)
        return repeat_check(earlier=earlier, fingerprint=dedupe.fingerprint)
    if admission.gated and not inside:
        _promoted(execution, dispatch_after_commit(workspace_id=execution.workspace_id))
    return execution


def _insert(new: NewExecution, *, admission: Admission, dedupe: Dedupe | None) -> Execution:
    now = timezone.now()
    child = not admission.gated
    execution = Execution(
        # Not dataclasses.asdict: it deep-copies, and the related rows must stay themselves.
        **{field.name: getattr(new, field.name) for field in dataclasses.fields(new)},
        status=ExecutionStatus.QUEUED if child else ExecutionStatus.PENDING,
        queued_at=now,
        dispatched_at=now if child else None,
        dedupe_key=dedupe.key if dedupe is not None else None,
        dedupe_fingerprint=dedupe.fingerprint if dedupe is not None else "",
    )
    _row_insert(execution)
    return execution


def _row_insert(execution: Execution) -> None:
    """``execution.save()`` for a new row, without compiling the INSERT each time: every
    web request and cron fire makes one. The values are prepared as save() would (the
    fields' own pre_save and get_db_prep_save), and Execution has no save signals."""
    statement, fields = _insert_statement(connection.vendor)
    values = [
        field.get_db_prep_save(field.pre_save(execution, True), connection) for field in fields
    ]
    with prepared_cursor() as cursor:
        cursor.execute(statement, values)
    execution._state.adding = False
    execution._state.db = connection.alias


@functools.cache
def _insert_statement(vendor: str) -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(Execution._meta.concrete_fields)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(Execution._meta.db_table)} ({columns}) VALUES ({values})", fields


def _dispatch(execution: Execution, *, admission: Admission, inside: bool) -> None:
    if admission in (Admission.CHILD, Admission.TEST):
        enqueue_execution(execution_id=str(execution.pk))
    if admission.gated and inside:
        _promoted(execution, dispatch_promoted(workspace_id=execution.workspace_id))


def _promoted(execution: Execution, promoted: Promoted) -> None:
    # Usually the slot is free and the caller sees it queued at once; if older pending
    # executions of the workspace are first, they go first.
    if str(execution.pk) in promoted.ids:  # the row says so too: no read back
        execution.status = ExecutionStatus.QUEUED
        execution.dispatched_at = promoted.at


def check_test_rate(*, workspace_id: UUID | str) -> None:
    """Count one test run of the workspace this minute, or raise ``test_run_limit`` (429)."""
    rate = f"{settings.LINKFLOW_TEST_RUNS_PER_MINUTE}/min"
    wait = limit_wait(key=f"test-runs:{workspace_id}", rate=rate)
    if wait is not None:
        raise _test_limited(
            f"At most {settings.LINKFLOW_TEST_RUNS_PER_MINUTE} test runs a minute in this "
            "workspace.",
            limit="test_runs_per_minute",
            wait=wait,
        )


def _check_test_concurrency(*, workspace_id: UUID | str) -> None:
    # Serialised per workspace by its row lock (as dispatch is), so two concurrent test
    # runs cannot both take the last place.
    Workspace.objects.select_for_update(no_key=True).filter(pk=workspace_id).exists()
    unfinished = Execution.objects.filter(
        workspace_id=workspace_id, mode=ExecutionMode.TEST, status__in=_UNFINISHED
    )
    allowed = settings.LINKFLOW_TEST_RUN_CONCURRENCY
    if unfinished[:allowed].count() >= allowed:
        raise _test_limited(
            f"At most {allowed} unfinished test runs at once in this workspace.",
            limit="test_run_concurrency",
            wait=1,
        )


def _test_limited(message: str, *, limit: str, wait: int) -> LinkflowError:
    return LinkflowError(
        WorkflowErrorCode.TEST_RUN_LIMIT,
        message,
        details={"limit": limit, "retry_after": wait},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


def _deduplicated(*, workflow_id: UUID | str, dedupe: Dedupe) -> Execution | None:
    """The execution already holding the key, or None; one older than the window gives
    the key up (a conditional update, so concurrent callers agree) and None is returned."""
    earlier = Execution.objects.filter(workflow_id=workflow_id, dedupe_key=dedupe.key).first()
    if earlier is None or dedupe.window is None:
        return earlier
    if earlier.created_at > timezone.now() - dedupe.window:
        return earlier
    Execution.objects.filter(pk=earlier.pk, dedupe_key=dedupe.key).update(dedupe_key=None)
    return None
