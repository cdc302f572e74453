"""The run view in a real browser against a real worker: live node statuses over the
WebSocket feed, cancel, retry, and a large (offloaded) output paged in the node panel."""

import itertools
import re

import pytest
from playwright.sync_api import expect

from executions.models import Execution
from executions.services import execution_create
from linkflow.accounts.services import workspace_ensure_personal
from workflows.services import workflow_create, workflow_update

from ..http_server import orders_server

pytestmark = pytest.mark.django_db(transaction=True)


def _run(owner, graph, trigger_input=None):
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(user=owner, workspace=workspace, name="Slow calls", graph=graph)
    return execution_create(
        user=owner, workflow=workflow, trigger_input=trigger_input or {}, mode="manual"
    )


def _calls(*urls):
    nodes = [{"id": "start", "type": "trigger.manual"}]
    nodes += [
        {"id": f"call{i}", "type": "http.request", "params": {"url": url}}
        for i, url in enumerate(urls, start=1)
    ]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"nodes": nodes, "edges": edges}


def test_node_statuses_update_live_while_the_worker_runs(new_page, owner, e2e_worker):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        execution = _run(owner, _calls(f"{base}/slow?seconds=0.8", f"{base}/slow?seconds=2.5"))
        page = new_page(owner)
        page.goto(f"/executions/{execution.pk}/")
        expect(page.locator("#live-state")).to_have_text("live")
        page.evaluate("window.sameDocument = true")
        second = page.locator('[data-node-id="call2"]')
        # still to run or running when the page opens (it takes 3.3 s in all)...
        expect(second).to_have_attribute("data-status", re.compile("^(queued|running)$"))
        expect(page.locator("#run-status")).to_have_text(re.compile("^(queued|running)$"))
        # ...then green from the feed alone, without a reload
        expect(second).to_have_attribute("data-status", "succeeded", timeout=15_000)
        assert page.evaluate("window.sameDocument") is True
        expect(page.locator('[data-node-id="call1"]')).to_have_class(
            re.compile(r"\bstatus-succeeded\b")
        )
        expect(page.locator("#run-status")).to_have_text("succeeded")
        # a finished execution offers no cancel
        expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_hidden()


def test_cancel_a_running_execution(new_page, owner, e2e_worker):
    with orders_server() as server:
        execution = _run(owner, _calls(f"http://127.0.0.1:{server.server_port}/slow?seconds=3"))
        page = new_page(owner)
        page.goto(f"/executions/{execution.pk}/")
        page.get_by_role("button", name="Cancel", exact=True).click()
        page.locator("#confirm-dialog").get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("Execution cancelled.")).to_be_visible()
        expect(page.locator("#run-status")).to_have_text("cancelled")
        execution.refresh_from_db()
        assert execution.status == "cancelled"
        expect(page.get_by_role("button", name="Retry", exact=True)).to_be_visible()


def test_retry_a_failed_execution_runs_it_again_as_a_new_one(new_page, owner, e2e_worker):
    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/flaky/retry-view?failures=1"
        execution = _run(owner, _calls(url))
        page = new_page(owner)
        page.goto(f"/executions/{execution.pk}/")
        expect(page.locator("#run-status")).to_have_text("failed", timeout=15_000)
        expect(page.locator('[data-node-id="call1"]')).to_have_attribute("data-status", "failed")
        page.locator('[data-node-id="call1"]').click()
        expect(page.locator("#node-detail .node-error")).to_contain_text("500")

        page.get_by_role("button", name="Retry", exact=True).click()
        page.locator("#confirm-dialog").get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("Retrying as a new execution of v1.")).to_be_visible()
        repeat = Execution.objects.get(source=execution)
        assert page.url.endswith(f"/executions/{repeat.pk}/")
        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=15_000)


def test_after_a_fix_retry_and_rerun_can_run_the_current_version(new_page, owner, e2e_worker):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        execution = _run(owner, _calls(f"{base}/orders?user=1", f"{base}/flaky/fix?failures=99"))
        workflow = execution.workflow
        page = new_page(owner)
        page.goto(f"/executions/{execution.pk}/")
        expect(page.locator("#run-status")).to_have_text("failed", timeout=15_000)
        # the fix: the second call goes elsewhere; the first is unchanged
        workflow = workflow_update(
            user=owner,
            workflow=workflow,
            changes={"graph": _calls(f"{base}/orders?user=1", f"{base}/orders?user=2")},
        )
        page.reload()

        page.locator('[data-node-id="call2"]').click()
        page.get_by_role("button", name="Re-run from this node on current version (v2)").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("Re-running from call2 as a new execution of v2")).to_be_visible()
        expect(page.get_by_text("reusing start, call1; running call2.")).to_be_visible()
        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=15_000)
        rerun = Execution.objects.get(source=execution, rerun_from_node="call2")
        assert page.url.endswith(f"/executions/{rerun.pk}/")
        assert rerun.version_id == workflow.current_version_id

        page.goto(f"/executions/{execution.pk}/")
        page.get_by_role("button", name="Retry on current version (v2)").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("Retrying as a new execution of v2.")).to_be_visible()
        expect(page.locator("#run-status")).to_have_text("succeeded", timeout=15_000)
        retry = Execution.objects.get(source=execution, rerun_from_node="")
        assert retry.version_id == workflow.current_version_id
    assert server.hits.count("/orders?user=1") == 2  # the first run's, then the retry's


def test_a_large_offloaded_output_is_paged_in_the_node_panel(new_page, owner, e2e_worker):
    rows = [{"n": n, "padding": "x" * 6000} for n in range(1, 46)]
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "split", "type": "data.split", "params": {"field": "rows"}},
        ],
        "edges": [{"source": "start", "target": "split"}],
    }
    execution = _run(owner, graph, {"rows": rows})
    page = new_page(owner)
    page.goto(f"/executions/{execution.pk}/")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=15_000)
    assert "$ref" in execution.node_runs.get(node_id="split").output  # offloaded to storage
    page.locator('[data-node-id="split"]').click()
    output = page.locator('#node-detail [data-items="main"]')
    expect(output).to_contain_text("Items 1\N{EN DASH}20 of 45")
    expect(output.locator(".json-item")).to_have_count(20)
    output.get_by_role("link", name="Next").click()
    output = page.locator('#node-detail [data-items="main"]')
    expect(output).to_contain_text("Items 21\N{EN DASH}40 of 45")
    expect(output.locator(".json-item").first).to_contain_text('"n": 21')
