"""What earlier runs of an execution recorded, read back so a new run can go on from it."""

from django.db.models import Max

from linkflow.engine import NodeOutcome

from .models import Execution, NodeRunStatus
from .payloads import payload_load

_REUSABLE = (NodeRunStatus.SUCCEEDED, NodeRunStatus.SKIPPED, NodeRunStatus.WAITING)


def completed_outcomes(execution: Execution) -> dict[str, NodeOutcome]:
    """Per node, the latest decided outcome: succeeded and skipped nodes are not run again;
    a waiting one runs again knowing when it meant to resume."""
    rows = (
        execution.node_runs.filter(status__in=_REUSABLE)
        .order_by("node_id", "attempt")
        .values_list("node_id", "status", "output", "resume_at")
    )
    return {
        node_id: NodeOutcome(status=status, output=payload_load(output), resume_at=resume_at)
        for node_id, status, output, resume_at in rows
    }


def failed_attempts(execution: Execution) -> dict[str, int]:
    """Per node, how many attempts failed so far; a retry continues the count."""
    rows = (
        execution.node_runs.filter(status=NodeRunStatus.FAILED)
        .values("node_id")
        .annotate(last=Max("attempt"))
        .values_list("node_id", "last")
    )
    return dict(rows)


def recorded_count(execution: Execution) -> int:
    return execution.node_runs.count()
