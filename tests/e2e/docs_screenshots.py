"""Refresh docs/editor.png and docs/run-view.png (not part of the suite: its name does not
match test_*.py). Run it on purpose with the usual test environment:

    .venv/bin/python -m pytest tests/e2e/docs_screenshots.py
"""

import re

import pytest
from playwright.sync_api import expect

from executions.services import execution_create
from linkflow.accounts.services import workspace_ensure_personal
from workflows.services import workflow_create

from ..conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

ORDER_FLOW = {
    "nodes": [
        {"id": "order", "type": "trigger.manual", "name": "New order"},
        {
            "id": "total",
            "type": "data.set",
            "name": "Compute total",
            "params": {"fields": {"total": "{{ json.quantity * json.price }}"}},
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
        {
            "id": "standard",
            "type": "data.set",
            "name": "Tag standard",
            "params": {"fields": {"tier": "standard"}},
        },
        {"id": "done", "type": "flow.noop", "name": "Done"},
    ],
    "edges": [
        {"source": "order", "target": "total"},
        {"source": "total", "target": "big"},
        {"source": "big", "target": "gold", "output": "true"},
        {"source": "big", "target": "standard", "output": "false"},
        {"source": "gold", "target": "done"},
        {"source": "standard", "target": "done"},
    ],
}


def test_take_the_editor_and_run_view_screenshots(new_page, owner, e2e_worker):
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(
        user=owner, workspace=workspace, name="Order triage", graph=ORDER_FLOW
    )
    page = new_page(owner, width=1440, height=760)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.locator('[data-node-id="total"]').click()
    expect(page.get_by_label("fields", exact=True)).to_be_visible()
    page.screenshot(path=str(ROOT / "docs" / "editor.png"))

    execution = execution_create(
        user=owner,
        workflow=workflow,
        trigger_input={"customer": "Ada", "quantity": 3, "price": 80},
        mode="manual",
    )
    page.goto(f"/executions/{execution.pk}/")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=20_000)
    page.locator('[data-node-id="gold"]').click()
    expect(page.locator("#node-detail")).to_contain_text(re.compile("gold"))
    page.screenshot(path=str(ROOT / "docs" / "run-view.png"))
