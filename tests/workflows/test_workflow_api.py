"""The workflows API: create, read, update, delete, scoped to the caller's workspaces."""

import pytest
from rest_framework.test import APIClient

from linkflow.accounts.models import User
from linkflow.engine.versions import versions_stamped
from workflows.models import Workflow, WorkflowVersion

from ..graphs import pure_graph

pytestmark = pytest.mark.django_db


def create(api: APIClient, **overrides: object) -> dict:
    body = {"name": "Orders", "description": "tag big orders", "graph": pure_graph(), **overrides}
    response = api.post("/api/v1/workflows/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_creating_a_workflow_stores_version_one_in_the_personal_workspace(api, owner):
    body = create(api)

    assert body["version"] == 1
    assert body["graph"] == versions_stamped(pure_graph())
    assert body["name"] == "Orders"
    assert body["active"] is False
    workflow = Workflow.objects.get(pk=body["id"])
    assert workflow.workspace == owner.personal_workspace
    assert workflow.current_version.number == 1


def test_changing_the_graph_makes_a_new_version_and_keeps_the_old_one(api):
    body = create(api)
    graph = pure_graph()
    graph["nodes"][3]["params"]["fields"]["big"] = "yes"

    response = api.put(
        f"/api/v1/workflows/{body['id']}/", {"name": "Orders", "graph": graph}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["version"] == 2
    versions = WorkflowVersion.objects.filter(workflow_id=body["id"]).order_by("number")
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].graph == versions_stamped(pure_graph())


def test_patching_only_the_name_keeps_the_version(api):
    body = create(api)

    response = api.patch(f"/api/v1/workflows/{body['id']}/", {"name": "Renamed"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["version"] == 1
    assert WorkflowVersion.objects.filter(workflow_id=body["id"]).count() == 1


def test_an_invalid_graph_answers_400_listing_every_problem_and_stores_nothing(api):
    graph = {
        "nodes": [
            {"id": "a", "type": "trigger.manual"},
            {"id": "b", "type": "no.such.type"},
            {"id": "c", "type": "http.request", "params": {}},
        ],
        "edges": [{"source": "a", "target": "ghost"}],
    }

    response = api.post("/api/v1/workflows/", {"name": "x", "graph": graph}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "workflow_graph_invalid"
    problems = error["details"]["problems"]
    assert {(p["code"], p["node_id"]) for p in problems} >= {
        ("node_type_unknown", "b"),
        ("node_params_invalid", "c"),
    }
    assert any(p["code"] == "edge_node_unknown" for p in problems)
    assert Workflow.objects.count() == 0


def test_an_invalid_graph_on_update_keeps_the_stored_version(api):
    body = create(api)

    response = api.patch(
        f"/api/v1/workflows/{body['id']}/", {"graph": {"nodes": []}}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "workflow_graph_invalid"
    workflow = Workflow.objects.get(pk=body["id"])
    assert workflow.current_version.graph == versions_stamped(pure_graph())


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"graph": {"nodes": []}}, "name"),
        ({"name": "x"}, "graph"),
        ({"name": "", "graph": {}}, "name"),
        ({"name": "x" * 201, "graph": {}}, "name"),
        ({"name": "x", "graph": {}, "workspace": "not-a-uuid"}, "workspace"),
    ],
)
def test_bad_fields_answer_400_naming_the_field(api, payload, field):
    response = api.post("/api/v1/workflows/", payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert Workflow.objects.count() == 0


def test_malformed_json_answers_400(api):
    response = api.post("/api/v1/workflows/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_a_body_that_is_not_an_object_answers_400(api):
    response = api.post("/api/v1/workflows/", [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_anonymous_callers_are_refused_with_401(client):
    response = client.get("/api/v1/workflows/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_another_workspaces_workflow_is_invisible(api, outsider, client_for):
    body = create(api)
    other = client_for(outsider)
    url = f"/api/v1/workflows/{body['id']}/"

    assert other.get("/api/v1/workflows/").json() == []
    assert other.get(url).status_code == 404
    assert other.patch(url, {"name": "pwned"}, format="json").status_code == 404
    assert other.delete(url).status_code == 404
    assert other.post(f"{url}execute", {}, format="json").status_code == 404
    assert Workflow.objects.get(pk=body["id"]).name == "Orders"


def test_creating_in_a_foreign_workspace_answers_404(outsider, owner, client_for):
    response = client_for(outsider).post(
        "/api/v1/workflows/",
        {"name": "x", "graph": pure_graph(), "workspace": str(owner.personal_workspace.id)},
        format="json",
    )

    assert response.status_code == 404
    assert Workflow.objects.count() == 0


def test_a_teammate_sees_and_edits_the_shared_workspaces_workflows(api, teammate, client_for):
    body = create(api)
    mate = client_for(teammate)

    assert [w["id"] for w in mate.get("/api/v1/workflows/").json()] == [body["id"]]
    response = mate.patch(f"/api/v1/workflows/{body['id']}/", {"name": "Ours"}, format="json")
    assert response.status_code == 200


def test_a_viewer_reads_but_cannot_change_or_run(api, viewer, client_for):
    body = create(api)
    url = f"/api/v1/workflows/{body['id']}/"
    view = client_for(viewer)

    assert view.get(url).status_code == 200
    response = view.patch(url, {"name": "nope"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert view.post(f"{url}execute", {}, format="json").status_code == 403
    assert view.delete(url).status_code == 403
    assert Workflow.objects.get(pk=body["id"]).name == "Orders"


def test_deleting_a_workflow_removes_it(api):
    body = create(api)

    response = api.delete(f"/api/v1/workflows/{body['id']}/")

    assert response.status_code == 204
    assert not Workflow.objects.filter(pk=body["id"]).exists()


def test_an_unknown_or_malformed_id_answers_404(api):
    assert api.get("/api/v1/workflows/00000000-0000-0000-0000-000000000000/").status_code == 404
    response = api.get("/api/v1/workflows/not-a-uuid/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_user_gets_a_personal_workspace_as_owner(owner: User):
    membership = owner.memberships.get()
    assert membership.role == "owner"
    assert membership.workspace.personal_owner == owner
