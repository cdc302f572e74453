"""Usage: the daily rollup (correct, idempotent) and the workspace usage endpoint."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from billing.models import UsageDaily
from billing.tasks import aggregate_usage
from billing.usage import usage_aggregate
from executions.models import Execution, NodeRun
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow

from ..executing import chain, create_workflow
from . import on_plan

pytestmark = pytest.mark.django_db

NOOP = {"id": "noop", "type": "flow.noop"}
DAY = date(2026, 3, 14)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def finished(  # type: ignore[no-untyped-def]
    workflow: Workflow, status: str, start: datetime, seconds: float, runs: int = 0, mode="api"
):
    execution = Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version_id=workflow.current_version_id,
        mode=mode,
        status=status,
        queued_at=start,
        started_at=start,
        finished_at=start + timedelta(seconds=seconds),
    )
    NodeRun.objects.bulk_create(
        NodeRun(execution=execution, node_id=f"n{i}", node_type="flow.noop", status="succeeded")
        for i in range(runs)
    )
    return execution


def a_workflow(api, name: str = "w") -> Workflow:  # type: ignore[no-untyped-def]
    return Workflow.objects.get(pk=create_workflow(api, chain(NOOP), name=name))


def row(workspace_id: object, day: date = DAY) -> dict:
    return (
        UsageDaily.objects.filter(workspace_id=workspace_id, day=day)
        .values("succeeded", "failed", "cancelled", "node_runs", "execution_seconds")
        .get()
    )


def test_aggregation_counts_the_days_finished_executions_per_workspace(owner, outsider, client_for):
    mine = a_workflow(client_for(owner))
    theirs = a_workflow(client_for(outsider))
    finished(mine, "succeeded", at(1), 2.5, runs=2)
    finished(mine, "succeeded", at(23, 59), 90, runs=1)  # ends after midnight: the next day
    finished(mine, "failed", at(12), 1, runs=3)
    finished(mine, "cancelled", at(13), 4)
    finished(theirs, "succeeded", at(9), 10, runs=1)
    finished(mine, "succeeded", at(12, day=DAY - timedelta(days=1)), 1, runs=1)

    written = usage_aggregate(day=DAY)

    assert written == 2
    assert row(mine.workspace_id) == {
        "succeeded": 1,
        "failed": 1,
        "cancelled": 1,
        "node_runs": 5,
        "execution_seconds": 7.5,
    }
    assert row(theirs.workspace_id) == {
        "succeeded": 1,
        "failed": 0,
        "cancelled": 0,
        "node_runs": 1,
        "execution_seconds": 10.0,
    }


def test_aggregation_leaves_out_the_editors_test_runs(api):
    workflow = a_workflow(api)
    finished(workflow, "succeeded", at(1), 2, runs=1)
    finished(workflow, "succeeded", at(2), 30, runs=4, mode="test")
    finished(workflow, "failed", at(3), 5, runs=2, mode="test")

    usage_aggregate(day=DAY)

    assert row(workflow.workspace_id) == {
        "succeeded": 1,
        "failed": 0,
        "cancelled": 0,
        "node_runs": 1,
        "execution_seconds": 2.0,
    }


def test_aggregation_run_again_rebuilds_the_same_rows_and_picks_up_new_ones(api):
    workflow = a_workflow(api)
    finished(workflow, "succeeded", at(1), 2, runs=1)
    usage_aggregate(day=DAY)
    first = row(workflow.workspace_id)

    assert usage_aggregate(day=DAY) == 1
    assert row(workflow.workspace_id) == first
    assert UsageDaily.objects.count() == 1

    finished(workflow, "failed", at(2), 3, runs=2)
    usage_aggregate(day=DAY)
    assert row(workflow.workspace_id) == {
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
        "node_runs": 3,
        "execution_seconds": 5.0,
    }
    assert UsageDaily.objects.count() == 1


def test_the_beat_task_aggregates_today_and_yesterday(api):
    workflow = a_workflow(api)
    today = timezone.now().astimezone(UTC).date()
    yesterday = today - timedelta(days=1)
    finished(workflow, "succeeded", at(12, day=yesterday), 1)
    finished(workflow, "failed", at(0, day=today), 0)
    finished(workflow, "failed", at(12, day=today - timedelta(days=2)), 1)

    assert aggregate_usage() == 2
    assert sorted(UsageDaily.objects.values_list("day", "succeeded", "failed")) == [
        (yesterday, 1, 0),
        (today, 0, 1),
    ]


def test_the_usage_endpoint_shows_the_plan_against_current_use(owner, api):
    workspace = on_plan(
        owner, executions_per_month=100, concurrent_executions=4, active_workflows=3
    )
    workflow = a_workflow(api)
    active_body = {"name": "live", "graph": chain(NOOP), "active": True}
    assert api.post("/api/v1/workflows/", active_body, format="json").status_code == 201
    api.post(f"/api/v1/workflows/{workflow.pk}/execute", {}, format="json")
    done = finished(workflow, "succeeded", timezone.now() - timedelta(minutes=1), 2, runs=1)
    today = done.finished_at.astimezone(UTC).date()
    usage_aggregate(day=today)

    response = api.get(f"/api/v1/workspaces/{workspace.pk}/usage/")

    assert response.status_code == 200
    body = response.json()
    assert body["workspace"] == str(workspace.pk)
    assert body["limits"] == {
        "executions_per_month": {"allowed": 100, "current": 2},
        "concurrent_executions": {"allowed": 4, "current": 1},
        "active_workflows": {"allowed": 3, "current": 1},
    }
    assert (body["retention_days"], body["api_requests_per_minute"]) == (7, None)
    assert body["subscription"]["status"] == "active"
    assert len(body["daily"]) == 30
    assert body["daily"][-1] == {
        "day": today.isoformat(),
        "succeeded": 1,
        "failed": 0,
        "cancelled": 0,
        "node_runs": 1,
        "execution_seconds": 2.0,
    }
    assert body["daily"][0]["day"] == (today - timedelta(days=29)).isoformat()
    assert body["daily"][0]["succeeded"] == 0


def test_members_of_any_role_may_read_usage(owner, viewer, client_for):
    workspace = workspace_ensure_personal(user=owner)

    response = client_for(viewer).get(f"/api/v1/workspaces/{workspace.pk}/usage/")

    assert response.status_code == 200
    assert response.json()["plan"]["slug"] == "unlimited"


def test_an_outsider_gets_404_for_another_workspaces_usage(owner, outsider, client_for):
    workspace = workspace_ensure_personal(user=owner)

    response = client_for(outsider).get(f"/api/v1/workspaces/{workspace.pk}/usage/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    unknown = client_for(outsider).get(
        "/api/v1/workspaces/00000000-0000-0000-0000-000000000000/usage/"
    )
    assert unknown.status_code == 404
