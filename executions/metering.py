"""The counts billing meters (registered with ``billing.meters`` by ``ExecutionsConfig.ready``).

System-wide reads for plan limits and usage rows, not tenant-scoped selectors: billing
asks for one workspace it already knows the caller may act in.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum

from billing.meters import WorkspaceTotals
from executions.models import Execution, ExecutionMode, ExecutionStatus, NodeRun

# Queued executions are waiting for a worker and running ones hold one; waiting (parked)
# ones hold nothing, so they do not count as concurrent.
CONCURRENT_STATUSES = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


def executions_created_count(*, workspace_id: UUID | str, since: datetime, cap: int | None) -> int:
    """Executions created in the workspace since ``since``, counting at most ``cap``. Test
    runs from the editor never count (they have limits of their own)."""
    rows = Execution.objects.filter(workspace_id=workspace_id, created_at__gte=since)
    return _count(rows.exclude(mode=ExecutionMode.TEST), cap)


def executions_live_count(*, workspace_id: UUID | str, cap: int | None) -> int:
    """The workspace's queued plus running executions (test runs left out), counting at
    most ``cap``."""
    rows = Execution.objects.filter(workspace_id=workspace_id, status__in=CONCURRENT_STATUSES)
    return _count(rows.exclude(mode=ExecutionMode.TEST), cap)


def executions_finished_totals(*, start: datetime, end: datetime) -> list[WorkspaceTotals]:
    """Per workspace, the executions that finished in [start, end): by final status, their
    node runs, and their run time in seconds. Test runs from the editor are left out, as
    from the quotas: building a workflow is not using it."""
    finished = {"finished_at__gte": start, "finished_at__lt": end}
    run_time = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    per_workspace = (
        Execution.objects.filter(**finished)
        .exclude(mode=ExecutionMode.TEST)
        .values("workspace_id")
        .annotate(
            succeeded=Count("pk", filter=Q(status=ExecutionStatus.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=ExecutionStatus.FAILED)),
            cancelled=Count("pk", filter=Q(status=ExecutionStatus.CANCELLED)),
            run_time=Sum(run_time),
        )
    )
    node_runs = dict(
        NodeRun.objects.filter(**{f"execution__{name}": v for name, v in finished.items()})
        .exclude(execution__mode=ExecutionMode.TEST)
        .values("execution__workspace_id")
        .annotate(n=Count("pk"))
        .values_list("execution__workspace_id", "n")
    )
    return [
        WorkspaceTotals(
            workspace_id=totals["workspace_id"],
            succeeded=totals["succeeded"],
            failed=totals["failed"],
            cancelled=totals["cancelled"],
            node_runs=node_runs.get(totals["workspace_id"], 0),
            execution_seconds=(totals["run_time"] or timedelta()).total_seconds(),
        )
        for totals in per_workspace
    ]


def _count(rows: Any, cap: int | None) -> int:
    # COUNT over a LIMITed subquery: the cost stops at the allowance, however busy it gets.
    if cap is None:
        return int(rows.count())
    return int(rows.values("pk")[:cap].count())
