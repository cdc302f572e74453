"""workflow.execute: calling another workflow of the same workspace, with a real worker."""

from executions.models import Execution

from ..executing import chain, create_workflow, detail, execute, wait_status


def child_graph() -> dict:
    return chain(
        {
            "id": "double",
            "type": "data.set",
            "params": {"fields": {"doubled": "{{ json['items'] | length * 2 }}"}},
        }
    )


def test_a_version_2_call_keeps_handing_the_child_one_wrapped_item(celery_worker, api):
    child_id = create_workflow(api, child_graph(), name="child")
    parent_id = create_workflow(
        api,
        chain(
            {
                "id": "call",
                "type": "workflow.execute",
                "version": 2,
                "params": {"workflow": child_id},
            },
            {"id": "after", "type": "data.set", "params": {"fields": {"seen": True}}},
        ),
        name="parent",
    )

    parent = execute(api, parent_id, {"n": 1})

    assert wait_status(parent) == "succeeded"
    child = Execution.objects.get(parent_id=parent)
    assert child.status == "succeeded"
    assert child.mode == "subworkflow"
    assert child.depth == 1
    assert child.trigger_input == {"items": [{"n": 1}]}
    runs = {r["node_id"]: r for r in detail(api, parent)["node_runs"]}
    assert runs["call"]["output"]["main"] == [{"items": [{"n": 1}], "doubled": 2}]
    assert runs["after"]["output"]["main"][0]["seen"] is True


def test_fire_and_forget_returns_the_child_execution_at_once(celery_worker, api):
    child_id = create_workflow(api, chain({"id": "n", "type": "flow.noop"}), name="child")
    parent_id = create_workflow(
        api,
        chain(
            {
                "id": "call",
                "type": "workflow.execute",
                "params": {"workflow": child_id, "wait": False},
            },
        ),
        name="parent",
    )

    parent = execute(api, parent_id)

    assert wait_status(parent) == "succeeded"
    output = detail(api, parent)["node_runs"][1]["output"]["main"][0]
    assert wait_status(output["execution_id"]) == "succeeded"
    assert Execution.objects.get(pk=output["execution_id"]).parent_id is not None


def test_recursion_is_bounded(celery_worker, api, settings):
    # A workflow calling itself: the chain stops at the depth limit with a clear error.
    workflow_id = create_workflow(api, chain({"id": "n", "type": "flow.noop"}), name="self")
    graph = chain({"id": "call", "type": "workflow.execute", "params": {"workflow": workflow_id}})
    assert (
        api.put(
            f"/api/v1/workflows/{workflow_id}/", {"name": "self", "graph": graph}, format="json"
        ).status_code
        == 200
    )

    top = execute(api, workflow_id)

    assert wait_status(top, timeout=60) == "failed"
    assert "nest at most 5 deep" in Execution.objects.get(depth=5).error["message"]
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 6


def test_another_workspaces_workflow_cannot_be_called(celery_worker, api, outsider, client_for):
    foreign = create_workflow(client_for(outsider), child_graph(), name="theirs")
    # Named literally, it is refused on save, as a missing id is (tests/workflows/
    # test_references.py); computed by an expression, the run refuses it.
    literal = {"id": "call", "type": "workflow.execute", "params": {"workflow": foreign}}
    saved = api.post("/api/v1/workflows/", {"name": "w", "graph": chain(literal)}, format="json")
    assert saved.json()["error"]["details"]["problems"][0]["code"] == "workflow_not_found"
    computed = {**literal, "params": {"workflow": "{{ json.target }}"}}
    parent = execute(api, create_workflow(api, chain(computed)), {"target": foreign})

    assert wait_status(parent) == "failed"
    assert "was not found in this workspace" in Execution.objects.get(pk=parent).error["message"]
    assert not Execution.objects.filter(workflow_id=foreign).exists()
