"""Queueing executions and reading them back, without a worker."""

import pytest

from executions.models import Execution, NodeRun

from ..graphs import pure_graph

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow_id(api) -> str:
    response = api.post("/api/v1/workflows/", {"name": "w", "graph": pure_graph()}, format="json")
    return response.json()["id"]


@pytest.mark.parametrize("suffix", ["execute", "execute/"])
def test_execute_answers_202_with_a_queued_execution_and_its_location(api, workflow_id, suffix):
    response = api.post(
        f"/api/v1/workflows/{workflow_id}/{suffix}", {"input": {"n": 7}}, format="json"
    )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["input"] == {"n": 7}
    assert body["version"] == 1
    assert response["Location"] == f"http://testserver/api/v1/executions/{body['id']}"
    assert api.get(response["Location"]).json()["id"] == body["id"]
    execution = Execution.objects.get(pk=body["id"])
    assert execution.status == "queued"
    assert execution.mode == "api"
    assert execution.queued_at is not None


def test_execute_without_a_body_uses_an_empty_input(api, workflow_id):
    response = api.post(f"/api/v1/workflows/{workflow_id}/execute")

    assert response.status_code == 202
    assert response.json()["input"] == {}


def test_execute_with_a_non_object_input_answers_400_and_queues_nothing(api, workflow_id):
    response = api.post(f"/api/v1/workflows/{workflow_id}/execute", {"input": [1]}, format="json")

    assert response.status_code == 400
    assert "input" in response.json()["error"]["details"]
    assert Execution.objects.count() == 0


def test_executions_are_listed_newest_first_and_filtered(api, workflow_id):
    first = api.post(f"/api/v1/workflows/{workflow_id}/execute").json()
    second = api.post(f"/api/v1/workflows/{workflow_id}/execute").json()
    Execution.objects.filter(pk=first["id"]).update(status="failed")

    everything = api.get("/api/v1/executions/").json()
    failed = api.get("/api/v1/executions/", {"status": "failed"}).json()
    of_workflow = api.get("/api/v1/executions/", {"workflow": workflow_id}).json()

    assert [e["id"] for e in everything["results"]] == [second["id"], first["id"]]
    assert [e["id"] for e in failed["results"]] == [first["id"]]
    assert len(of_workflow["results"]) == 2


@pytest.mark.parametrize(("param", "value"), [("status", "exploded"), ("workflow", "nope")])
def test_bad_filters_answer_400_naming_the_filter(api, param, value):
    response = api.get("/api/v1/executions/", {param: value})

    assert response.status_code == 400
    assert param in response.json()["error"]["details"]


def test_execution_detail_lists_node_runs_in_run_order(api, workflow_id):
    execution_id = api.post(f"/api/v1/workflows/{workflow_id}/execute").json()["id"]
    for sequence, node_id in enumerate(["start", "double"], start=1):
        NodeRun.objects.create(
            execution_id=execution_id,
            node_id=node_id,
            node_type="data.set",
            status="succeeded",
            sequence=sequence,
            input=[{"n": 1}],
            output={"main": [{"n": 1}]},
        )

    body = api.get(f"/api/v1/executions/{execution_id}/").json()

    assert [r["node_id"] for r in body["node_runs"]] == ["start", "double"]
    assert body["node_runs"][1]["output"] == {"main": [{"n": 1}]}
    assert set(body["node_runs"][0]) == {
        "id",  # what pinning from a NodeRun names
        "node_id",
        "node_type",
        "status",
        "attempt",
        "iteration",  # the loop batch or page (docs/execution.md); 0 outside loops
        "input",
        "output",
        "error",
        "items",
        "started_at",
        "finished_at",
    }
    assert {run["iteration"] for run in body["node_runs"]} == {0}


def test_another_workspaces_executions_are_invisible(api, workflow_id, outsider, client_for):
    execution_id = api.post(f"/api/v1/workflows/{workflow_id}/execute").json()["id"]
    other = client_for(outsider)

    assert other.get("/api/v1/executions/").json()["results"] == []
    assert other.get(f"/api/v1/executions/{execution_id}/").status_code == 404
    assert other.get("/api/v1/executions/", {"workflow": workflow_id}).json()["results"] == []


@pytest.mark.parametrize("escaped", ["nul \\u0000 here", "lone \\ud800 surrogate"])
def test_input_text_postgres_cannot_store_answers_400(api, workflow_id, escaped):
    body = f'{{"input": {{"a": "{escaped}"}}}}'  # raw JSON: a client library would refuse it
    response = api.post(
        f"/api/v1/workflows/{workflow_id}/execute", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "input" in response.json()["error"]["details"]
    assert Execution.objects.count() == 0


def test_the_202_body_is_the_execution_serializer_output_with_every_field_set(api, workflow_id):
    from datetime import UTC, datetime

    from executions.api.serializers import ExecutionOutSerializer, execution_out

    first = api.post(f"/api/v1/workflows/{workflow_id}/execute").json()
    body = api.post(f"/api/v1/workflows/{workflow_id}/execute", {"input": {"n": 1}}, format="json")
    moment = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    Execution.objects.filter(pk=body.json()["id"]).update(
        status="failed",
        error={"message": "boom"},
        started_at=moment,
        finished_at=moment,
        resume_at=moment,
        source_id=first["id"],
        parent_id=first["id"],
        rerun_from_node="set",
    )
    execution = Execution.objects.select_related("version").get(pk=body.json()["id"])

    assert execution_out(execution) == ExecutionOutSerializer(execution).data
    assert execution_out(execution)["finished_at"] == "2026-03-04T05:06:07.891011Z"


def test_the_202_of_a_repeated_key_names_the_version_the_first_execution_ran(api, workflow_id):
    graph = pure_graph()
    key = {"HTTP_IDEMPOTENCY_KEY": "order-7"}
    first = api.post(f"/api/v1/workflows/{workflow_id}/execute", format="json", **key)
    graph["nodes"][3]["params"]["fields"]["big"] = "yes"
    api.put(f"/api/v1/workflows/{workflow_id}/", {"name": "w", "graph": graph}, format="json")

    again = api.post(f"/api/v1/workflows/{workflow_id}/execute", format="json", **key)
    fresh = api.post(f"/api/v1/workflows/{workflow_id}/execute", format="json")

    assert (first.json()["version"], again.json()["version"]) == (1, 1)
    assert again.json() == first.json()
    assert fresh.json()["version"] == 2
    detail = api.get(fresh["Location"]).json()
    assert {k: v for k, v in detail.items() if k != "node_runs"} == fresh.json()
