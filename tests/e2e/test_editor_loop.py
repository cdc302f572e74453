"""The build-test loop's buttons in a real browser against a live web role and a real
worker: test a step and pin its output, listen and fire the test URL, debug a failed run."""

import itertools
import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from executions.models import Execution, NodeRun
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import PinnedData
from workflows.services import workflow_create

from ..conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _workflow(owner, nodes, name="Loop"):  # type: ignore[no-untyped-def]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return workflow_create(
        user=owner,
        workspace=workspace_ensure_personal(user=owner),
        name=name,
        graph={"nodes": nodes, "edges": edges},
    )


def _set(node_id, **fields):  # type: ignore[no-untyped-def]
    return {"id": node_id, "type": "data.set", "params": {"fields": fields}}


def test_test_a_step_then_pin_its_output(new_page, owner, e2e_worker):
    workflow = _workflow(
        owner, [{"id": "start", "type": "trigger.manual"}, _set("a", x=1), _set("b", y=2)]
    )
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")

    page.locator('[data-node-id="b"]').click()
    page.get_by_role("button", name="Test step").click()

    expect(page.locator("#test-loop-status")).to_contain_text("succeeded", timeout=20_000)
    output = json.loads(page.locator("#test-step-output").text_content())
    assert output == {"main": [{"x": 1, "y": 2}]}
    assert json.loads(page.locator("#test-step-input").text_content()) == [{"x": 1}]
    page.get_by_role("button", name="Pin output").click()
    expect(page.locator("#test-loop-status")).to_contain_text("Pinned the output of b")
    assert PinnedData.objects.get(workflow=workflow).items == [{"x": 1, "y": 2}]


def test_listen_then_fire_the_test_url(new_page, owner, live_server_url, e2e_worker):
    workflow = _workflow(
        owner, [{"id": "hook", "type": "trigger.webhook", "params": {}}, _set("a", x=1)]
    )  # never activated
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")

    page.get_by_role("button", name="Listen for test event").click()

    expect(page.locator("#test-loop-status")).to_contain_text("Listening until")
    url = page.locator("#test-url").input_value()
    assert "/webhooks/test/" in url
    path = url.split("/webhooks/", 1)[1]
    request = urllib.request.Request(
        f"{live_server_url}/webhooks/{path}",
        data=json.dumps({"order": 5}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202
    execution = wait_for(
        lambda: Execution.objects.filter(
            workflow=workflow, mode="test", status="succeeded"
        ).first(),
        what="the test run to succeed",
    )
    assert execution.trigger_input["body"] == {"order": 5}


def test_debug_a_failed_run_in_the_editor(new_page, owner, e2e_worker):
    workflow = _workflow(
        owner, [{"id": "start", "type": "trigger.manual"}, _set("a", x=1), _set("b", y=2)]
    )
    execution = Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=workflow.current_version,
        status="failed",
        mode="manual",
        queued_at=workflow.created_at,
        error={"message": "b broke", "node_id": "b"},
    )
    NodeRun.objects.create(
        execution=execution,
        node_id="a",
        node_type="data.set",
        status="succeeded",
        output={"main": [{"x": 9}]},
    )
    page = new_page(owner)
    page.goto(f"/executions/{execution.pk}/")

    page.get_by_role("button", name="Debug in editor").click()

    page.wait_for_url(f"**/workflows/{workflow.pk}/edit/")
    assert PinnedData.objects.get(workflow=workflow, node_id="a").items == [{"x": 9}]


def test_an_expression_field_previews_its_value_and_its_error_as_one_types(new_page, owner):
    workflow = _workflow(
        owner,
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "gate", "type": "flow.if", "params": {"condition": "true"}},
        ],
    )
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.locator('[data-node-id="gate"]').click()
    field = page.locator("#param-condition")

    field.fill("{{ 6 * 7 }}")
    expect(page.locator(".expression-preview")).to_have_text("= 42")
    field.fill("total: {{ 6 * }}")

    preview = page.locator(".expression-preview")
    expect(preview).to_contain_text("Error at 7:")
    expect(preview).to_have_class(re.compile(r"\bpreview-error\b"))
