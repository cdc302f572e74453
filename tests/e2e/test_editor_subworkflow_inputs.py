"""The editor shows what a called workflow expects: selecting a workflow.execute node
lists the inputs the called workflow's manual trigger declares (issue #12, point 4)."""

import pytest
from playwright.sync_api import expect

from linkflow.accounts.services import workspace_ensure_personal
from workflows.services import workflow_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_selecting_a_call_node_lists_the_called_workflows_declared_inputs(new_page, owner):
    workspace = workspace_ensure_personal(user=owner)
    inputs = [{"name": "email", "type": "string", "required": True}, {"name": "age"}]
    child = workflow_create(
        user=owner,
        workspace=workspace,
        name="Signup",
        graph={"nodes": [{"id": "start", "type": "trigger.manual", "params": {"inputs": inputs}}]},
    )
    caller_graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "call", "type": "workflow.execute", "params": {"workflow": str(child.pk)}},
        ],
        "edges": [{"source": "start", "target": "call"}],
    }
    caller = workflow_create(user=owner, workspace=workspace, name="Caller", graph=caller_graph)
    page = new_page(owner)

    page.goto(f"/workflows/{caller.pk}/edit/")
    page.locator('[data-node-id="call"]').click()

    expect(page.locator("#called-inputs")).to_have_text(
        "'Signup' expects: email (string, required), age (any). Map them in fields."
    )
