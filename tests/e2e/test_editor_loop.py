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
from ..http_server import orders_server

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
    # The editor's own requests (run counts) finish before the test's database is
    # emptied: a request still in the web role then would hold locks the flush needs.
    page.wait_for_load_state("networkidle")
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


def test_a_test_that_would_send_a_request_asks_first_and_cancel_sends_nothing(
    new_page, owner, e2e_worker
):
    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/users/7"
        call = {"id": "call", "type": "http.request", "params": {"method": "POST", "url": url}}
        workflow = _workflow(owner, [{"id": "start", "type": "trigger.manual"}, call])
        page = new_page(owner)
        page.goto(f"/workflows/{workflow.pk}/edit/")

        page.get_by_role("button", name="Test workflow").click()
        expect(page.locator("#test-loop-status")).to_contain_text(
            "runs call (http.request) for real"
        )
        page.get_by_role("button", name="Cancel").click()

        expect(page.locator("#test-loop-status")).to_have_text("Test cancelled: nothing ran.")
        assert not Execution.objects.filter(workflow=workflow).exists()
        assert server.hits == []

        page.get_by_role("button", name="Test workflow").click()
        page.get_by_role("button", name="Run for real").click()
        expect(page.locator("#test-loop-status")).to_contain_text("succeeded", timeout=20_000)
        assert server.hits == ["/users/7"]


def test_test_step_runs_the_unsaved_edit_on_the_canvas(new_page, owner, e2e_worker):
    workflow = _workflow(
        owner, [{"id": "start", "type": "trigger.manual"}, _set("a", x=1), _set("b", y=2)]
    )
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.locator('[data-node-id="b"]').click()
    page.get_by_label("fields value 1").fill("{{ json.x + 40 }}")  # not saved

    page.get_by_role("button", name="Test step").click()

    expect(page.locator("#test-loop-status")).to_contain_text("succeeded", timeout=20_000)
    assert json.loads(page.locator("#test-step-output").text_content()) == {
        "main": [{"x": 1, "y": 41}]
    }
    workflow.refresh_from_db()
    assert workflow.current_version.number == 1  # testing saved no version
    assert workflow.current_version.graph["nodes"][2]["params"]["fields"] == {"y": 2}


def test_an_expression_field_completes_item_keys_and_node_ids(new_page, owner, e2e_worker):
    workflow = _workflow(
        owner,
        [{"id": "start", "type": "trigger.manual"}, _set("a", total=5, name="Ada"), _set("b", y=2)],
    )
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.locator('[data-node-id="b"]').click()
    page.get_by_role("button", name="Test step").click()
    expect(page.locator("#test-loop-status")).to_contain_text("succeeded", timeout=20_000)
    field = page.get_by_label("fields value 1")

    field.fill("")
    field.press_sequentially("{{ json.")
    options = page.get_by_role("listbox", name="Completions").get_by_role("option")
    expect(options).to_have_text(["name", "total"])  # sorted
    field.press("ArrowDown")
    field.press("Enter")
    expect(field).to_have_value("{{ json.total")
    field.press_sequentially(" * 2 }}")
    expect(page.locator(".expression-preview")).to_have_text("= 10")

    field.fill("")
    field.press_sequentially("{{ nodes.")
    expect(options).to_have_text(["start", "a"])
    field.press_sequentially("a.json.t")
    expect(options).to_have_text(["total"])
    options.first.click()
    expect(field).to_have_value("{{ nodes.a.json.total")
    expect(page.get_by_role("listbox", name="Completions")).to_have_count(0)
