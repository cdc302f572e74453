"""The engine's observer on the Django side: it records NodeRuns and finishes executions.

Committing once per node costs a large share of throughput, so NodeRuns of pure nodes
(no effect outside the execution) are buffered and written together. The buffer is
flushed before any node with outside effects starts and right after it finishes: that
checkpoint is what lets a crashed execution resume without repeating an outside call.
A pure node lost in a crash is simply computed again, with the same result.

Every one of those writes, and every start of a node with outside effects, is fenced: it
checks, under a lock of the execution's row, that this run still holds the lease (lease.py;
on PostgreSQL a checkpoint is one statement, checkpoint_statement.py), and raises LeaseLost,
writing nothing, when another worker took the execution over.

Progress events (feeds/) follow the same rhythm: a pure node's events, and the
execution's own "started", are published when the next write commits, while a node with
outside effects announces its start before it runs. Publishing costs no database query:
everything is known in memory. The final write's events go out with a sync webhook's
reply in one Redis round trip, and the freed dispatch slot is handed on after it commits.
What a crash can repeat is in docs/execution-semantics.md.
"""

import time
from datetime import datetime
from types import TracebackType
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from credentials.redaction import redact_execution
from executions.feeds import publisher, vocabulary
from executions.models import Execution, ExecutionStatus, NodeRunStatus
from executions.running.checkpoint_statement import checkpoint_write
from executions.running.finish_statement import finish_write
from executions.running.lease import Heartbeat, Lease, LeaseLost, lease_fence
from executions.running.noderun_rows import noderuns_upsert
from executions.running.payloads import payload_store
from executions.running.shutdown import shutdown_requested
from executions.starting.dispatch import (
    dispatch_after_commit,
    dispatch_promote,
    enqueue_execution,
)
from executions.starting.error_workflows import error_handoff
from linkflow.core.metrics import node_observed
from linkflow.engine import NodeOutcome, RunResult, get_node_type

_RESULT_STATUS = {
    "succeeded": ExecutionStatus.SUCCEEDED,
    "failed": ExecutionStatus.FAILED,
    "cancelled": ExecutionStatus.CANCELLED,
    "waiting": ExecutionStatus.WAITING,
}
# How often a running execution looks whether somebody cancelled it.
_CANCEL_CHECK_SECONDS = 1.0


def _is_pure(node_type: str) -> bool:
    cls = get_node_type(node_type)
    return cls is not None and cls.pure


class ExecutionRecorder:
    """Observer for one run of one execution, under one lease. Use as a context manager."""

    def __init__(
        self, *, execution: Execution, lease: Lease, sequence: int = 0, announce: bool = False
    ) -> None:
        self.execution = execution
        # A sync webhook caller is waiting for the outcome (see completion.py).
        self.announce = announce
        self.lease = lease
        self._pending: list[dict[str, Any]] = []
        # Events of the pending NodeRuns, published when those are committed.
        self._events: list[dict[str, Any]] = []
        self._sequence = sequence
        self._heartbeat = Heartbeat(lease)
        self._next_cancel_check = time.monotonic() + _CANCEL_CHECK_SECONDS
        self._cancelled = False

    def __enter__(self) -> "ExecutionRecorder":
        self._heartbeat.start()
        started_at = self.execution.started_at
        # Published with the first write (a checkpoint, or the end of a run of pure nodes)
        # like the pure nodes' own events, so a short run costs one Redis round trip.
        self._events.append(
            self._event(
                vocabulary.EXECUTION_STARTED,
                status=ExecutionStatus.RUNNING,
                started_at=started_at.isoformat() if started_at else None,
            )
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._heartbeat.stop()

    # --- engine Observer protocol ---------------------------------------------------------
    def node_started(
        self, *, node_id: str, node_type: str, attempt: int, input: list[dict[str, Any]]
    ) -> None:
        started = {"node_id": node_id, "node_type": node_type, "attempt": attempt}
        if _is_pure(node_type):
            self._events.append(self._event(vocabulary.NODE_STARTED, **started))
            return
        # Even with nothing pending: a node with outside effects starts only under the lease.
        self._flush()
        self._publish_now(vocabulary.NODE_STARTED, **started)

    def node_finished(
        self,
        *,
        node_id: str,
        node_type: str,
        attempt: int,
        input: list[dict[str, Any]],
        outcome: NodeOutcome,
        started_at: datetime,
        finished_at: datetime,
        iteration: int = 0,
    ) -> None:
        node_observed(node_type=node_type, seconds=(finished_at - started_at).total_seconds())
        self._sequence += 1
        execution_id = str(self.execution.pk)
        # Secret values the execution's nodes were given are never stored or published
        # (free when no secret was used).
        output = redact_execution(execution_id, outcome.output)
        error = redact_execution(execution_id, outcome.error)
        self._pending.append(
            self._row(
                node_id=node_id,
                node_type=node_type,
                attempt=attempt,
                iteration=iteration,
                sequence=self._sequence,
                status=outcome.status,
                outcome=outcome,
                output=output,
                error=error,
                input=input,
                started_at=started_at,
                finished_at=finished_at,
            )
        )
        self._events.append(
            self._event(
                vocabulary.NODE_FINISHED,
                node_id=node_id,
                node_type=node_type,
                attempt=attempt,
                status=outcome.status,
                output=vocabulary.output_summary(output),
                **({"iteration": iteration} if iteration else {}),
                error=error,
                duration_ms=round((finished_at - started_at).total_seconds() * 1000),
            )
        )
        if outcome.status != NodeRunStatus.SKIPPED and not _is_pure(node_type):
            self._flush()

    def node_progress(
        self,
        *,
        node_id: str,
        node_type: str,
        attempt: int,
        input: list[dict[str, Any]],
        outcome: NodeOutcome,
        started_at: datetime,
        iteration: int = 0,
    ) -> None:
        """A checkpoint of a node with outside effects amid its items: the attempt is
        committed as "running" with the items done so far, so a worker taking over after a
        crash sends none of them again. node_finished later overwrites the row."""
        self._pending.append(
            self._row(
                node_id=node_id,
                node_type=node_type,
                attempt=attempt,
                iteration=iteration,
                sequence=self._sequence + 1,  # the number node_finished will give it
                status=NodeRunStatus.RUNNING,
                outcome=outcome,
                output=redact_execution(str(self.execution.pk), outcome.output),
                started_at=started_at,
            )
        )
        self._flush()

    def should_stop(self) -> bool:
        """True once the lease is lost, the execution was cancelled (checked each second), or
        this worker is stopping (see shutdown.py)."""
        if self._heartbeat.lost or self._cancelled or shutdown_requested():
            return True
        now = time.monotonic()
        if now >= self._next_cancel_check:
            self._next_cancel_check = now + _CANCEL_CHECK_SECONDS
            self._cancelled = Execution.objects.filter(
                pk=self.execution.pk, status=ExecutionStatus.CANCELLED
            ).exists()
        return self._cancelled

    # --- end of the run -------------------------------------------------------------------
    def finish(self, result: RunResult) -> str:
        """Write what is pending and the new status in one transaction, then hand the
        freed dispatch slot on; return the status.

        The status only changes while this worker still holds the lease: a run that was
        cancelled keeps the lease and records what is pending; a run taken over by another
        worker (after a stall) writes nothing and raises LeaseLost. A "waiting" result
        parks the execution until ``result.resume_at``.
        """
        status = _RESULT_STATUS[result.status]
        waiting = status == ExecutionStatus.WAITING
        finished_at = None if waiting else timezone.now()
        execution_id = str(self.execution.pk)
        error = redact_execution(execution_id, result.error)
        written = {
            "status": status,
            "error": error,
            "resume_at": result.resume_at if waiting else None,
            "finished_at": finished_at,
        }
        # Run inside a caller's transaction (tests, an inline child), the slot is handed
        # on in it; otherwise after this commit, without holding any lock while writing.
        inside = transaction.get_connection().in_atomic_block
        # The common ending: one statement (finish_statement.py) that commits by itself. A
        # fenced-out run wrote nothing there and takes the path below.
        alone = not inside and status != ExecutionStatus.FAILED
        if alone and connection.vendor == "postgresql" and self._status_written(**written):
            self._ended_publish(status, result, error, finished_at)
            dispatch_after_commit(workspace_id=self.execution.workspace_id)
            return status
        with transaction.atomic():
            # The status UPDATE is the fence on the common path; only when it matches
            # nothing is the lease looked at on its own (cancelled, or lost).
            updated = self._status_written(**written)
            if not updated:
                lease_fence(self.lease)
            self._write_pending()
            if updated and status == ExecutionStatus.FAILED:
                # In this transaction: the failure and its hand-off commit together.
                error_handoff(execution=self.execution, error=error)
            if updated:
                self._ended_publish(status, result, error, finished_at)
            else:
                self._publish_on_commit()
            if inside or not updated:
                dispatch_promote(workspace_id=self.execution.workspace_id)
        if updated and not inside:
            # Finished or parked, its slot is free: the workspace's next pending execution
            # goes (dispatch.py: one call, no lock unless one is pending and a slot free).
            dispatch_after_commit(workspace_id=self.execution.workspace_id)
        return status

    def _ended_publish(
        self,
        status: str,
        result: RunResult,
        error: dict[str, Any] | None,
        finished_at: datetime | None,
    ) -> None:
        """The run's last events and, for a caller waiting on it, its reply: one Redis
        round trip once the status is committed (at once when it already is)."""
        self._events.append(self._ended(status, result, error, finished_at))
        reply = None
        if status != ExecutionStatus.WAITING and self.announce:
            # The waiting webhook caller gets what is stored: secrets redacted too.
            execution_id = str(self.execution.pk)
            outcome = redact_execution(execution_id, _announcement(status, result, error))
            reply = (execution_id, outcome)
        publisher.events_publish_on_commit(self._events, reply=reply)
        self._events = []

    def hand_back(self) -> bool:
        """Write what is pending and give the execution back to the broker with its lease
        released, for another worker to resume at once (this one is stopping). It keeps
        its dispatch slot. False when the lease was already lost (cancelled, taken over):
        the row is left to whoever has it."""
        with transaction.atomic():
            lease_fence(self.lease)
            self._write_pending()
            released = Execution.objects.filter(
                pk=self.execution.pk, lease_owner=self.lease.owner, status=ExecutionStatus.RUNNING
            ).update(
                status=ExecutionStatus.QUEUED,
                lease_owner="",
                lease_expires_at=None,
                dispatched_at=timezone.now(),
            )
            self._publish_on_commit()
            if released:
                enqueue_execution(execution_id=str(self.execution.pk))
        return bool(released)

    def _status_written(
        self,
        *,
        status: str,
        error: dict[str, Any] | None,
        resume_at: datetime | None,
        finished_at: datetime | None,
    ) -> bool:
        """The fenced status change (on PostgreSQL with what is pending, in one statement):
        whether the fence matched."""
        if connection.vendor == "postgresql":
            updated = finish_write(
                execution=self.execution,
                owner=self.lease.owner,
                status=status,
                error=error,
                resume_at=resume_at,
                finished_at=finished_at,
                rows=self._pending,
            )
            if updated:
                self._pending = []
            return updated
        changed = Execution.objects.filter(
            pk=self.execution.pk,
            lease_owner=self.lease.owner,
            status=ExecutionStatus.RUNNING,
        ).update(
            status=status,
            error=error,
            resume_at=resume_at,
            finished_at=finished_at,
            lease_owner="",
            lease_expires_at=None,
        )
        return bool(changed)

    def _flush(self) -> None:
        if connection.vendor == "postgresql":
            # The fence and the rows in one statement (checkpoint_statement.py); inside a
            # caller's transaction its row lock lasts until that commits, as lease_fence's.
            if not checkpoint_write(execution=self.execution, lease=self.lease, rows=self._pending):
                raise LeaseLost(str(self.execution.pk))
            self._pending = []
            self._publish_on_commit()
            return
        with transaction.atomic():
            lease_fence(self.lease)
            self._write_pending()
            self._publish_on_commit()

    # --- NodeRun rows ---------------------------------------------------------------------
    def _row(
        self,
        *,
        node_id: str,
        node_type: str,
        attempt: int,
        sequence: int,
        status: str,
        outcome: NodeOutcome,
        iteration: int = 0,
        output: dict[str, Any],
        started_at: datetime,
        input: list[dict[str, Any]] | None = None,
        error: dict[str, Any] | None = None,
        finished_at: datetime | None = None,
    ) -> dict[str, Any]:
        """One attempt's NodeRun as column values: a finished attempt, or (without
        ``finished_at``) a checkpoint of one still running, which keeps no input.
        ``output`` and ``error`` come redacted; large item lists go to storage and the
        row keeps a reference."""
        execution_id = str(self.execution.pk)
        # A loop's batches and an HTTP request's pages are runs of their own (iteration).
        stored = f"{node_id}-{iteration}-{attempt}" if iteration else f"{node_id}-{attempt}"
        if input is not None:
            input = payload_store(
                execution_id=execution_id,
                name=f"{stored}-input",
                data=redact_execution(execution_id, input),
            )
        return {
            "execution_id": self.execution.pk,
            "execution_created_at": self.execution.created_at,
            "node_id": node_id,
            "node_type": node_type,
            "status": status,
            "attempt": attempt,
            "iteration": iteration,
            "sequence": sequence,
            "input": [] if input is None else input,
            "output": payload_store(
                execution_id=execution_id, name=f"{stored}-output", data=output
            ),
            "error": error,
            "started_at": started_at,
            "finished_at": finished_at,
            "resume_at": outcome.resume_at if finished_at is not None else None,
            "item_meta": outcome.items.as_meta() if outcome.items else {},
        }

    # --- progress events ------------------------------------------------------------------
    def _event(self, type: str, **data: Any) -> dict[str, Any]:
        return vocabulary.event_build(
            type=type,
            execution_id=self.execution.pk,
            workspace_id=self.execution.workspace_id,
            workflow_id=self.execution.workflow_id,
            **data,
        )

    def _publish_now(self, type: str, **data: Any) -> None:
        """Publish what is pending and this event (outside a transaction: at once)."""
        self._events.append(self._event(type, **data))
        self._publish_on_commit()

    def _publish_on_commit(self) -> None:
        publisher.events_publish_on_commit(self._events)
        self._events = []

    def _ended(
        self,
        status: str,
        result: RunResult,
        error: dict[str, Any] | None,
        finished_at: datetime | None,
    ) -> dict[str, Any]:
        if finished_at is None:  # parked: a wait or a retry back-off
            resume_at = result.resume_at.isoformat() if result.resume_at else None
            return self._event(vocabulary.EXECUTION_WAITING, status=status, resume_at=resume_at)
        return self._event(
            vocabulary.EXECUTION_FINISHED,
            status=status,
            error=error,
            finished_at=finished_at.isoformat(),
        )

    def _write_pending(self) -> None:
        if self._pending:
            noderuns_upsert(self._pending)
            self._pending = []


def _announcement(status: str, result: RunResult, error: dict[str, Any] | None) -> dict[str, Any]:
    """What a waiting webhook caller needs to answer."""
    return {
        "status": status,
        "response": result.response,
        "last_items": result.last_items,
        "error": error,
    }
