"""Every main page fits a phone (390 px) without scrolling sideways, keeps its main action
in reach, and the two busiest pages work from the keyboard."""

import os
import re

import pytest
from playwright.sync_api import expect

from credentials.services import credential_create
from executions.models import Execution
from executions.services import execution_create
from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.services import workspace_ensure_personal
from workflows.services import workflow_create, workflow_update

from ..conftest import ROOT, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = 390
# A long name and long values: what pushes a careless layout wider than the phone.
LONG = "Nightly order reconciliation for the northern warehouse region"
ORDERS = {
    "nodes": [
        {
            "id": "hook",
            "type": "trigger.webhook",
            "name": "Order webhook",
            "params": {"method": "POST"},
        },
        {
            "id": "total",
            "type": "data.set",
            "name": "Compute total",
            "params": {"fields": {"total": "{{ json.body.quantity * json.body.price }}"}},
        },
        {
            "id": "big",
            "type": "flow.if",
            "name": "Big order?",
            "params": {"condition": "{{ json.total > 100 }}"},
        },
        {
            "id": "gold",
            "type": "data.set",
            "name": "Tag gold",
            "params": {"fields": {"tier": "gold"}},
        },
        {"id": "done", "type": "flow.noop", "name": "Done"},
    ],
    "edges": [
        {"source": "hook", "target": "total"},
        {"source": "total", "target": "big"},
        {"source": "big", "target": "gold", "output": "true"},
        {"source": "gold", "target": "done"},
    ],
}


@pytest.fixture
def seeded(owner, e2e_worker):
    """The owner's workspace with a webhook workflow (two versions), a finished execution,
    a credential and an API key: every main page has something to lay out. The owner's
    e-mail is long, as real ones are (the header shows it)."""
    owner.email = f"someone.with.a.long.name.{owner.pk.hex[:8]}@example-company.com"
    owner.save(update_fields=["email"])
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(user=owner, workspace=workspace, name=LONG, graph=ORDERS)
    workflow_update(user=owner, workflow=workflow, changes={"active": True})
    graph = {
        **ORDERS,
        "nodes": [*ORDERS["nodes"][:-1], {**ORDERS["nodes"][-1], "name": "All done"}],
    }
    workflow_update(user=owner, workflow=workflow, changes={"graph": graph})
    execution = execution_create(
        user=owner,
        workflow=workflow,
        trigger_input={"body": {"customer": "Ada Lovelace-Byron", "quantity": 3, "price": 80}},
        mode="manual",
    )
    wait_for(
        lambda: Execution.objects.get(pk=execution.pk).status == "succeeded",
        what="the seeded execution to succeed",
    )
    credential_create(
        workspace=workspace,
        name="Warehouse API basic auth for the reconciliation job",
        type="http_basic",
        data={"username": "warehouse-reconciliation", "password": "s3cret"},
    )
    api_key_create(
        user=owner, workspace=workspace, name="Reporting dashboard key", scopes=["workflows:read"]
    )
    return workflow, execution


def _pages(workflow, execution):
    """Each main page with the control that is its main action."""
    return [
        ("/workflows/", lambda p: p.get_by_role("link", name="New workflow")),
        (f"/workflows/{workflow.pk}/", lambda p: p.get_by_role("link", name="Open the editor")),
        (f"/workflows/{workflow.pk}/edit/", lambda p: p.get_by_role("button", name="Save")),
        (f"/workflows/{workflow.pk}/versions/", lambda p: p.get_by_role("button", name="Compare")),
        ("/executions/", lambda p: p.get_by_role("button", name="Apply")),
        (f"/executions/{execution.pk}/", lambda p: p.locator("#run-status")),
        ("/credentials/", lambda p: p.get_by_role("link", name="New credential").first),
        ("/credentials/new/", lambda p: p.get_by_role("link", name=re.compile("HTTP basic auth"))),
        ("/credentials/new/http_basic/", lambda p: p.get_by_role("button", name="Save")),
        ("/usage/", lambda p: p.get_by_role("heading", level=1)),
        ("/workspace/members/", lambda p: p.get_by_role("button", name="Add member")),
        ("/settings/api-keys/", lambda p: p.get_by_role("button", name="Create key")),
        ("/accounts/password/change/", lambda p: p.get_by_role("button", name="Change password")),
    ]


def _shoot(page, path, width):
    """With LINKFLOW_SHOTS set, keep a full-page screenshot of each page for a human eye."""
    if os.environ.get("LINKFLOW_SHOTS"):
        folder = ROOT / "var" / "e2e" / "phone-width"
        folder.mkdir(parents=True, exist_ok=True)
        name = path.strip("/").replace("/", "_") or "home"
        name = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "id", name)
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)


def test_main_pages_fit_a_phone_and_keep_their_main_action_in_reach(new_page, owner, seeded):
    workflow, execution = seeded
    page = new_page(owner, width=PHONE)
    for path, main_action in _pages(workflow, execution):
        page.goto(path)
        action = main_action(page)
        action.scroll_into_view_if_needed()
        expect(action, f"the main action of {path}").to_be_in_viewport()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE, f"{path} scrolls sideways at {PHONE} px ({width} px wide)"
        box = action.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE, f"{path}: main action cut off"
        _shoot(page, path, PHONE)
    # A table may scroll inside its box, but a row's own buttons should not need that.
    page.goto("/credentials/")
    delete = page.locator("td.actions").get_by_role("button", name="Delete")
    box = delete.bounding_box()
    assert box["x"] + box["width"] <= PHONE, "the credential's Delete button is cut off"
    if os.environ.get("LINKFLOW_SHOTS"):
        wide = new_page(owner, width=1280)
        for path, _ in _pages(workflow, execution):
            wide.goto(path)
            _shoot(wide, path, 1280)


def test_new_workflow_is_reached_by_tab_and_opened_with_enter(new_page, owner):
    workspace_ensure_personal(user=owner)
    page = new_page(owner, width=PHONE)
    page.goto("/workflows/")
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        if focused == "New workflow":
            break
    else:
        pytest.fail("Tab never reached the New workflow link")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/workflows/new/$"))


def test_a_palette_item_is_added_by_keyboard_and_its_panel_takes_focus(new_page, owner):
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(user=owner, workspace=workspace, name="Keys", graph=ORDERS)
    page = new_page(owner, width=PHONE)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    palette = page.get_by_role("complementary", name="Add a node")
    palette.get_by_role("button", name=re.compile("Set fields")).focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("complementary", name="Node settings")
    first_field = panel.locator("input, select, textarea").first
    expect(first_field).to_be_focused()
    expect(page.locator("#editor-status")).to_contain_text("Added Set fields")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE, f"the editor with its panel open is {width} px wide"


def test_the_editor_execute_form_opens_within_a_phone_screen(new_page, owner):
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(user=owner, workspace=workspace, name="Run me", graph=ORDERS)
    page = new_page(owner, width=PHONE)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.get_by_text("Execute…").click()
    run = page.get_by_role("button", name="Run workflow")
    expect(run).to_be_in_viewport()
    form = page.locator(".execute-form").bounding_box()
    assert form["x"] >= 0 and form["x"] + form["width"] <= PHONE, form
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    _shoot(page, "editor-execute", PHONE)
