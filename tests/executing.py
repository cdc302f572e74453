"""Driving workflows through the API in tests: create, execute, wait, read back."""

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from executions.models import Execution, NodeRun
from executions.running.payloads import payload_store
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.engine import NodeOutcome
from workflows.models import Workflow
from workflows.services import workflow_create

from .conftest import wait_for

FINISHED = ("succeeded", "failed", "cancelled")


def create_workflow(api: APIClient, graph: dict[str, Any], name: str = "w") -> str:
    response = api.post("/api/v1/workflows/", {"name": name, "graph": graph}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def execute(api: APIClient, workflow_id: str, trigger_input: dict[str, Any] | None = None) -> str:
    response = api.post(
        f"/api/v1/workflows/{workflow_id}/execute", {"input": trigger_input or {}}, format="json"
    )
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def wait_status(
    execution_id: str, statuses: tuple[str, ...] = FINISHED, timeout: float = 30
) -> str:
    """Wait until the execution is in one of ``statuses``; return that status."""
    return wait_for(
        lambda: (
            Execution.objects.filter(pk=execution_id, status__in=statuses)
            .values_list("status", flat=True)
            .first()
        ),
        timeout=timeout,
        what=f"execution {execution_id} to reach {statuses}",
    )


def detail(api: APIClient, execution_id: str) -> dict[str, Any]:
    return api.get(f"/api/v1/executions/{execution_id}/").json()


def chain(*middle: dict[str, Any]) -> dict[str, Any]:
    """trigger.manual -> each node of ``middle`` in order (ids taken from the dicts)."""
    nodes = [{"id": "start", "type": "trigger.manual"}, *middle]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"nodes": nodes, "edges": edges}


def trigger_recorded(recorder: Any, at: datetime) -> None:
    """Tell a run's ExecutionRecorder that the manual trigger ``start`` of ``chain()``
    finished at ``at`` (its NodeRun is then pending in the recorder)."""
    recorder.node_finished(
        node_id="start",
        node_type="trigger.manual",
        attempt=1,
        input=[],
        outcome=NodeOutcome(status="succeeded", output={"main": [{}]}),
        started_at=at,
        finished_at=at,
    )


def personal_workflow(user: User, name: str, graph: dict[str, Any] | None = None) -> Workflow:
    """A workflow made through the service in ``user``'s personal workspace (default graph:
    a lone manual trigger)."""
    workspace = workspace_ensure_personal(user=user)
    return workflow_create(user=user, workspace=workspace, name=name, graph=graph or chain())


def recorded_execution(
    workflow: Workflow, *, status: str = "succeeded", mode: str = "manual", minutes_ago: int = 0
) -> Execution:
    """An execution row written directly, with no worker involved: started ``minutes_ago``
    and, when ``status`` is final, finished two seconds later."""
    started = timezone.now() - timedelta(minutes=minutes_ago)
    return Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=workflow.current_version,
        status=status,
        mode=mode,
        queued_at=started,
        started_at=started,
        finished_at=started + timedelta(seconds=2) if status in FINISHED else None,
    )


def backdated_execution(
    workflow: Workflow,
    *,
    created_at: datetime,
    output: list[Any],
    status: str = "succeeded",
    dedupe_key: str | None = None,
) -> Execution:
    """An execution row written directly and dated ``created_at`` (the partition key, so it
    lands in that month's partition), with one ``set`` NodeRun whose ``output`` went
    through the payload store (offloaded when bigger than the inline limit)."""
    execution = Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=workflow.current_version,
        mode="manual",
        status=status,
        queued_at=created_at,
        dedupe_key=dedupe_key,
    )
    Execution.objects.filter(pk=execution.pk).update(created_at=created_at)
    execution.created_at = created_at  # its NodeRuns copy it (their partition key)
    stored = payload_store(execution_id=str(execution.pk), name="set-1-output", data=output)
    NodeRun.objects.create(
        execution=execution, node_id="set", node_type="data.set", status="succeeded", output=stored
    )
    return execution


def queued(workflow, *, mode: str = "manual", trigger_input: dict | None = None) -> Execution:
    """An execution as dispatch leaves it: queued, never started."""
    workflow.refresh_from_db()
    return Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version_id=workflow.current_version_id,
        status="queued",
        mode=mode,
        queued_at=timezone.now(),
        dispatched_at=timezone.now(),
        trigger_input=trigger_input or {},
    )
