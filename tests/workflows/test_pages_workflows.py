"""The workflow list and overview pages with Django's test client: access rules, forms
that refuse bad input with a field error, and the services they call (duplicate, export,
import, activation through the plan check)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from credentials.services import credential_create
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.engine.versions import versions_stamped
from workflows.models import WebhookTrigger, Workflow
from workflows.services import workflow_create, workflow_duplicate, workflow_export, workflow_import

from ..billing import on_plan
from ..conftest import signed_in_client

pytestmark = pytest.mark.django_db

WEBHOOK_GRAPH = {
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"method": "POST", "path": "orders"}},
        {"id": "shape", "type": "data.set", "params": {"fields": {"ok": True}}},
    ],
    "edges": [{"source": "hook", "target": "shape"}],
}


def _workflow(owner: User, name: str = "Orders in", graph: dict | None = None) -> Workflow:
    return workflow_create(
        user=owner,
        workspace=workspace_ensure_personal(user=owner),
        name=name,
        graph=graph or WEBHOOK_GRAPH,
    )


def _switch_to(client: Client, owner: User) -> None:
    client.post("/workspace/switch/", {"workspace": str(workspace_ensure_personal(user=owner).pk)})


# --- the list ------------------------------------------------------------------------------
def test_list_shows_the_workspace_workflows_and_filters_by_name(owner):
    _workflow(owner, "Orders in")
    _workflow(owner, "Nightly report", graph={"nodes": [{"id": "s", "type": "trigger.manual"}]})
    client = signed_in_client(owner)

    everything = client.get("/workflows/").content.decode()
    found = client.get("/workflows/", {"q": "night"}).content.decode()

    assert "Orders in" in everything and "Nightly report" in everything
    assert "Nightly report" in found and "Orders in" not in found


def test_empty_list_says_what_to_do_first(owner):
    body = signed_in_client(owner).get("/workflows/").content.decode()
    assert "No workflows yet" in body
    assert "Create your first workflow" in body


def test_create_makes_a_runnable_workflow_and_opens_the_editor(owner):
    response = signed_in_client(owner).post(
        "/workflows/new/", {"name": "Welcome mail", "description": "Greets sign-ups"}
    )

    workflow = Workflow.objects.get(name="Welcome mail")
    assert response.status_code == 302
    assert response["Location"] == f"/workflows/{workflow.pk}/edit/"
    assert workflow.description == "Greets sign-ups"
    assert workflow.current_version.graph["nodes"][0]["type"] == "trigger.manual"


def test_create_without_a_name_gives_the_form_back_with_the_error(owner):
    response = signed_in_client(owner).post("/workflows/new/", {"name": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Workflow.objects.exists()


# --- access ---------------------------------------------------------------------------------
def test_viewer_sees_no_controls_and_every_write_is_refused_with_nothing_changed(owner, viewer):
    workflow = _workflow(owner)
    client = signed_in_client(viewer)
    _switch_to(client, owner)

    listing = client.get("/workflows/").content.decode()
    overview = client.get(f"/workflows/{workflow.pk}/").content.decode()
    for body in (listing, overview):
        assert 'method="post" action="/workflows/' not in body
        assert "data-confirm=" not in body and "hx-post" not in body
    assert "New workflow" not in listing and "Import" not in listing
    assert "/webhooks/" in overview  # reading the URL is fine

    statuses = [
        client.post(f"/workflows/{workflow.pk}/active/", {"active": "true"}).status_code,
        client.post(f"/workflows/{workflow.pk}/duplicate/").status_code,
        client.post(f"/workflows/{workflow.pk}/delete/").status_code,
        client.post("/workflows/new/", {"name": "Sneaky"}).status_code,
        client.post(
            "/workflows/import/", {"text": json.dumps(workflow_export(workflow=workflow))}
        ).status_code,
        client.get("/workflows/new/").status_code,
    ]

    assert statuses == [403] * 6
    assert list(Workflow.objects.values_list("name", "active")) == [("Orders in", False)]


def test_outsider_gets_404_for_another_workspaces_workflow(owner, outsider):
    workflow = _workflow(owner)
    client = signed_in_client(outsider)

    statuses = [
        client.get(f"/workflows/{workflow.pk}/").status_code,
        client.get(f"/workflows/{workflow.pk}/export/").status_code,
        client.post(f"/workflows/{workflow.pk}/active/", {"active": "true"}).status_code,
        client.post(f"/workflows/{workflow.pk}/duplicate/").status_code,
        client.post(f"/workflows/{workflow.pk}/delete/").status_code,
    ]

    assert statuses == [404] * 5
    assert "Orders in" not in client.get("/workflows/").content.decode()
    assert Workflow.objects.filter(pk=workflow.pk, active=False).count() == 1


def test_signed_out_visitor_is_sent_to_sign_in(owner):
    response = Client().get("/workflows/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- toggle ---------------------------------------------------------------------------------
def test_toggle_activates_through_the_service_and_answers_htmx_with_the_control(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)

    response = client.post(
        f"/workflows/{workflow.pk}/active/", {"active": "true"}, HTTP_HX_REQUEST="true"
    )

    workflow.refresh_from_db()
    assert workflow.active is True
    assert response.status_code == 200
    assert 'aria-checked="true"' in response.content.decode()


def test_toggle_past_the_plan_limit_shows_the_error_inline(owner, billing_on):
    on_plan(owner, active_workflows=1)
    first, second = _workflow(owner, "One"), _workflow(owner, "Two", graph=_manual())
    client = signed_in_client(owner)
    client.post(f"/workflows/{first.pk}/active/", {"active": "true"}, HTTP_HX_REQUEST="true")

    response = client.post(
        f"/workflows/{second.pk}/active/", {"active": "true"}, HTTP_HX_REQUEST="true"
    )

    second.refresh_from_db()
    assert second.active is False
    assert response.status_code == 200
    assert "allows 1 active workflows" in response.content.decode()


def _manual() -> dict:
    return {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}


# --- duplicate, delete ----------------------------------------------------------------------
def test_duplicate_copies_the_graph_and_frees_the_webhook_path(owner):
    workflow = _workflow(owner)

    copy = workflow_duplicate(user=owner, workflow=workflow)

    assert copy.name == "Orders in (copy)" and copy.active is False
    assert [n["id"] for n in copy.current_version.graph["nodes"]] == ["hook", "shape"]
    assert WebhookTrigger.objects.get(workflow=copy).path == ""
    assert WebhookTrigger.objects.get(workflow=workflow).path == "orders"


def test_delete_page_removes_the_workflow(owner):
    workflow = _workflow(owner)
    response = signed_in_client(owner).post(f"/workflows/{workflow.pk}/delete/")
    assert response.status_code == 302
    assert not Workflow.objects.filter(pk=workflow.pk).exists()


# --- export / import ------------------------------------------------------------------------
def test_export_downloads_the_document_import_reads(owner):
    workflow = _workflow(owner)

    response = signed_in_client(owner).get(f"/workflows/{workflow.pk}/export/")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="orders-in.linkflow.json"'
    document = json.loads(response.content)
    assert document == {
        "format": "linkflow.workflow",
        "format_version": 1,
        "name": "Orders in",
        "description": "",
        "version": 1,
        "graph": versions_stamped(WEBHOOK_GRAPH),
    }


def test_import_of_an_export_makes_a_new_inactive_workflow(owner):
    workflow = _workflow(owner)
    document = workflow_export(workflow=workflow)
    upload = SimpleUploadedFile("orders.json", json.dumps(document).encode(), "application/json")

    response = signed_in_client(owner).post("/workflows/import/", {"file": upload})

    copy = Workflow.objects.exclude(pk=workflow.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/workflows/{copy.pk}/"
    assert copy.name == "Orders in" and copy.active is False
    # The readable path is taken by the original, so the copy answers on its token URL only.
    assert WebhookTrigger.objects.get(workflow=copy).path == ""


def test_import_accepts_the_api_representation(owner):
    copy = workflow_import(
        user=owner,
        workspace=workspace_ensure_personal(user=owner),
        document={"id": "x", "name": "From the API", "graph": _manual(), "active": True},
    )
    assert copy.name == "From the API" and copy.active is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "This is not valid JSON"),
        ("[1, 2]", "Expected a JSON object with a name and a graph."),
        ('{"name": "x"}', "The document has no graph object."),
        ('{"graph": {"nodes": []}}', "The document has no workflow name."),
        ('{"name": "x", "graph": {"nodes": [{"id": "a", "type": "nope"}]}}', "node a: "),
        ('{"name": "x\\u0000", "graph": {"nodes": []}}', "NUL"),
        ('{"format": "other", "name": "x", "graph": {}}', "Unknown format"),
    ],
)
def test_bad_import_gives_the_form_back_with_an_error_on_the_input(owner, text, message):
    response = signed_in_client(owner).post("/workflows/import/", {"text": text})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="id_text-errors"' in response.content.decode()
    assert not Workflow.objects.exists()


def test_import_with_nothing_chosen_asks_for_a_file_or_text(owner):
    response = signed_in_client(owner).post("/workflows/import/", {"text": "  "})
    assert response.status_code == 400
    assert "Choose an exported JSON file or paste its content." in response.content.decode()


# --- overview -------------------------------------------------------------------------------
def test_overview_shows_the_webhook_urls_and_a_curl_command(owner):
    workflow = _workflow(owner)
    trigger = WebhookTrigger.objects.get(workflow=workflow)

    body = signed_in_client(owner).get(f"/workflows/{workflow.pk}/").content.decode()

    assert f"http://testserver/webhooks/{trigger.token}" in body
    assert f"http://testserver/webhooks/w/{workflow.workspace_id}/orders" in body
    assert (
        f"curl -X POST http://testserver/webhooks/{trigger.token} "
        "-H &#x27;Content-Type: application/json&#x27; -d &#x27;{&quot;hello&quot;: "
        "&quot;world&quot;}&#x27;" in body
    )
    assert f"/executions/?workflow={workflow.pk}" in body
    assert f"/workflows/{workflow.pk}/edit/" in body


def test_overview_of_a_header_token_webhook_tells_which_header_to_send(owner):
    graph = {
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "params": {"method": "PUT", "auth": "header"}}
        ],
        "edges": [],
    }
    workflow = _workflow(owner, graph=graph)

    body = signed_in_client(owner).get(f"/workflows/{workflow.pk}/").content.decode()

    assert "curl -X PUT" in body
    assert "-H &quot;X-Webhook-Token: $WEBHOOK_TOKEN&quot;" in body
    assert "This webhook needs a header token" in body


def test_overview_uses_the_header_name_the_credential_sets(owner):
    workspace = workspace_ensure_personal(user=owner)
    credential = credential_create(
        workspace=workspace,
        name="Shop hook",
        type="webhook_auth",
        data={"header_name": "X-Shop-Key", "token": "tok-never-shown"},
    )
    graph = {
        "nodes": [
            {
                "id": "hook",
                "type": "trigger.webhook",
                "params": {"method": "POST", "auth": "header"},
                "credential": str(credential.pk),
            }
        ],
        "edges": [],
    }
    workflow = _workflow(owner, graph=graph)

    body = signed_in_client(owner).get(f"/workflows/{workflow.pk}/").content.decode()

    assert "-H &quot;X-Shop-Key: $WEBHOOK_TOKEN&quot;" in body
    assert "“Shop hook”" in body
    assert "tok-never-shown" not in body
