"""The editor's node panel and canvas in a real browser (issue 15, points 7 and 8): every
node setting from the registry's schema with key/value rows and a rules list, undo and
redo across five kinds of edit, copy and paste between workflows, multi-select and
delete, fit to view, sticky notes kept with the layout, and the items each edge carried
in the latest run."""

import json
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow
from workflows.notes import NOTES_KEY
from workflows.services import workflow_create

pytestmark = pytest.mark.django_db(transaction=True)

CHAIN = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "position": {"x": 40, "y": 40}},
        {
            "id": "fetch",
            "type": "http.request",
            "params": {"url": "https://example.com/x"},
            "position": {"x": 310, "y": 40},
        },
    ],
    "edges": [{"source": "start", "target": "fetch"}],
}


def _workflow(owner, graph, name="Orders"):
    workspace = workspace_ensure_personal(user=owner)
    return workflow_create(user=owner, workspace=workspace, name=name, graph=graph)


def _api_graph(owner, workflow):
    """The graph as the API reads it back (the current version)."""
    client = Client()
    client.force_login(owner)
    response = client.get(f"/api/v1/workflows/{workflow.pk}/")
    assert response.status_code == 200
    return response.json()["graph"]


def _node(graph, node_id):
    return next(n for n in graph["nodes"] if n["id"] == node_id)


def _drag(page, locator, dx, dy, *, dx0=60, dy0=20):
    box = locator.bounding_box()
    page.mouse.move(box["x"] + dx0, box["y"] + dy0)
    page.mouse.down()
    page.mouse.move(box["x"] + dx0 + dx, box["y"] + dy0 + dy, steps=6)
    page.mouse.up()


def _background(page):
    """Click an empty spot of the canvas (clears the selection, takes focus off fields)."""
    box = page.locator("#canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 20, box["y"] + box["height"] - 20)


def test_node_settings_headers_query_and_switch_rules_are_saved_in_the_graph(new_page, owner):
    graph = {
        "nodes": [
            *CHAIN["nodes"],
            {
                "id": "route",
                "type": "flow.switch",
                "params": {"rules": [{"condition": "{{ json.a }}"}]},
                "position": {"x": 580, "y": 40},
            },
        ],
        "edges": [*CHAIN["edges"], {"source": "fetch", "target": "route"}],
    }
    workflow = _workflow(owner, graph)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")

    page.locator('[data-node-id="fetch"]').click()
    page.get_by_label("Attempts").fill("3")
    page.get_by_label("Back-off (s)").fill("2.5")
    page.get_by_label("Timeout (s)").fill("30")
    page.get_by_label("On error").select_option("continue")
    page.get_by_label("Disabled").check()
    page.get_by_label("Notes").fill("Calls the shop API; ask Ada first.")
    page.get_by_role("button", name="Add headers row").click()
    page.get_by_label("headers name 1").fill("X-Api-Version")
    page.get_by_label("headers value 1").fill("2")
    page.get_by_role("button", name="Add headers row").click()
    page.get_by_label("headers name 2").fill("Accept")
    page.get_by_label("headers value 2").fill("application/json")
    # the raw JSON alternative, for query
    page.locator("#param-query-raw").check()
    page.get_by_label("query as JSON").fill('{"page": 2, "tags": ["a", "b"]}')
    expect(page.locator('[data-node-id="fetch"]')).to_have_class(re.compile(r"\bdisabled\b"))

    page.locator('[data-node-id="route"]').click()
    page.get_by_role("button", name="Add rule").click()
    page.get_by_label("rule 2 condition *").fill("{{ json.total > 100 }}")
    page.get_by_label("rule 2 output").fill("big orders")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_have_text("Saved as version 2.")

    saved = _api_graph(owner, workflow)
    fetch = _node(saved, "fetch")
    assert fetch["retry"] == {"max_attempts": 3, "backoff_seconds": 2.5}
    assert fetch["timeout_seconds"] == 30
    assert fetch["on_error"] == "continue"
    assert fetch["disabled"] is True
    assert fetch["notes"] == "Calls the shop API; ask Ada first."
    # headers take text only: "2" stays a string
    assert fetch["params"]["headers"] == {"X-Api-Version": "2", "Accept": "application/json"}
    assert fetch["params"]["query"] == {"page": 2, "tags": ["a", "b"]}
    assert _node(saved, "route")["params"]["rules"] == [
        {"condition": "{{ json.a }}"},
        {"condition": "{{ json.total > 100 }}", "output": "big orders"},
    ]

    # back to the defaults: the settings leave the graph rather than being stored as such
    page.locator('[data-node-id="fetch"]').click()
    expect(page.get_by_label("headers value 2")).to_have_value("application/json")
    page.get_by_label("On error").select_option("fail")
    page.get_by_label("Disabled").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_have_text("Saved as version 3.")
    fetch = _node(_api_graph(owner, workflow), "fetch")
    assert "on_error" not in fetch and "disabled" not in fetch


def test_undo_takes_back_an_add_a_move_a_delete_a_connect_and_a_parameter_edit_and_redo_replays(
    new_page, owner
):
    graph = {
        "nodes": [
            *CHAIN["nodes"],
            {"id": "spare", "type": "flow.noop", "position": {"x": 310, "y": 200}},
            {"id": "extra", "type": "flow.noop", "position": {"x": 580, "y": 200}},
        ],
        "edges": CHAIN["edges"],
    }
    workflow = _workflow(owner, graph)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    nodes, edges = page.locator(".graph-canvas .node"), page.locator(".graph-canvas .edge")
    fetch, spare = page.locator('[data-node-id="fetch"]'), page.locator('[data-node-id="spare"]')

    # 1 add (nothing selected: placed, not connected)
    palette = page.get_by_role("complementary", name="Add a node")
    palette.get_by_role("button", name=re.compile("No operation")).click()
    expect(nodes).to_have_count(5)
    # 2 move
    _drag(page, fetch.locator(".node-box"), 40, 80)
    expect(fetch).to_have_attribute("transform", "translate(350,120)")
    # 3 delete, with the keyboard
    page.locator('[data-node-id="extra"]').click()
    page.keyboard.press("Delete")
    expect(nodes).to_have_count(4)
    # 4 connect by dragging from a port
    page.locator('[data-node-id="fetch"] .port-out').drag_to(spare.locator(".node-box"))
    expect(edges).to_have_count(2)
    # 5 a parameter edit
    fetch.click()
    page.get_by_label("url *").fill("https://example.com/changed")
    _background(page)

    page.keyboard.press("Control+z")  # 5
    fetch.click()
    expect(page.get_by_label("url *")).to_have_value("https://example.com/x")
    _background(page)
    page.keyboard.press("Control+z")  # 4
    expect(edges).to_have_count(1)
    page.keyboard.press("Control+z")  # 3
    expect(nodes).to_have_count(5)
    expect(page.locator('[data-node-id="extra"]')).to_be_visible()
    page.keyboard.press("Control+z")  # 2
    expect(fetch).to_have_attribute("transform", "translate(310,40)")
    page.keyboard.press("Control+z")  # 1
    expect(nodes).to_have_count(4)
    expect(page.locator('[data-node-id="noop_1"]')).to_have_count(0)
    expect(page.locator("#editor")).to_have_attribute("data-layout-state", "saved")
    # back to the saved graph; the layout save the undo set off has landed and still says so
    expect(page.locator("#editor-status")).to_have_text("Undone")
    workflow.refresh_from_db()
    assert workflow.layout["fetch"] == {"x": 310, "y": 40}  # the undone move is saved too

    for _ in range(5):
        page.keyboard.press("Control+Shift+z")
    expect(nodes).to_have_count(4)
    expect(page.locator('[data-node-id="noop_1"]')).to_be_visible()
    expect(page.locator('[data-node-id="extra"]')).to_have_count(0)
    expect(fetch).to_have_attribute("transform", "translate(350,120)")
    expect(edges).to_have_count(2)
    expect(page.locator("#redo-button")).to_be_disabled()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_have_text("Saved as version 2.")
    saved = _api_graph(owner, workflow)
    assert sorted(n["id"] for n in saved["nodes"]) == ["fetch", "noop_1", "spare", "start"]
    assert {"source": "fetch", "target": "spare"} in saved["edges"]
    assert _node(saved, "fetch")["params"]["url"] == "https://example.com/changed"


def test_undo_goes_back_at_least_fifty_steps(new_page, owner):
    workflow = _workflow(owner, CHAIN)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    noop = page.get_by_role("complementary", name="Add a node").get_by_role(
        "button", name=re.compile("No operation")
    )
    for _ in range(55):
        noop.click()
    nodes = page.locator(".graph-canvas .node")
    expect(nodes).to_have_count(57)
    _background(page)
    for _ in range(55):
        page.keyboard.press("Control+z")
    expect(nodes).to_have_count(2)
    expect(page.locator("#undo-button")).to_be_disabled()
    expect(page.locator("#editor-status")).to_have_text("Undone")


def test_a_node_added_after_the_selected_one_is_connected_to_it(new_page, owner):
    workflow = _workflow(owner, CHAIN)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.locator('[data-node-id="fetch"]').click()
    palette = page.get_by_role("complementary", name="Add a node")
    palette.get_by_role("button", name=re.compile("No operation")).click()
    expect(page.locator("#editor-status")).to_have_text("Added No operation after fetch (unsaved)")
    expect(page.locator('.edge[data-source="fetch"][data-target="noop_1"]')).to_have_count(1)
    expect(page.locator('[data-node-id="noop_1"]')).to_have_attribute(
        "transform", "translate(580,40)"
    )


def test_a_node_copied_in_one_workflow_is_pasted_into_another(new_page, owner):
    source = _workflow(owner, CHAIN, name="Source")
    target = _workflow(
        owner,
        {"nodes": [{"id": "fetch", "type": "trigger.manual", "position": {"x": 40, "y": 40}}]},
        name="Target",
    )
    page = new_page(owner)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/workflows/{source.pk}/edit/")
    # what the page put on the clipboard, read in the copy event after the editor's handler
    page.evaluate(
        "window.addEventListener('copy', e => {"
        " window.copied = e.clipboardData.getData('text/plain'); })"
    )
    page.locator('[data-node-id="fetch"]').click()
    page.get_by_label("Notes").fill("copied along")
    _background(page)
    page.locator('[data-node-id="start"]').click(modifiers=["Shift"])
    page.locator('[data-node-id="fetch"]').click(modifiers=["Shift"])
    page.keyboard.press("Control+c")
    expect(page.locator("#editor-status")).to_have_text("Copied 2 item(s) as JSON.")
    copied = json.loads(page.evaluate("window.copied"))
    assert [n["id"] for n in copied["nodes"]] == ["start", "fetch"]
    assert copied["edges"] == [{"source": "start", "target": "fetch"}]

    # another tab of the same browser: the real Ctrl+V, through the page's paste event
    other = page.context.new_page()
    other.goto(f"/workflows/{target.pk}/edit/")
    other.locator("#canvas").click(position={"x": 400, "y": 300})
    other.keyboard.press("Control+v")
    expect(other.locator(".graph-canvas .node")).to_have_count(3)
    expect(other.locator("#editor-status")).to_contain_text("Pasted 2 node(s)")
    # the id taken in this workflow is renamed, and the edge follows it
    expect(other.locator('.edge[data-source="start"][data-target="fetch_1"]')).to_have_count(1)
    other.get_by_role("button", name="Save").click()
    expect(other.locator("#editor-status")).to_have_text("Saved as version 2.")
    pasted = _node(_api_graph(owner, target), "fetch_1")
    assert pasted["type"] == "http.request"
    assert pasted["params"] == {"url": "https://example.com/x"}
    assert pasted["notes"] == "copied along"


def test_shift_click_and_box_selection_are_deleted_together(new_page, owner):
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "position": {"x": 40, "y": 40}},
            {"id": "a", "type": "flow.noop", "position": {"x": 310, "y": 40}},
            {"id": "b", "type": "flow.noop", "position": {"x": 310, "y": 160}},
            {"id": "c", "type": "flow.noop", "position": {"x": 580, "y": 40}},
            {"id": "d", "type": "flow.noop", "position": {"x": 580, "y": 160}},
        ],
        "edges": [
            {"source": "start", "target": "a"},
            {"source": "a", "target": "c"},
            {"source": "b", "target": "d"},
        ],
    }
    workflow = _workflow(owner, graph)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.locator('[data-node-id="a"]').click()
    page.locator('[data-node-id="b"]').click(modifiers=["Shift"])
    expect(page.locator("#selection-summary")).to_have_text("2 node(s) and 0 note(s) selected.")
    page.keyboard.press("Delete")
    expect(page.locator(".graph-canvas .node")).to_have_count(3)
    expect(page.locator(".graph-canvas .edge")).to_have_count(0)

    # shift-drag a box around c and d, from the empty canvas
    c = page.locator('[data-node-id="c"] .node-box').bounding_box()
    d = page.locator('[data-node-id="d"] .node-box').bounding_box()
    page.keyboard.down("Shift")
    page.mouse.move(c["x"] - 20, c["y"] - 20)
    page.mouse.down()
    page.mouse.move(d["x"] + d["width"] + 20, d["y"] + d["height"] + 20, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    expect(page.locator(".graph-canvas .node.selected")).to_have_count(2)
    page.keyboard.press("Backspace")
    expect(page.locator(".graph-canvas .node")).to_have_count(1)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_have_text("Saved as version 2.")
    assert [n["id"] for n in _api_graph(owner, workflow)["nodes"]] == ["start"]


def test_fit_to_view_brings_far_nodes_into_the_canvas_and_zoom_changes_the_scale(new_page, owner):
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "position": {"x": 40, "y": 40}},
            {"id": "far", "type": "flow.noop", "position": {"x": 3200, "y": 1400}},
        ],
        "edges": [{"source": "start", "target": "far"}],
    }
    workflow = _workflow(owner, graph)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    canvas = page.locator("#canvas")
    expect(page.locator('[data-node-id="far"]')).not_to_be_in_viewport()

    page.get_by_role("button", name="Fit to view").click()
    area = canvas.bounding_box()
    for node_id in ("start", "far"):
        box = page.locator(f'[data-node-id="{node_id}"] .node-box').bounding_box()
        assert area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"]
        assert area["y"] <= box["y"] and box["y"] + box["height"] <= area["y"] + area["height"]
    fitted = float(canvas.get_attribute("data-zoom"))
    assert fitted < 1
    page.get_by_role("button", name="Zoom in").click()
    assert float(canvas.get_attribute("data-zoom")) > fitted
    page.get_by_role("button", name="100 %").click()
    expect(canvas).to_have_attribute("data-zoom", "1")


def test_a_sticky_note_is_created_edited_coloured_resized_and_kept_after_reload(new_page, owner):
    workflow = _workflow(owner, CHAIN)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    page.get_by_role("button", name="Add note").click()
    note = page.locator(".sticky")
    expect(note).to_have_count(1)
    page.get_by_label("Text (Markdown)").fill(
        "## Orders\nTags **gold** customers, see [docs](https://example.com/d).\n"
        "<img src=x onerror=alert(1)>\n- one\n- two"
    )
    page.get_by_label("Colour").select_option("green")
    expect(note.locator("h4")).to_have_text("Orders")
    expect(note.locator("strong")).to_have_text("gold")
    expect(note.locator("li")).to_have_count(2)
    expect(note.locator("a")).to_have_attribute("href", "https://example.com/d")
    # HTML in a note is text, not markup
    expect(note.locator("img")).to_have_count(0)
    expect(note).to_contain_text("<img src=x onerror=alert(1)>")
    expect(note).to_have_class(re.compile(r"\bsticky-green\b"))

    _drag(page, note.locator(".sticky-resize"), 100, 60, dx0=7, dy0=7)
    expect(page.locator("#editor")).to_have_attribute("data-layout-state", "saved")
    workflow.refresh_from_db()
    [stored] = workflow.layout[NOTES_KEY]
    assert stored["color"] == "green"
    assert stored["text"].startswith("## Orders\nTags **gold**")
    assert (stored["width"], stored["height"]) == (340, 210)
    assert workflow.versions.count() == 1  # a note is not part of the graph

    page.reload()
    note = page.locator(".sticky")
    expect(note.locator("strong")).to_have_text("gold")
    expect(note.locator(".sticky-box")).to_have_attribute("width", "340")
    expect(note).to_have_class(re.compile(r"\bsticky-green\b"))


def test_after_a_run_each_edge_shows_how_many_items_crossed_it(new_page, owner, e2e_worker):
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "position": {"x": 40, "y": 40}},
            {
                "id": "check",
                "type": "flow.if",
                "params": {"condition": "{{ json.total > 100 }}"},
                "position": {"x": 310, "y": 40},
            },
            {"id": "big", "type": "flow.noop", "position": {"x": 580, "y": 40}},
            {"id": "small", "type": "flow.noop", "position": {"x": 580, "y": 160}},
        ],
        "edges": [
            {"source": "start", "target": "check"},
            {"source": "check", "target": "big", "output": "true"},
            {"source": "check", "target": "small", "output": "false"},
        ],
    }
    workflow = _workflow(owner, graph)
    page = new_page(owner)
    page.goto(f"/workflows/{workflow.pk}/edit/")
    expect(page.locator(".edge-count")).to_have_count(0)
    page.get_by_text("Execute…").click()
    page.get_by_label("Input JSON").fill('{"total": 250}')
    page.get_by_role("button", name="Run workflow").click()
    page.wait_for_url(re.compile(r"/executions/[0-9a-f-]+/$"))
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=20_000)

    page.goto(f"/workflows/{workflow.pk}/edit/")
    expect(page.locator('.edge[data-target="check"] .edge-count')).to_have_text("1 item")
    expect(page.locator('.edge[data-target="big"] .edge-count')).to_have_text("1 item")
    expect(page.locator('.edge[data-target="small"] .edge-count')).to_have_text("0 items")
    expect(page.locator("#run-counts-note")).to_contain_text("latest run (succeeded")
    assert Workflow.objects.get(pk=workflow.pk).executions.count() == 1
