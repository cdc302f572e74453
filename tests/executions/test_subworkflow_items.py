"""workflow.execute version 3 through the API and a real worker: the child's trigger emits
the caller's items one each, per_item runs one child per item with per-item errors, and a
caller is checked at save against the inputs the child declares (issue #12, point 4)."""

from typing import Any

from executions.models import Execution
from workflows.models import Workflow

from ..executing import chain, create_workflow, detail, execute, wait_status


def split_rows() -> dict[str, Any]:
    return {"id": "rows", "type": "data.split", "params": {"field": "rows"}}


def calling(child_id: str, **params: Any) -> dict[str, Any]:
    return {"id": "call", "type": "workflow.execute", "params": {"workflow": child_id, **params}}


def node_run(api: Any, execution_id: str, node_id: str) -> dict[str, Any]:
    return [r for r in detail(api, execution_id)["node_runs"] if r["node_id"] == node_id][-1]


# A child that works on each item it is given: 100 divided by the item's d.
DIVIDING_CHILD = chain(
    {"id": "divide", "type": "data.set", "params": {"fields": {"q": "{{ 100 // json.d }}"}}}
)
ROWS = {"rows": [{"d": 4}, {"d": 0}, {"d": 5}]}


def test_once_hands_every_item_to_one_child_whose_trigger_emits_them_one_each(celery_worker, api):
    child_id = create_workflow(api, DIVIDING_CHILD, name="child")
    rows = {"rows": [{"d": 4}, {"d": 5}]}
    parent = execute(api, create_workflow(api, chain(split_rows(), calling(child_id))), rows)

    assert wait_status(parent) == "succeeded"
    [child] = Execution.objects.filter(parent_id=parent)
    start = node_run(api, str(child.pk), "start")["output"]["main"]
    assert start == [{"d": 4}, {"d": 5}]  # the items themselves, not {"items": [...]}
    assert node_run(api, parent, "call")["output"]["main"] == [{"d": 4, "q": 25}, {"d": 5, "q": 20}]


def test_per_item_runs_a_child_per_item_and_a_failing_one_fails_alone(celery_worker, api):
    child_id = create_workflow(api, DIVIDING_CHILD, name="child")
    call = {**calling(child_id, mode="per_item"), "on_error": "error_output"}
    graph = chain(split_rows(), call)
    parent = execute(api, create_workflow(api, graph), ROWS)

    assert wait_status(parent) == "succeeded"
    children = Execution.objects.filter(parent_id=parent)
    assert sorted(c.status for c in children) == ["failed", "succeeded", "succeeded"]
    run = node_run(api, parent, "call")
    assert run["output"]["main"] == [{"d": 4, "q": 25}, {"d": 5, "q": 20}]
    [failed] = run["output"]["error"]
    assert failed["d"] == 0 and "The sub-workflow failed" in failed["error"]["message"]
    assert run["items"]["counts"] == {"succeeded": 2, "failed": 1, "not_run": 0}
    assert run["items"]["lineage"] == {"main": [0, 2], "error": [1]}


def declaring_child(api: Any) -> str:
    inputs = [
        {"name": "email", "type": "string", "required": True},
        {"name": "age", "type": "number"},
    ]
    graph = chain({"id": "n", "type": "flow.noop"})
    graph["nodes"][0]["params"] = {"inputs": inputs}
    return create_workflow(api, graph, name="declares")


def test_the_declared_inputs_are_shown_and_mapped_fields_reach_the_child(celery_worker, api):
    child_id = declaring_child(api)
    fields = {"email": "{{ json.mail }}", "age": 41}
    graph = chain(calling(child_id, fields=fields))
    parent = execute(api, create_workflow(api, graph), {"mail": "ada@example.com", "x": 1})

    assert wait_status(parent) == "succeeded"
    declared = api.get(f"/api/v1/workflows/{child_id}/").json()["inputs"]
    assert [entry["name"] for entry in declared] == ["email", "age"]
    output = node_run(api, parent, "call")["output"]["main"]
    assert output == [{"email": "ada@example.com", "age": 41}]


def test_saving_a_caller_that_maps_an_undeclared_field_or_misses_a_required_one_is_400(api):
    child_id = declaring_child(api)
    before = Workflow.objects.count()

    response = api.post(
        "/api/v1/workflows/",
        {"name": "p", "graph": chain(calling(child_id, fields={"nick": "x", "age": "old"}))},
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "workflow_graph_invalid"
    named = sorted((p["node_id"], p["field"]) for p in error["details"]["problems"])
    assert named == [
        ("call", "params.fields.age"),
        ("call", "params.fields.email"),
        ("call", "params.fields.nick"),
    ]
    assert Workflow.objects.count() == before


def test_an_update_with_a_bad_mapping_is_refused_and_keeps_the_stored_version(api):
    child_id = declaring_child(api)
    good = chain(calling(child_id, fields={"email": "a@b.c"}))
    parent_id = create_workflow(api, good, name="p")

    response = api.put(
        f"/api/v1/workflows/{parent_id}/",
        {"name": "p", "graph": chain(calling(child_id, fields={"age": 3}))},
        format="json",
    )

    assert response.status_code == 400
    [problem] = response.json()["error"]["details"]["problems"]
    assert (problem["node_id"], problem["field"]) == ("call", "params.fields.email")
    assert api.get(f"/api/v1/workflows/{parent_id}/").json()["version"] == 1
