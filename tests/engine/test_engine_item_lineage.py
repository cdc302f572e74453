"""``nodes.<id>.item``: the item of an earlier node the current item descends from, by the
lineage every node run records, through fan-out, filters, sorts, limits, merges and
aggregates; and the errors n8n gives where lineage is ambiguous or unknown."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from linkflow.engine import Graph, NodeOutcome, NullObserver, RunContext, run_graph, validate_graph
from linkflow.engine.items import from_meta

ORDERS = [
    {
        "id": "A",
        "lines": [{"sku": "a1", "qty": 5}, {"sku": "a2", "qty": 1}, {"sku": "a3", "qty": 3}],
    },
    {"id": "B", "lines": [{"sku": "b1", "qty": 4}, {"sku": "b2", "qty": 2}]},
]
PARENT = {"order": "{{ nodes.start.item.id }}"}


def build(items_trigger: str, *steps: dict[str, Any], edges: list | None = None) -> Graph:
    """The trigger "start" emitting ORDERS, then ``steps`` in a chain (unless ``edges``)."""
    nodes = [{"id": "start", "type": items_trigger, "params": {"items": ORDERS}}, *steps]
    if edges is None:
        ids = [node["id"] for node in nodes]
        edges = [{"source": a, "target": b} for a, b in itertools.pairwise(ids)]
    raw = {"nodes": nodes, "edges": edges}
    assert validate_graph(raw) == []
    return Graph.from_dict(raw)


def run(graph: Graph) -> Any:
    context = RunContext(execution={"id": "ex-1", "mode": "manual"}, trigger_input={})
    return run_graph(graph, context=context, observer=NullObserver())


def out(result: Any, node_id: str) -> list[dict[str, Any]]:
    assert result.status == "succeeded", result.error
    return result.outcomes[node_id].output["main"]


SPLIT = {"id": "split", "type": "data.split", "params": {"field": "lines"}}


def set_node(node_id: str = "tag", fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "data.set", "params": {"fields": fields or PARENT}}


def test_fan_out_then_filter_pairs_each_item_with_its_own_parent(items_trigger: str) -> None:
    keep = {"id": "keep", "type": "data.filter", "params": {"condition": "{{ json.sku != 'a1' }}"}}
    result = run(build(items_trigger, SPLIT, keep, set_node()))
    # By position, items 0 and 1 would pair with A and B, and items 2 and 3 with nothing.
    assert [(i["sku"], i["order"]) for i in out(result, "tag")] == [
        ("a2", "A"),
        ("a3", "A"),
        ("b1", "B"),
        ("b2", "B"),
    ]


def test_a_sort_reorders_and_each_item_still_pairs_with_its_source(items_trigger: str) -> None:
    sort = {"id": "sort", "type": "data.sort", "params": {"fields": [{"field": "qty"}]}}
    limit = {"id": "limit", "type": "data.limit", "params": {"max_items": 3}}
    result = run(build(items_trigger, SPLIT, sort, limit, set_node()))
    assert [(i["sku"], i["order"]) for i in out(result, "tag")] == [
        ("a2", "A"),
        ("b2", "B"),
        ("a3", "A"),
    ]


def test_two_steps_back_reads_the_intermediate_node_not_only_the_trigger(
    items_trigger: str,
) -> None:
    label = set_node("label", {"label": "{{ json.sku ~ '-x' }}"})
    again = {"id": "again", "type": "data.split", "params": {"field": "parts"}}
    parts = set_node("parts_of", {"parts": "{{ [1, 2] }}"})
    pick = set_node("pick", {"label_of": "{{ nodes.label.item.label }}", **PARENT})
    result = run(build(items_trigger, SPLIT, label, parts, again, pick))
    picked = [(i["label_of"], i["order"]) for i in out(result, "pick")]
    assert picked == [
        (label, order)
        for label, order in [
            ("a1-x", "A"),
            ("a2-x", "A"),
            ("a3-x", "A"),
            ("b1-x", "B"),
            ("b2-x", "B"),
        ]
        for _ in (1, 2)
    ]


def test_merge_by_position_pairs_back_through_either_branch(items_trigger: str) -> None:
    left = set_node("left", {"side": "left"})
    right = {"id": "right", "type": "data.set", "params": {"fields": {"r": "{{ json.id }}"}}}
    merge = {"id": "merge", "type": "flow.merge", "params": {"mode": "by_index"}}
    swap = {
        "id": "swap",
        "type": "data.sort",
        "params": {"fields": [{"field": "id", "order": "desc"}]},
    }
    tag = set_node("tag", {"via_left": "{{ nodes.left.item.id }}", "via_start": PARENT["order"]})
    edges = [
        {"source": "start", "target": "left"},
        {"source": "start", "target": "swap"},
        {"source": "swap", "target": "right"},
        {"source": "left", "target": "merge"},
        {"source": "right", "target": "merge"},
        {"source": "merge", "target": "tag"},
    ]
    result = run(build(items_trigger, left, swap, right, merge, tag, edges=edges))
    # Item 0 merges left's A with right's B (the right branch sorted them the other way):
    # read through the left branch alone it is A; from start, both branches lead back,
    # to different items.
    assert result.status == "failed"
    assert "Multiple matching items" in result.error["message"]
    assert result.error["node_id"] == "tag"


def test_merge_by_position_of_one_source_item_is_unambiguous(items_trigger: str) -> None:
    left = set_node("left", {"side": "left"})
    right = set_node("right", {"side": "right"})
    merge = {"id": "merge", "type": "flow.merge", "params": {"mode": "by_index"}}
    tag = set_node("tag", {"via_left": "{{ nodes.left.item.side }}", **PARENT})
    edges = [
        {"source": "start", "target": "left"},
        {"source": "start", "target": "right"},
        {"source": "left", "target": "merge"},
        {"source": "right", "target": "merge"},
        {"source": "merge", "target": "tag"},
    ]
    result = run(build(items_trigger, left, right, merge, tag, edges=edges))
    assert [(i["id"], i["order"], i["via_left"]) for i in out(result, "tag")] == [
        ("A", "A", "left"),
        ("B", "B", "left"),
    ]


def test_merge_by_key_pairs_each_match_with_both_of_its_items(items_trigger: str) -> None:
    lines = {"id": "lines", "type": "data.split", "params": {"field": "lines"}}
    stock = {
        "id": "stock",
        "type": "data.set",
        "params": {"fields": {"sku": "{{ json.lines[1].sku }}", "shelf": "{{ json.id }}"}},
    }
    merge = {"id": "merge", "type": "flow.merge", "params": {"mode": "by_key", "key": "sku"}}
    tag = set_node("tag", {"line_qty": "{{ nodes.lines.item.qty }}"})
    edges = [
        {"source": "start", "target": "lines"},
        {"source": "start", "target": "stock"},
        {"source": "lines", "target": "merge"},
        {"source": "stock", "target": "merge"},
        {"source": "merge", "target": "tag"},
    ]
    result = run(build(items_trigger, lines, stock, merge, tag, edges=edges))
    assert [(i["sku"], i["shelf"], i["line_qty"]) for i in out(result, "tag")] == [
        ("a2", "A", 1),
        ("b2", "B", 2),
    ]


def test_an_aggregate_of_one_parent_pairs_with_it_and_of_many_is_ambiguous(
    items_trigger: str,
) -> None:
    aggregate = {"id": "all", "type": "data.aggregate", "params": {"mode": "count"}}
    first_only = {"id": "first", "type": "data.limit", "params": {"max_items": 1}}
    one = run(build(items_trigger, first_only, SPLIT, aggregate, set_node()))
    assert [(i["count"], i["order"]) for i in out(one, "tag")] == [(3, "A")]

    many = run(build(items_trigger, SPLIT, aggregate, set_node()))
    assert many.status == "failed"
    assert "Multiple matching items" in many.error["message"]


def test_a_node_that_does_not_record_lineage_makes_the_lookup_fail_with_its_name(
    items_trigger: str,
) -> None:
    code = {
        "id": "code",
        "type": "code.python",
        "params": {"code": "return [{'lines': len(items)}, {'lines': 0}]"},
    }
    result = run(build(items_trigger, SPLIT, code, set_node()))
    assert result.status == "failed"
    assert "Paired item data from node 'code' is unavailable" in result.error["message"]


def test_a_code_node_keeping_the_number_of_items_pairs_by_position_as_n8n_does(
    items_trigger: str,
) -> None:
    code = {
        "id": "code",
        "type": "code.python",
        "params": {"code": "return [{'sku': i['sku'].upper()} for i in items]"},
    }
    result = run(build(items_trigger, SPLIT, code, set_node()))
    assert [i["order"] for i in out(result, "tag")] == ["A", "A", "A", "B", "B"]


def test_a_node_that_is_not_upstream_is_no_path_back(items_trigger: str) -> None:
    other = set_node("other", {"x": 1})
    tag = set_node("tag", {"o": "{{ nodes.other.item.x }}"})
    edges = [
        {"source": "start", "target": "other"},
        {"source": "start", "target": "tag"},
    ]
    result = run(build(items_trigger, other, tag, edges=edges))
    assert result.status == "failed"
    assert "No path back to node 'other'" in result.error["message"]


def test_a_filter_branch_pairs_through_the_discarded_port_too(items_trigger: str) -> None:
    small = {
        "id": "small",
        "type": "data.filter",
        "params": {"condition": "{{ json.qty > 2 }}"},
    }
    tag = set_node("tag")
    edges = [
        {"source": "start", "target": "split"},
        {"source": "split", "target": "small"},
        {"source": "small", "target": "tag", "output": "discarded"},
    ]
    result = run(build(items_trigger, SPLIT, small, tag, edges=edges))
    assert [(i["sku"], i["order"]) for i in out(result, "tag")] == [("a2", "A"), ("b2", "B")]


@pytest.mark.parametrize("syntax", ["{{ nodes.start.item.id }}", "{{ nodes['start'].item.id }}"])
def test_the_view_lists_items_and_json_and_reads_item_only_when_asked(
    items_trigger: str, syntax: str
) -> None:
    whole = set_node("tag", {"order": syntax, "keys": "{{ nodes.start | list }}"})
    result = run(build(items_trigger, SPLIT, whole))
    assert [i["order"] for i in out(result, "tag")] == ["A", "A", "A", "B", "B"]
    assert out(result, "tag")[0]["keys"] == ["items", "json"]


def test_a_code_node_returning_its_items_reordered_pairs_each_with_its_source(
    items_trigger: str,
) -> None:
    code = {
        "id": "code",
        "type": "code.python",
        "params": {"code": "return sorted(items, key=lambda i: -i['qty'])[:4] + items[1:2]"},
    }
    result = run(build(items_trigger, SPLIT, code, set_node()))
    # The code node's items are new objects: they pair with the input items equal to them.
    assert [(i["sku"], i["order"]) for i in out(result, "tag")] == [
        ("a1", "A"),
        ("b1", "B"),
        ("a3", "A"),
        ("b2", "B"),
        ("a2", "A"),
    ]


def test_inside_a_loop_each_batch_item_pairs_with_the_item_before_the_loop(
    items_trigger: str,
) -> None:
    loop = {"id": "loop", "type": "flow.batch", "params": {"batch_size": 2}}
    body = set_node("body", {"order": "{{ nodes.orders.item.id }}"})
    orders = {"id": "orders", "type": "data.set", "params": {"fields": {"seen": True}}}
    edges = [
        {"source": "start", "target": "split"},
        {"source": "split", "target": "orders"},
        {"source": "orders", "target": "loop"},
        {"source": "loop", "target": "body", "output": "loop"},
        {"source": "body", "target": "loop"},
    ]
    split_keeping_order = {
        "id": "split",
        "type": "data.split",
        "params": {"field": "lines", "keep_parent": True},
    }
    result = run(build(items_trigger, split_keeping_order, orders, loop, body, edges=edges))
    assert result.status == "succeeded", result.error
    done = result.outcomes["loop"].output["done"]
    assert [(i["lines"]["sku"], i["order"]) for i in done] == [
        ("a1", "A"),
        ("a2", "A"),
        ("a3", "A"),
        ("b1", "B"),
        ("b2", "B"),
    ]


def test_a_resumed_run_follows_the_lineage_stored_with_the_earlier_nodes(
    items_trigger: str,
) -> None:
    sort = {"id": "sort", "type": "data.sort", "params": {"fields": [{"field": "qty"}]}}
    graph = build(items_trigger, SPLIT, sort, set_node())
    first = run(graph)
    # What the host stores and gives back: JSON, so no item is the same object any more.
    completed = {
        node_id: NodeOutcome(
            outcome.status,
            json.loads(json.dumps(outcome.output)),
            items=from_meta(json.loads(json.dumps(outcome.items.as_meta())), outcome.output),
        )
        for node_id, outcome in first.outcomes.items()
        if node_id != "tag"
    }
    context = RunContext(execution={"id": "ex-1", "mode": "manual"}, trigger_input={})
    again = run_graph(graph, context=context, observer=NullObserver(), completed=completed)
    assert [(i["sku"], i["order"]) for i in out(again, "tag")] == [
        ("a2", "A"),
        ("b2", "B"),
        ("a3", "A"),
        ("b1", "B"),
        ("a1", "A"),
    ]
