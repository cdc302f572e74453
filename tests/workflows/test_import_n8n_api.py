"""POST /api/v1/workflows/import, the import page and manage.py import_n8n with n8n exports."""

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import PinnedData, Workflow

from ..conftest import signed_in_client
from .n8n_samples import chain, node, webhook, workflow

pytestmark = pytest.mark.django_db

EXPORT = workflow(
    [
        webhook("orders"),
        node(
            "Tag",
            "set",
            3.4,
            {
                "assignments": {
                    "assignments": [
                        {"name": "big", "value": "={{ $json.body.total > 100 }}", "type": "boolean"}
                    ]
                },
                "includeOtherFields": True,
            },
        ),
        node("JS", "code", 2, {"jsCode": "return items"}),
        node("Note", "stickyNote", 1, {"content": "Ask Ann"}, position=[1, 2]),
    ],
    chain("Webhook", "Tag", "JS"),
    id="n8nParent1",
)


def test_the_api_imports_an_n8n_export_and_answers_the_workflow_and_the_report(api, owner):
    response = api.post(
        "/api/v1/workflows/import", {"format": "n8n", "document": EXPORT}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["workflow"]["name"] == "From n8n" and body["workflow"]["active"] is False
    summary = body["report"]["summary"]
    assert summary == {
        "nodes": 3,
        "mapped": 1,
        "mapped_with_warnings": 1,
        "not_mapped": 1,
        "expressions": 1,
        "translated": 1,
        "kept": 0,
    }
    workflow_row = Workflow.objects.get(pk=body["workflow"]["id"])
    assert workflow_row.workspace == owner.personal_workspace
    assert workflow_row.layout["Tag"] == {"x": 100, "y": 200}
    assert "Ask Ann" in workflow_row.description
    assert [w["node_id"] for w in body["workflow"]["webhooks"]] == ["Webhook"]


def test_the_format_is_detected_and_linkflow_exports_still_import(api):
    detected = api.post("/api/v1/workflows/import", {"document": EXPORT}, format="json")
    assert detected.status_code == 201 and detected.json()["report"]["format"] == "n8n"
    own = {
        "format": "linkflow.workflow",
        "name": "Mine",
        "graph": {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []},
    }
    response = api.post("/api/v1/workflows/import", {"document": own}, format="json")
    assert response.status_code == 201 and response.json()["report"] is None
    assert response.json()["workflow"]["name"] == "Mine"


def test_a_malformed_n8n_document_is_a_400_naming_the_field_and_stores_nothing(api):
    bad = {**EXPORT, "nodes": [*EXPORT["nodes"], {"type": "n8n-nodes-base.noOp"}]}
    response = api.post(
        "/api/v1/workflows/import", {"format": "n8n", "document": bad}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == {"document.nodes[4].name": ["Each node needs a name."]}
    assert not Workflow.objects.exists()
    missing = api.post("/api/v1/workflows/import", {"format": "n8n"}, format="json")
    assert missing.status_code == 400 and "document" in missing.json()["error"]["details"]


def test_a_viewer_cannot_import_and_an_outsider_cannot_import_into_the_workspace(
    viewer, outsider, owner, client_for
):
    workspace = workspace_ensure_personal(user=owner)
    as_viewer = client_for(viewer).post(
        "/api/v1/workflows/import",
        {"document": EXPORT, "workspace": str(workspace.pk)},
        format="json",
    )
    as_outsider = client_for(outsider).post(
        "/api/v1/workflows/import",
        {"document": EXPORT, "workspace": str(workspace.pk)},
        format="json",
    )
    assert as_viewer.status_code == 403
    assert as_outsider.status_code == 404
    assert not Workflow.objects.filter(workspace=workspace).exists()


def test_a_list_of_workflows_imports_children_first_and_links_execute_workflow(api):
    child = workflow([node("Go", "executeWorkflowTrigger", 1)], id="n8nChild", name="Child")
    parent = workflow(
        [
            node("Start", "manualTrigger", 1),
            node(
                "Run child",
                "executeWorkflow",
                1.1,
                {"workflowId": {"__rl": True, "value": "n8nChild"}},
            ),
        ],
        chain("Start", "Run child"),
        id="n8nParent",
        name="Parent",
    )

    response = api.post("/api/v1/workflows/import", {"document": [parent, child]}, format="json")

    assert response.status_code == 201, response.json()
    parent_out, child_out = response.json()["workflows"]
    run_child = next(n for n in parent_out["graph"]["nodes"] if n["id"] == "Run_child")
    assert run_child["params"]["workflow"] == child_out["id"]


def test_the_page_takes_a_pasted_or_uploaded_n8n_export_and_shows_the_report(owner):
    client = signed_in_client(owner)
    pasted = client.post("/workflows/import/", {"text": json.dumps(EXPORT)})
    assert pasted.status_code == 201
    page = pasted.content.decode()
    assert "Imported from n8n" in page and "JavaScript code cannot run in LinkFlow" in page
    assert 'data-status="not_mapped"' in page and 'data-status="mapped_with_warnings"' in page
    upload = SimpleUploadedFile(
        "wf.json", json.dumps({**EXPORT, "name": "Uploaded"}).encode(), "application/json"
    )
    uploaded = client.post("/workflows/import/", {"file": upload})
    assert uploaded.status_code == 201 and Workflow.objects.filter(name="Uploaded").exists()


def test_the_page_reports_a_malformed_n8n_export_on_the_input(owner):
    bad = {**EXPORT, "nodes": [{"name": "x", "type": "n8n-nodes-base.noOp", "parameters": []}]}
    response = signed_in_client(owner).post("/workflows/import/", {"text": json.dumps(bad)})
    assert response.status_code == 400
    assert "nodes[0].parameters" in response.content.decode()


def test_the_command_imports_many_files(owner, tmp_path):
    workspace = workspace_ensure_personal(user=owner)
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(EXPORT))
    second.write_text(json.dumps([{**EXPORT, "name": "Second", "id": "x2"}]))
    out = StringIO()

    call_command(
        "import_n8n", str(first), str(second), "--workspace", str(workspace.pk), stdout=out
    )

    assert sorted(Workflow.objects.values_list("name", flat=True)) == ["From n8n", "Second"]
    assert "1 not mapped" in out.getvalue() and "JS [not_mapped]" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("import_n8n", str(tmp_path / "missing.json"), "--workspace", str(workspace.pk))


def test_pinned_data_becomes_pins_and_the_error_workflow_is_linked_when_imported_with_it(api):
    alarm = workflow([node("On error", "errorTrigger", 1)], id="n8nAlarm", name="Alarm")
    http = node("Fetch", "httpRequest", 4.2, {"url": "https://example.com/x"})
    main = workflow(
        [node("Start", "manualTrigger", 1), http],
        chain("Start", "Fetch"),
        id="n8nMain",
        name="Main",
        settings={"errorWorkflow": "n8nAlarm"},
        pinData={"Fetch": [{"json": {"ok": 1}}, {"json": {"ok": 2}}], "Gone": [{"json": {}}]},
    )
    lonely = workflow(
        [node("Start", "manualTrigger", 1)], name="Lonely", settings={"errorWorkflow": "elsewhere"}
    )

    response = api.post(
        "/api/v1/workflows/import", {"document": [main, alarm, lonely]}, format="json"
    )

    assert response.status_code == 201, response.json()
    main_out, alarm_out, lonely_out = response.json()["workflows"]
    main_row = Workflow.objects.get(pk=main_out["id"])
    assert str(main_row.error_workflow_id) == alarm_out["id"]
    # every node the request became is pinned, so a test run hands the items on unchanged
    # and never sends the request
    pins = {p.node_id: p.items for p in PinnedData.objects.filter(workflow=main_row)}
    assert set(pins) == {"Fetch", "Fetch__body", "Fetch__items"}
    assert all(items == [{"ok": 1}, {"ok": 2}] for items in pins.values())
    plan = api.post(f"/api/v1/workflows/{main_row.pk}/test/plan", {}, format="json").json()
    assert plan["outside_effects"] == []
    assert Workflow.objects.get(pk=lonely_out["id"]).error_workflow_id is None
    notes = response.json()["reports"][2]["workflow_notes"]
    assert any("was not imported with it" in note for note in notes)
