"""The workflows journey in a real browser: create, search, activate, duplicate, delete,
export and import, and a webhook workflow's URL and curl command, which really runs it."""

import json
import os
import re
import subprocess

import httpx
import pytest
from playwright.sync_api import expect

from credentials.services import credential_create
from executions.models import Execution
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow
from workflows.services import workflow_create, workflow_update

from ..conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MANUAL = {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}
WEBHOOK = {
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"method": "POST"}},
        {
            "id": "shape",
            "type": "data.set",
            "params": {"fields": {"seen": "{{ json.body.hello }}"}},
        },
    ],
    "edges": [{"source": "hook", "target": "shape"}],
}


def _workflow(owner: User, name: str, graph: dict = MANUAL) -> Workflow:
    workspace = workspace_ensure_personal(user=owner)
    return workflow_create(user=owner, workspace=workspace, name=name, graph=graph)


def test_create_opens_the_editor(new_page, owner):
    page = new_page(owner)
    page.goto("/workflows/")
    page.get_by_role("link", name="Create your first workflow").click()
    page.get_by_label("Name").fill("Welcome mail")
    page.get_by_role("button", name="Create and open the editor").click()

    workflow = wait_for(lambda: Workflow.objects.filter(name="Welcome mail").first())
    page.wait_for_url(re.compile(rf"/workflows/{workflow.pk}/edit/$"))


def test_search_toggle_duplicate_and_delete_from_the_list(new_page, owner):
    _workflow(owner, "Orders in")
    _workflow(owner, "Nightly report")
    page = new_page(owner)
    page.goto("/workflows/")

    page.get_by_label("Search by name").fill("night")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nightly report")

    switch = page.get_by_role("switch", name="Active: Nightly report")
    switch.click()
    expect(page.get_by_role("switch", name="Active: Nightly report")).to_have_attribute(
        "aria-checked", "true"
    )
    assert Workflow.objects.get(name="Nightly report").active is True

    page.get_by_role("button", name="Duplicate Nightly report").click()
    expect(page.get_by_role("heading", name="Nightly report (copy)")).to_be_visible()

    page.goto("/workflows/")
    page.get_by_role("button", name="Delete Orders in").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Delete “Orders in”")
    dialog.get_by_role("button", name="Cancel").click()
    assert Workflow.objects.filter(name="Orders in").exists()
    page.get_by_role("button", name="Delete Orders in").click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Deleted Orders in.")).to_be_visible()
    assert not Workflow.objects.filter(name="Orders in").exists()


def test_export_then_import_makes_a_copy(new_page, owner, tmp_path):
    stored = _workflow(owner, "Orders in", WEBHOOK).current_version.graph
    page = new_page(owner)
    page.goto("/workflows/")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export").click()
    exported = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(exported)
    assert json.loads(exported.read_text())["graph"] == stored

    page.get_by_role("link", name="Import").click()
    page.get_by_label("JSON file").set_input_files(str(exported))
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_text("Imported Orders in.")).to_be_visible()
    expect(page.get_by_role("heading", name="Orders in")).to_be_visible()
    assert Workflow.objects.filter(name="Orders in").count() == 2


def test_webhook_overview_gives_a_curl_that_runs_the_workflow(new_page, owner, e2e_worker):
    workflow = _workflow(owner, "Orders in", WEBHOOK)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/")
    page.get_by_role("switch", name="Active: Orders in").click()
    expect(page.get_by_role("switch", name="Active: Orders in")).to_have_attribute(
        "aria-checked", "true"
    )

    url = page.get_by_label("URL", exact=True).input_value()
    curl = page.locator("pre.wf-curl").inner_text()
    assert url.startswith(page.url.split("/workflows/")[0] + "/webhooks/")
    assert curl.startswith(f"curl -X POST {url} -H 'Content-Type: application/json' -d ")

    # Do what the command says: its method, URL, header and body.
    body = re.search(r"-d '(.*)'$", curl).group(1)
    response = httpx.post(url, content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 202
    execution_id = response.json()["execution_id"]
    status = wait_for(
        lambda: Execution.objects.filter(pk=execution_id, status="succeeded").exists(),
        timeout=30,
        what="the webhook's execution to succeed",
    )
    assert status
    execution = Execution.objects.get(pk=execution_id)
    assert execution.workflow_id == workflow.pk and execution.mode == "webhook"


def test_list_and_overview_fit_a_phone(new_page, owner):
    workflow = _workflow(owner, "Orders in with a rather long name for a phone", WEBHOOK)
    page = new_page(owner, width=390)
    for path in ("/workflows/", f"/workflows/{workflow.pk}/"):
        page.goto(path)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{path} scrolls sideways at 390 px"


def test_signed_webhook_curl_runs_as_shown_with_the_secret(new_page, owner, e2e_worker):
    workspace = workspace_ensure_personal(user=owner)
    credential = credential_create(
        workspace=workspace, name="Shop signing", type="webhook_auth", data={"secret": "s3cret"}
    )
    graph = json.loads(json.dumps(WEBHOOK))
    graph["nodes"][0]["params"]["auth"] = "hmac"
    graph["nodes"][0]["credential"] = str(credential.pk)
    workflow = _workflow(owner, "Signed orders", graph)
    workflow_update(user=owner, workflow=workflow, changes={"active": True})
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/")

    script = page.locator("pre.wf-curl").inner_text()
    result = subprocess.run(
        ["bash", "-c", script.replace("curl ", "curl -s ", 1)],
        env={**os.environ, "WEBHOOK_SECRET": "s3cret"},
        capture_output=True,
        text=True,
        timeout=20,
    )

    execution_id = json.loads(result.stdout)["execution_id"]
    wait_for(
        lambda: Execution.objects.filter(pk=execution_id, status="succeeded").exists(),
        what="the signed webhook's execution to succeed",
    )
