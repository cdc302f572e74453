"""The editor, its save endpoint, execute, and the version pages with Django's test client:
who may see and change what, and bad input refused with its field, never a 500."""

import json

import pytest
from django.test import Client

from executions.models import Execution, NodeRun
from executions.services import execution_create
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.engine.versions import versions_stamped
from workflows.models import Workflow
from workflows.services import workflow_create, workflow_update

from ..conftest import signed_in_client

pytestmark = pytest.mark.django_db

GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "tag", "type": "data.set", "params": {"fields": {"tier": "gold"}}},
    ],
    "edges": [{"source": "start", "target": "tag"}],
}


def _workflow(owner: User) -> Workflow:
    workspace = workspace_ensure_personal(user=owner)
    return workflow_create(user=owner, workspace=workspace, name="Orders", graph=GRAPH)


def _save(client: Client, workflow: Workflow, graph: object) -> tuple[int, dict]:
    response = client.post(
        f"/workflows/{workflow.pk}/edit/save/",
        data=json.dumps({"graph": graph}),
        content_type="application/json",
    )
    return response.status_code, response.json() if response.get("Content-Type", "").startswith(
        "application/json"
    ) else {}


def test_editor_page_hands_the_graph_with_a_position_for_every_node(owner):
    workflow = _workflow(owner)
    response = signed_in_client(owner).get(f"/workflows/{workflow.pk}/edit/")
    assert response.status_code == 200
    graph = response.context["graph"]
    assert [n["position"] for n in graph["nodes"]] == [{"x": 40, "y": 40}, {"x": 310, "y": 40}]
    body = response.content.decode()
    assert 'data-editable="true"' in body and 'id="save-button"' in body
    assert 'data-add-type="data.set"' in body


def test_viewer_gets_a_read_only_editor_without_palette_save_or_execute(owner, viewer):
    workflow = _workflow(owner)
    body = signed_in_client(viewer).get(f"/workflows/{workflow.pk}/edit/").content.decode()
    assert 'data-editable="false"' in body
    for control in ('id="save-button"', "data-add-type", "/execute/", "Execute…", "Restore"):
        assert control not in body


def test_outsider_gets_404_on_every_editor_page(owner, outsider):
    workflow = _workflow(owner)
    client = signed_in_client(outsider)
    for url in ("edit/", "versions/", "versions/diff/?a=1&b=1", "execute/"):
        assert client.get(f"/workflows/{workflow.pk}/{url}").status_code == 404
    status, _ = _save(client, workflow, GRAPH)
    assert status == 404


def test_save_makes_a_new_version(owner):
    workflow = _workflow(owner)
    graph = {**GRAPH, "nodes": [*GRAPH["nodes"], {"id": "end", "type": "flow.noop"}]}
    status, body = _save(signed_in_client(owner), workflow, graph)
    assert (status, body) == (200, {"version": 2, "created": True})
    workflow.refresh_from_db()
    assert workflow.current_version.graph == versions_stamped(graph)
    assert workflow.current_version.created_by == owner


def test_save_of_an_invalid_graph_lists_every_problem_with_its_node_and_stores_nothing(owner):
    workflow = _workflow(owner)
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "fetch", "type": "http.request", "params": {}},
            {"id": "mystery", "type": "no.such"},
        ],
        "edges": [{"source": "start", "target": "fetch"}],
    }
    status, body = _save(signed_in_client(owner), workflow, graph)
    assert status == 400
    assert body["error"]["code"] == "workflow_graph_invalid"
    problems = {(p["node_id"], p["field"]) for p in body["error"]["details"]["problems"]}
    assert problems == {("fetch", "params.url"), ("mystery", "type")}
    assert workflow.versions.count() == 1


def test_save_refuses_a_body_that_is_not_a_graph_with_400(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    response = client.post(
        f"/workflows/{workflow.pk}/edit/save/", data="{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert "graph" in response.json()["error"]["details"]
    assert workflow.versions.count() == 1


def test_viewer_save_restore_and_execute_are_refused_and_change_nothing(owner, viewer):
    workflow = _workflow(owner)
    workflow_update(user=owner, workflow=workflow, changes={"graph": {**GRAPH, "edges": []}})
    client = signed_in_client(viewer)
    status, _ = _save(client, workflow, {**GRAPH, "nodes": GRAPH["nodes"][:1], "edges": []})
    assert status == 403
    assert client.post(f"/workflows/{workflow.pk}/versions/1/restore/").status_code == 403
    assert client.post(f"/workflows/{workflow.pk}/execute/", {"input": "{}"}).status_code == 403
    workflow.refresh_from_db()
    assert workflow.current_version.number == 2
    assert workflow.versions.count() == 2
    assert not Execution.objects.filter(workflow=workflow).exists()


def test_execute_with_invalid_json_gives_the_form_back_with_a_field_error(owner):
    workflow = _workflow(owner)
    response = signed_in_client(owner).post(
        f"/workflows/{workflow.pk}/execute/", {"input": "{oops"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.context["form"].errors["input"][0]
    not_object = signed_in_client(owner).post(
        f"/workflows/{workflow.pk}/execute/", {"input": "[1]"}
    )
    assert "JSON object" in not_object.context["form"].errors["input"][0]
    assert not Execution.objects.filter(workflow=workflow).exists()


def test_execute_queues_a_manual_execution_and_redirects_to_its_run_view(owner):
    workflow = _workflow(owner)
    response = signed_in_client(owner).post(
        f"/workflows/{workflow.pk}/execute/", {"input": '{"n": 3}'}
    )
    execution = Execution.objects.get(workflow=workflow)
    assert response.status_code == 302
    assert response["Location"] == f"/executions/{execution.pk}/"
    assert (execution.mode, execution.trigger_input) == ("manual", {"n": 3})


def test_versions_page_lists_authors_and_diff_shows_parameter_changes(owner, teammate):
    workflow = _workflow(owner)
    changed = json.loads(json.dumps(GRAPH))
    changed["nodes"][1]["params"]["fields"] = {"tier": "silver"}
    workflow_update(user=teammate, workflow=workflow, changes={"graph": changed})
    client = signed_in_client(owner)
    versions = client.get(f"/workflows/{workflow.pk}/versions/").content.decode()
    assert owner.email in versions and teammate.email in versions
    diff = client.get(f"/workflows/{workflow.pk}/versions/diff/", {"a": 1, "b": 2})
    assert diff.status_code == 200
    assert [c["field"] for c in diff.context["diff"]["nodes_changed"][0]["changes"]] == [
        "params.fields"
    ]
    assert "silver" in diff.content.decode()


def test_diff_of_a_missing_version_is_404_and_a_bad_number_goes_back(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    assert client.get(f"/workflows/{workflow.pk}/versions/diff/?a=1&b=9").status_code == 404
    assert client.get(f"/workflows/{workflow.pk}/versions/diff/?a=x&b=1").status_code == 302


def test_restore_makes_a_new_version_equal_to_the_old_one(owner, teammate):
    workflow = _workflow(owner)
    workflow_update(user=owner, workflow=workflow, changes={"graph": {**GRAPH, "edges": []}})
    response = signed_in_client(teammate).post(f"/workflows/{workflow.pk}/versions/1/restore/")
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.current_version.number == 3
    assert workflow.current_version.graph == versions_stamped(GRAPH)
    assert workflow.current_version.created_by == teammate


# --- the run view (executions/pages/run_views.py) -------------------------------------------------
def _execution(owner: User) -> Execution:
    workflow = _workflow(owner)
    return execution_create(user=owner, workflow=workflow, trigger_input={}, mode="manual")


def test_run_view_shows_queued_nodes_and_actions_to_an_editor_only(owner, viewer):
    execution = _execution(owner)
    response = signed_in_client(owner).get(f"/executions/{execution.pk}/")
    assert response.status_code == 200
    assert response.context["statuses"] == {"start": "queued", "tag": "queued"}
    assert f"/executions/{execution.pk}/cancel/" in response.content.decode()
    as_viewer = signed_in_client(viewer).get(f"/executions/{execution.pk}/").content.decode()
    for action in ("/cancel/", "/retry/", "/rerun/"):
        assert action not in as_viewer


def test_viewer_cannot_cancel_retry_or_rerun(owner, viewer):
    execution = _execution(owner)
    client = signed_in_client(viewer)
    for action in ("cancel", "retry", "rerun"):
        response = client.post(f"/executions/{execution.pk}/{action}/", {"from_node": "tag"})
        assert response.status_code == 403
    execution.refresh_from_db()
    assert execution.status == "queued"
    assert Execution.objects.count() == 1


def test_outsider_gets_404_on_the_run_view_its_nodes_and_actions(owner, outsider):
    execution = _execution(owner)
    client = signed_in_client(outsider)
    assert client.get(f"/executions/{execution.pk}/").status_code == 404
    assert client.get(f"/executions/{execution.pk}/nodes/tag/").status_code == 404
    assert client.post(f"/executions/{execution.pk}/cancel/").status_code == 404
    execution.refresh_from_db()
    assert execution.status == "queued"


def test_cancel_from_the_run_view_and_refusals_come_back_as_messages(owner):
    execution = _execution(owner)
    client = signed_in_client(owner)
    response = client.post(f"/executions/{execution.pk}/cancel/", follow=True)
    assert "Execution cancelled." in response.content.decode()
    execution.refresh_from_db()
    assert execution.status == "cancelled"
    again = client.post(f"/executions/{execution.pk}/cancel/", follow=True).content.decode()
    assert "already finished" in again
    unknown = client.post(f"/executions/{execution.pk}/rerun/", {"from_node": "nope"}, follow=True)
    assert "Node &#x27;nope&#x27; is not in version 1." in unknown.content.decode()
    assert Execution.objects.count() == 1


def test_run_view_offers_retry_and_rerun_on_the_current_version_too(owner):
    execution = _execution(owner)
    NodeRun.objects.create(
        execution=execution, node_id="start", node_type="trigger.manual", status="succeeded"
    )
    Execution.objects.filter(pk=execution.pk).update(status="failed")
    graph = {**GRAPH, "nodes": [GRAPH["nodes"][0], {**GRAPH["nodes"][1], "params": {}}]}
    workflow_update(user=owner, workflow=execution.workflow, changes={"graph": graph})
    client = signed_in_client(owner)

    page = client.get(f"/executions/{execution.pk}/").content.decode()
    panel = client.get(f"/executions/{execution.pk}/nodes/tag/").content.decode()
    rerun = client.post(
        f"/executions/{execution.pk}/rerun/",
        {"from_node": "tag", "version": "current"},
        follow=True,
    )

    assert "Retry on current version (v2)" in page and ">Retry</button>" in page
    assert "Re-run from this node on current version (v2)" in panel
    repeat = Execution.objects.get(source=execution)
    assert repeat.version.number == 2
    assert (
        "Re-running from tag as a new execution of v2: reusing start; running tag."
        in rerun.content.decode()
    )
    assert list(repeat.node_runs.values_list("node_id", flat=True)) == ["start"]


def test_node_panel_pages_items_and_escapes_them(owner):
    execution = _execution(owner)
    items = [{"n": n, "html": "<b>x</b>"} for n in range(25)]
    NodeRun.objects.create(
        execution=execution,
        node_id="tag",
        node_type="data.set",
        status="succeeded",
        input=items,
        output={"main": items},
    )
    client = signed_in_client(owner)
    first = client.get(f"/executions/{execution.pk}/nodes/tag/")
    assert first.status_code == 200
    page = first.context["runs"][0]["outputs"][0]["page"]
    assert (page["count"], len(page["rows"]), page["num_pages"]) == (25, 20, 2)
    assert "<b>x</b>" not in first.content.decode()
    second = client.get(page["next_url"]).context["runs"][0]
    assert len(second["outputs"][0]["page"]["rows"]) == 5
    assert len(second["input"]["rows"]) == 20  # each list keeps its own page
    assert client.get(f"/executions/{execution.pk}/nodes/ghost/").status_code == 404


def _place(client: Client, workflow: Workflow, body: object) -> tuple[int, dict]:
    response = client.post(
        f"/workflows/{workflow.pk}/edit/layout/",
        data=json.dumps(body),
        content_type="application/json",
    )
    is_json = response.get("Content-Type", "").startswith("application/json")
    return response.status_code, response.json() if is_json else {}


def test_dragged_positions_are_kept_beside_the_versions_and_drawn_next_time(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)

    status, body = _place(
        client, workflow, {"positions": {"tag": {"x": 500, "y": 80}, "gone": {"x": 1, "y": 1}}}
    )

    assert (status, body) == (200, {"saved": 1, "notes": 0})
    workflow.refresh_from_db()
    assert workflow.layout == {"tag": {"x": 500, "y": 80}}
    assert workflow.versions.count() == 1
    page = client.get(f"/workflows/{workflow.pk}/edit/")
    drawn = {n["id"]: n["position"] for n in page.context["graph"]["nodes"]}
    assert drawn["tag"] == {"x": 500, "y": 80}


@pytest.mark.parametrize(
    "body",
    [
        {"positions": [1, 2]},
        {"positions": {"tag": {"x": "left", "y": 3}}},
        {"positions": {"tag": {"x": True, "y": 3}}},
        {"positions": {"tag": {"x": 1e12, "y": 3}}},
        {"nothing": 1},
    ],
)
def test_a_malformed_layout_is_refused_with_400_and_the_old_one_kept(owner, body):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    _place(client, workflow, {"positions": {"tag": {"x": 10, "y": 20}}})

    status, answer = _place(client, workflow, body)

    assert status == 400
    assert answer["error"]["code"] == "validation_error"
    assert "positions" in answer["error"]["details"]
    workflow.refresh_from_db()
    assert workflow.layout == {"tag": {"x": 10, "y": 20}}


def test_viewer_cannot_move_nodes(owner, viewer):
    workflow = _workflow(owner)

    status, _ = _place(signed_in_client(viewer), workflow, {"positions": {"tag": {"x": 5, "y": 5}}})

    assert status == 403
    workflow.refresh_from_db()
    assert workflow.layout == {}
