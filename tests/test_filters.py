"""List filters on workflows and executions, and cursor paging that holds under inserts."""

from datetime import UTC, datetime, timedelta
from typing import Any

from rest_framework.test import APIClient

from executions.models import Execution
from executions.services import execution_create
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow
from workflows.services import workflow_create

from .executing import chain

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _workflow(owner: User, name: str, *, active: bool = False) -> Workflow:
    workflow = workflow_create(
        user=owner,
        workspace=workspace_ensure_personal(user=owner),
        name=name,
        description="",
        graph=chain(),
    )
    Workflow.objects.filter(pk=workflow.pk).update(active=active)
    return workflow


def _execution(owner: User, workflow: Workflow, **fields: Any) -> Execution:
    execution = execution_create(user=owner, workflow=workflow, trigger_input={}, mode="api")
    if fields:
        Execution.objects.filter(pk=execution.pk).update(**fields)
    return execution


def _ids(response: Any) -> list[str]:
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return [row["id"] for row in rows]


def _error_fields(response: Any) -> set[str]:
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return set(error["details"])


# --- workflows ---------------------------------------------------------------------------


def test_workflows_filter_by_active(owner: User, api: APIClient) -> None:
    on = _workflow(owner, "on", active=True)
    off = _workflow(owner, "off")

    assert _ids(api.get("/api/v1/workflows/?active=true")) == [str(on.pk)]
    assert _ids(api.get("/api/v1/workflows/?active=false")) == [str(off.pk)]
    assert set(_ids(api.get("/api/v1/workflows/"))) == {str(on.pk), str(off.pk)}


def test_workflows_search_matches_part_of_the_name_in_any_case(owner: User, api: APIClient) -> None:
    orders = _workflow(owner, "Tag big Orders")
    _workflow(owner, "Nightly report")

    assert _ids(api.get("/api/v1/workflows/?search=ORDER")) == [str(orders.pk)]
    assert _ids(api.get("/api/v1/workflows/?search=nothing-like-it")) == []


def test_workflows_search_sees_only_the_callers_workspaces(
    owner: User, outsider: User, client_for: Any
) -> None:
    _workflow(owner, "secret orders")

    response = client_for(outsider).get("/api/v1/workflows/?search=orders")

    assert response.status_code == 200
    assert _ids(response) == []


def test_workflows_bad_active_is_a_400_naming_it(owner: User, api: APIClient) -> None:
    assert _error_fields(api.get("/api/v1/workflows/?active=maybe")) == {"active"}


# --- executions --------------------------------------------------------------------------


def test_executions_filter_by_workflow_status_and_mode(owner: User, api: APIClient) -> None:
    first, second = _workflow(owner, "first"), _workflow(owner, "second")
    failed = _execution(owner, first, status="failed", mode="webhook")
    _execution(owner, first, status="succeeded", mode="webhook")
    _execution(owner, second, status="failed", mode="api")

    query = f"workflow={first.pk}&status=failed&mode=webhook"
    assert _ids(api.get(f"/api/v1/executions/?{query}")) == [str(failed.pk)]
    assert len(_ids(api.get("/api/v1/executions/?mode=webhook"))) == 2
    assert len(_ids(api.get("/api/v1/executions/?status=failed"))) == 2


def test_executions_filter_by_start_time_window(owner: User, api: APIClient) -> None:
    workflow = _workflow(owner, "w")
    early = _execution(owner, workflow, started_at=T0)
    middle = _execution(owner, workflow, started_at=T0 + timedelta(hours=1))
    late = _execution(owner, workflow, started_at=T0 + timedelta(hours=2))
    _execution(owner, workflow)  # queued: never started, in no window

    def window(after: datetime, before: datetime) -> set[str]:
        params = {"started_after": after.isoformat(), "started_before": before.isoformat()}
        return set(_ids(api.get("/api/v1/executions/", params)))

    # After is inclusive, before exclusive: adjacent windows never share an execution.
    assert window(T0, T0 + timedelta(hours=1)) == {str(early.pk)}
    assert window(T0 + timedelta(hours=1), T0 + timedelta(hours=3)) == {
        str(middle.pk),
        str(late.pk),
    }
    assert set(_ids(api.get("/api/v1/executions/", {"started_after": "2026-03-01T13:30:00Z"}))) == {
        str(late.pk)
    }


def test_executions_bad_filters_are_a_400_naming_each(owner: User, api: APIClient) -> None:
    response = api.get(
        "/api/v1/executions/",
        {
            "started_after": "yesterday",
            "started_before": "2026-13-45",
            "mode": "telepathy",
            "status": "sleeping",
            "workflow": "not-a-uuid",
        },
    )

    assert _error_fields(response) == {
        "started_after",
        "started_before",
        "mode",
        "status",
        "workflow",
    }


def test_executions_filters_see_only_the_callers_workspaces(
    owner: User, outsider: User, client_for: Any
) -> None:
    workflow = _workflow(owner, "w")
    _execution(owner, workflow, status="failed")

    response = client_for(outsider).get(f"/api/v1/executions/?workflow={workflow.pk}")

    assert response.status_code == 200
    assert _ids(response) == []


def test_execution_pages_neither_repeat_nor_skip_when_rows_arrive_between_fetches(
    owner: User, api: APIClient
) -> None:
    workflow = _workflow(owner, "w")
    before = [_execution(owner, workflow) for _ in range(7)]

    seen: list[str] = []
    response = api.get("/api/v1/executions/?page_size=3")
    while True:
        assert response.status_code == 200
        seen += _ids(response)
        # Newer executions arrive while the client is paging through the older ones.
        _execution(owner, workflow)
        _execution(owner, workflow)
        next_url = response.json()["next"]
        if next_url is None:
            break
        response = api.get(next_url)

    assert len(seen) == len(set(seen))
    assert seen == [str(e.pk) for e in reversed(before)]


def test_execution_page_size_is_at_most_200_and_more_is_refused(
    owner: User, api: APIClient
) -> None:
    workflow = _workflow(owner, "w")
    Execution.objects.bulk_create(
        Execution(
            workspace_id=workflow.workspace_id,
            workflow=workflow,
            version=workflow.current_version,
            mode="api",
            queued_at=T0,
        )
        for _ in range(205)
    )

    response = api.get("/api/v1/executions/?page_size=200")
    refused = api.get("/api/v1/executions/?page_size=1000")

    assert response.status_code == 200
    assert len(_ids(response)) == 200
    assert response.json()["next"] is not None
    # The schema says 1 to 200 (the API keeps to its contract): past it is a 400 naming it.
    assert refused.status_code == 400
    assert "page_size" in refused.json()["error"]["details"]
