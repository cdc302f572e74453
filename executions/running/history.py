"""What earlier runs of an execution recorded, read back so a new run can go on from it."""

from django.db.models import Max

from executions.models import Execution, NodeRunStatus
from executions.running.payloads import payload_load
from linkflow.engine import NodeOutcome
from linkflow.engine.items import from_meta
from linkflow.engine.loops import iteration_key


def completed_outcomes(execution: Execution) -> dict[str, NodeOutcome]:
    """Per node, its latest recorded attempt: succeeded and skipped nodes are not run
    again; a waiting one runs again knowing when it meant to resume; a failed attempt, or
    one checkpointed ("running") before a crash, runs again for the items it did not do.
    A run in a loop batch or a page of a node is keyed ``<node>#<iteration>``."""
    rows = execution.node_runs.order_by("node_id", "iteration", "attempt").values_list(
        "node_id", "iteration", "status", "output", "resume_at", "item_meta"
    )
    outcomes = {}
    for node_id, iteration, status, output, resume_at, item_meta in rows:
        loaded = payload_load(output)
        # A loop batch's or a page's run is kept apart from the node's own (loops.py).
        outcomes[iteration_key(node_id, iteration)] = NodeOutcome(
            status=status, output=loaded, resume_at=resume_at, items=from_meta(item_meta, loaded)
        )
    return outcomes


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
