"""The editor journey in a real browser: build a workflow on the canvas, save, run it and
watch it, problems shown on their nodes, dragging, versions, and the read-only view."""

import re

import pytest
from playwright.sync_api import expect

from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow
from workflows.services import workflow_create, workflow_update

pytestmark = pytest.mark.django_db(transaction=True)

GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "fetch", "type": "http.request", "params": {"url": "https://example.com/x"}},
    ],
    "edges": [{"source": "start", "target": "fetch"}],
}


def _workflow(owner, graph=None, name="Orders"):
    workspace = workspace_ensure_personal(user=owner)
    return workflow_create(user=owner, workspace=workspace, name=name, graph=graph or GRAPH)


def test_build_a_workflow_on_the_canvas_save_run_it_and_open_a_node_output(
    new_page, owner, e2e_worker
):
    workflow = Workflow.objects.create(
        workspace=workspace_ensure_personal(user=owner), name="Greeter", created_by=owner
    )
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    expect(page.get_by_text("The canvas is empty")).to_be_visible()

    palette = page.get_by_role("complementary", name="Add a node")
    palette.get_by_role("button", name=re.compile("Manual trigger")).click()
    palette.get_by_role("button", name=re.compile("Set fields")).click()
    page.get_by_role("button", name="Add fields row").click()
    page.get_by_label("fields name 1").fill("greeting")
    page.get_by_label("fields value 1").fill("hello {{ json.name }}")
    palette.get_by_role("button", name=re.compile("No operation")).click()

    # one connection with the keyboard-friendly select, one by dragging from a port
    page.locator('[data-node-id="manual_1"]').click()
    page.get_by_label("Connect to").select_option("set_1")
    page.get_by_role("button", name="Connect", exact=True).click()
    page.locator('[data-node-id="set_1"] .port-out').drag_to(
        page.locator('[data-node-id="noop_1"] .node-box')
    )
    expect(page.locator(".edge")).to_have_count(2)

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_have_text("Saved as version 1.")
    workflow.refresh_from_db()
    graph = workflow.current_version.graph
    assert [(n["id"], n["type"]) for n in graph["nodes"]] == [
        ("manual_1", "trigger.manual"),
        ("set_1", "data.set"),
        ("noop_1", "flow.noop"),
    ]
    assert graph["nodes"][1]["params"] == {"fields": {"greeting": "hello {{ json.name }}"}}
    assert graph["edges"] == [
        {"source": "manual_1", "target": "set_1"},
        {"source": "set_1", "target": "noop_1"},
    ]

    page.get_by_text("Execute…").click()
    page.get_by_label("Input JSON").fill('{"name": "Ada"}')
    page.get_by_role("button", name="Run workflow").click()
    page.wait_for_url(re.compile(r"/executions/[0-9a-f-]+/$"))
    for node_id in ("manual_1", "set_1", "noop_1"):
        node = page.locator(f'[data-node-id="{node_id}"]')
        expect(node).to_have_attribute("data-status", "succeeded", timeout=20_000)
        expect(node).to_have_class(re.compile(r"\bstatus-succeeded\b"))
    expect(page.locator("#run-status")).to_have_text("succeeded")

    page.locator('[data-node-id="set_1"]').click()
    detail = page.locator("#node-detail")
    expect(detail.locator(".json-view").last).to_contain_text('"hello Ada"')
    expect(detail).to_contain_text('"greeting"')


def test_a_validation_error_is_shown_on_its_node_and_nothing_is_lost(new_page, owner):
    workflow = _workflow(owner)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.locator('[data-node-id="fetch"]').click()
    page.get_by_label("url *").fill("")
    page.get_by_role("button", name="Save").click()

    fetch = page.locator('[data-node-id="fetch"]')
    expect(fetch).to_have_class(re.compile(r"\binvalid\b"))
    expect(page.locator('[data-node-id="start"]')).not_to_have_class(re.compile(r"\binvalid\b"))
    expect(page.locator(".node-problems")).to_contain_text("'url' is required.")
    expect(page.locator("#editor-status")).to_contain_text("Not saved")
    # the edit is still there to fix, and fixing it saves
    page.get_by_label("url *").fill("https://example.com/fixed")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_have_text("Saved as version 2.")
    expect(fetch).not_to_have_class(re.compile(r"\binvalid\b"))
    workflow.refresh_from_db()
    assert workflow.current_version.graph["nodes"][1]["params"]["url"] == (
        "https://example.com/fixed"
    )


def test_a_dragged_node_keeps_its_place_after_reload(new_page, owner):
    workflow = _workflow(owner)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    box = page.locator('[data-node-id="fetch"] .node-box').bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 140, steps=6)
    page.mouse.up()
    expect(page.locator("#editor-status")).to_have_text("Position saved.")
    workflow.refresh_from_db()
    assert workflow.layout["fetch"] == {"x": 310 + 60, "y": 40 + 120}
    assert workflow.versions.count() == 1  # a move makes no version

    page.reload()
    expect(page.locator('[data-node-id="fetch"]')).to_have_attribute(
        "transform", "translate(370,160)"
    )


def test_versions_diff_and_restore(new_page, owner):
    workflow = _workflow(owner)
    # As stored: saving stamps each node with its type's version.
    original = workflow.current_version.graph
    changed = {
        **GRAPH,
        "nodes": [GRAPH["nodes"][0], {**GRAPH["nodes"][1], "params": {"url": "https://b.example"}}],
    }
    workflow_update(user=owner, workflow=workflow, changes={"graph": changed})
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.get_by_role("link", name="Versions").click()
    expect(page.locator("tr[data-version]")).to_have_count(2)
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Changes from v1 to v2")).to_be_visible()
    expect(page.locator(".diff-changed")).to_contain_text("params.url")
    expect(page.locator(".diff-changed")).to_contain_text("https://b.example")

    page.get_by_role("button", name="Restore v1").click()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Restored version 1 as version 3.")).to_be_visible()
    workflow.refresh_from_db()
    assert workflow.current_version.number == 3
    assert workflow.current_version.graph == original


def test_viewer_sees_the_graph_without_palette_save_or_execute(new_page, owner, viewer):
    workflow = _workflow(owner)
    page = new_page(viewer)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    expect(page.locator('[data-node-id="fetch"]')).to_be_visible()
    expect(page.get_by_text("read-only")).to_be_visible()
    expect(page.get_by_role("complementary", name="Add a node")).to_have_count(0)
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_text("Execute…")).to_have_count(0)
    page.locator('[data-node-id="fetch"]').click()
    expect(page.get_by_label("url *")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete node")).to_have_count(0)
