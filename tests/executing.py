"""Driving workflows through the API in tests: create, execute, wait, read back."""

import itertools
from typing import Any

from rest_framework.test import APIClient

from executions.models import Execution

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
