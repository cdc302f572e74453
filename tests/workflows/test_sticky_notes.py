"""Sticky notes on the editor's canvas, kept in the workflow's layout beside the nodes'
places: saved without a version, handed to the editor page, checked (400 naming
``notes``, nothing stored), closed to viewers, and left alone by a version restore."""

import json

import pytest

from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow
from workflows.notes import NOTES_KEY
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
NOTE = {
    "id": "note_1",
    "x": 40,
    "y": 300,
    "width": 260,
    "height": 140,
    "color": "blue",
    "text": "## Orders\nTags **gold** customers. <img src=x onerror=alert(1)>",
}


def _workflow(owner) -> Workflow:
    workspace = workspace_ensure_personal(user=owner)
    return workflow_create(user=owner, workspace=workspace, name="Orders", graph=GRAPH)


def _place(client, workflow, body):
    response = client.post(
        f"/workflows/{workflow.pk}/edit/layout/",
        data=json.dumps(body),
        content_type="application/json",
    )
    is_json = response.get("Content-Type", "").startswith("application/json")
    return response.status_code, response.json() if is_json else {}


def test_notes_are_saved_with_the_layout_without_a_version_and_handed_to_the_editor(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)

    status, body = _place(
        client, workflow, {"positions": {"tag": {"x": 500, "y": 80}}, "notes": [NOTE]}
    )

    assert (status, body) == (200, {"saved": 1, "notes": 1})
    workflow.refresh_from_db()
    assert workflow.layout == {"tag": {"x": 500, "y": 80}, NOTES_KEY: [NOTE]}
    assert workflow.versions.count() == 1
    assert "notes" not in json.dumps(workflow.current_version.graph)
    page = client.get(f"/workflows/{workflow.pk}/edit/")
    assert page.context["notes"] == [NOTE]
    # the note's text goes to the page as JSON data, never as markup
    assert b"<img src=x" not in page.content
    drawn = {n["id"]: n["position"] for n in page.context["graph"]["nodes"]}
    assert drawn["tag"] == {"x": 500, "y": 80}


def test_a_move_without_notes_keeps_them_and_an_empty_list_removes_them(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    _place(client, workflow, {"positions": {}, "notes": [NOTE]})

    _place(client, workflow, {"positions": {"tag": {"x": 1, "y": 2}}})
    workflow.refresh_from_db()
    assert workflow.layout[NOTES_KEY] == [NOTE]

    _place(client, workflow, {"positions": {"tag": {"x": 1, "y": 2}}, "notes": []})
    workflow.refresh_from_db()
    assert workflow.layout == {"tag": {"x": 1, "y": 2}}


@pytest.mark.parametrize(
    "notes",
    [
        {"id": "note_1"},
        [{**NOTE, "color": "red"}],
        [{**NOTE, "text": "x" * 10_001}],
        [{**NOTE, "width": 5}],
        [{**NOTE, "x": "left"}],
        [{**NOTE, "id": "<b>"}],
        [{**NOTE, "script": "alert(1)"}],
        [{k: v for k, v in NOTE.items() if k != "text"}],
        [NOTE, NOTE],
        [{**NOTE, "id": f"n{i}"} for i in range(201)],
    ],
)
def test_a_malformed_note_is_refused_with_400_naming_notes_and_nothing_changes(owner, notes):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    _place(client, workflow, {"positions": {"tag": {"x": 10, "y": 20}}, "notes": [NOTE]})

    status, answer = _place(client, workflow, {"positions": {}, "notes": notes})

    assert status == 400
    assert answer["error"]["code"] == "validation_error"
    assert list(answer["error"]["details"]) == ["notes"]
    workflow.refresh_from_db()
    assert workflow.layout == {"tag": {"x": 10, "y": 20}, NOTES_KEY: [NOTE]}


def test_a_viewer_cannot_put_notes_on_the_canvas(owner, viewer):
    workflow = _workflow(owner)

    status, _ = _place(signed_in_client(viewer), workflow, {"positions": {}, "notes": [NOTE]})

    assert status == 403
    workflow.refresh_from_db()
    assert workflow.layout == {}


def test_restoring_a_version_keeps_the_notes_and_the_places(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    changed = {**GRAPH, "nodes": [*GRAPH["nodes"], {"id": "late", "type": "flow.noop"}]}
    workflow_update(user=owner, workflow=workflow, changes={"graph": changed})
    _place(client, workflow, {"positions": {"tag": {"x": 700, "y": 90}}, "notes": [NOTE]})

    response = client.post(f"/workflows/{workflow.pk}/versions/1/restore/")

    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.current_version.number == 3
    assert workflow.layout == {"tag": {"x": 700, "y": 90}, NOTES_KEY: [NOTE]}
