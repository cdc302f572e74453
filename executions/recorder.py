"""The engine's observer on the Django side: it records NodeRuns and finishes executions.

Committing once per node costs a large share of throughput, so NodeRuns of pure nodes
(no effect outside the execution) are buffered and written together. The buffer is
flushed before any node with outside effects starts and right after it finishes: that
checkpoint is what lets a crashed execution resume without repeating an outside call.
A pure node lost in a crash is simply computed again, with the same result.
"""

from datetime import datetime
from types import TracebackType
from typing import Any

from django.db import transaction
from django.utils import timezone

from linkflow.engine import NodeOutcome, RunResult, get_node_type

from .models import Execution, ExecutionStatus, NodeRun, NodeRunStatus
from .runtime import Heartbeat, Lease

_RESULT_STATUS = {
    "succeeded": ExecutionStatus.SUCCEEDED,
    "failed": ExecutionStatus.FAILED,
    "cancelled": ExecutionStatus.CANCELLED,
}


def completed_outcomes(execution: Execution) -> dict[str, NodeOutcome]:
    """What an earlier attempt already decided: those nodes are not run again."""
    rows = execution.node_runs.filter(
        status__in=(NodeRunStatus.SUCCEEDED, NodeRunStatus.SKIPPED)
    ).values_list("node_id", "status", "output")
    return {node_id: NodeOutcome(status=status, output=output) for node_id, status, output in rows}


def _is_pure(node_type: str) -> bool:
    cls = get_node_type(node_type)
    return cls is not None and cls.pure


class ExecutionRecorder:
    """Observer for one run of one execution, under one lease. Use as a context manager."""

    def __init__(self, *, execution: Execution, lease: Lease) -> None:
        self.execution = execution
        self.lease = lease
        self._pending: list[NodeRun] = []
        self._sequence = 0 if lease.fresh else execution.node_runs.count()
        self._heartbeat = Heartbeat(lease)

    def __enter__(self) -> "ExecutionRecorder":
        self._heartbeat.start()
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
        if self._pending and not _is_pure(node_type):
            self._flush()

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
    ) -> None:
        self._sequence += 1
        self._pending.append(
            NodeRun(
                execution_id=self.execution.pk,
                node_id=node_id,
                node_type=node_type,
                status=outcome.status,
                attempt=attempt,
                sequence=self._sequence,
                input=input,
                output=outcome.output,
                error=outcome.error,
                started_at=started_at,
                finished_at=finished_at,
            )
        )
        if outcome.status != NodeRunStatus.SKIPPED and not _is_pure(node_type):
            self._flush()

    def should_stop(self) -> bool:
        return self._heartbeat.lost

    # --- end of the run -------------------------------------------------------------------
    def finish(self, result: RunResult) -> str:
        """Write what is pending and the final status in one transaction; return the status.

        The status only changes while this worker still holds the lease: a run that lost
        it (cancelled, or taken over after a stall) leaves the row to its new owner.
        """
        status = _RESULT_STATUS[result.status]
        with transaction.atomic():
            self._write_pending()
            Execution.objects.filter(
                pk=self.execution.pk,
                lease_owner=self.lease.owner,
                status=ExecutionStatus.RUNNING,
            ).update(
                status=status,
                error=result.error,
                finished_at=timezone.now(),
                lease_owner="",
                lease_expires_at=None,
            )
        return status

    def _flush(self) -> None:
        with transaction.atomic():
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            # A worker that took over after a stall may have written the same attempt first.
            NodeRun.objects.bulk_create(self._pending, ignore_conflicts=True)
            self._pending = []
