"""Differential cases for item lineage: ``$('Node').item`` where the item at the same
position is not the item the current one descends from (a fan-out, a filter, a sort, a
merge), and where n8n refuses (an aggregate of several items). corpus.py adds these to
its workflows and cases; the helpers are corpus.py's, imported when a workflow is built
(corpus.py imports this module while it loads)."""

import importlib
from typing import Any


def _corpus() -> Any:
    """corpus.py's helpers (node, webhook, wf, links ...)."""
    return importlib.import_module("corpus")


ORDERS = [
    {"id": "A", "lines": [{"sku": "a1", "qty": 5}, {"sku": "a2", "qty": 1}]},
    {
        "id": "B",
        "lines": [{"sku": "b1", "qty": 4}, {"sku": "b2", "qty": 2}, {"sku": "b3", "qty": 3}],
    },
    {"id": "C", "lines": []},
    {"id": "D", "lines": [{"sku": "d1", "qty": 2}]},
]


def tag(name, **values):
    """A Set node adding string fields to the item."""
    c = _corpus()
    assignments = [c.assignment(key, value) for key, value in values.items()]
    parameters = {"assignments": {"assignments": assignments}, "includeOtherFields": True}
    return c.node(name, "set", 3.4, {**parameters, "options": {}})


def split(name, field):
    c = _corpus()
    return c.node(name, "splitOut", 1, {"fieldToSplitOut": field, "options": {}})


def at_least(name, field, number):
    c = _corpus()
    check = c.condition("number", "gte", f"={{{{ $json.{field} }}}}", number)
    return c.node(name, "filter", 2, {"conditions": c.conditions(check), "options": {}})


def split_filter_workflow():
    """Orders fan out into lines, small lines are dropped: each line reads its order."""
    c = _corpus()
    order = "={{ $('Orders').item.json.id }}"
    return c.wf(
        "DiffLineage001",
        "diff lineage split",
        [
            c.webhook("diff-lineage-split"),
            split("Orders", "body.orders"),
            split("Lines", "lines"),
            at_least("Big", "qty", 2),
            tag("Tag", order=order, batch="={{ $('Webhook').item.json.body.batch }}"),
            c.respond_all(),
        ],
        c.links(
            ("Webhook", "Orders"),
            ("Orders", "Lines"),
            ("Lines", "Big"),
            ("Big", "Tag"),
            ("Tag", "Respond"),
        ),
    )


def sort_workflow():
    """A sort reorders the lines; each still reads the line it is."""
    c = _corpus()
    sort = c.node(
        "Sort",
        "sort",
        1,
        {"sortFieldsUi": {"sortField": [{"fieldName": "qty"}]}, "options": {}},
    )
    return c.wf(
        "DiffLineage002",
        "diff lineage sort",
        [
            c.webhook("diff-lineage-sort"),
            split("Lines", "body.lines"),
            sort,
            tag("Tag", was="={{ $('Lines').item.json.sku }}"),
            c.respond_all(),
        ],
        c.links(("Webhook", "Lines"), ("Lines", "Sort"), ("Sort", "Tag"), ("Tag", "Respond")),
    )


def merge_workflow():
    """Merged by position, then filtered: each pair reads back through both branches."""
    c = _corpus()
    merge = c.node(
        "Merge", "merge", 3, {"mode": "combine", "combineBy": "combineByPosition", "options": {}}
    )
    return c.wf(
        "DiffLineage003",
        "diff lineage merge",
        [
            c.webhook("diff-lineage-merge"),
            split("Left", "body.left"),
            split("Right", "body.right"),
            merge,
            at_least("Keep", "a", 2),
            tag(
                "Tag",
                left="={{ $('Left').item.json.a }}",
                right="={{ $('Right').item.json.b }}",
                call="={{ $('Webhook').item.json.body.call }}",
            ),
            c.respond_all(),
        ],
        c.links(
            ("Webhook", "Left"),
            ("Webhook", "Right"),
            ("Left", "Merge", 0, 0),
            ("Right", "Merge", 0, 1),
            ("Merge", "Keep"),
            ("Keep", "Tag"),
            ("Tag", "Respond"),
        ),
    )


def aggregate_workflow():
    """After an aggregate of several orders, which order is meant is ambiguous: n8n fails
    with "Multiple matching items", and so must LinkFlow (one order: no ambiguity)."""
    c = _corpus()
    aggregate = c.node("All", "aggregate", 1, {"aggregate": "aggregateAllItemData", "options": {}})
    return c.wf(
        "DiffLineage004",
        "diff lineage aggregate",
        [
            c.webhook("diff-lineage-aggregate"),
            split("Orders", "body.orders"),
            aggregate,
            tag("Tag", order="={{ $('Orders').item.json.id }}"),
            c.respond_all(),
        ],
        c.links(("Webhook", "Orders"), ("Orders", "All"), ("All", "Tag"), ("Tag", "Respond")),
    )


WORKFLOWS = {
    "lineage_split": split_filter_workflow,
    "lineage_sort": sort_workflow,
    "lineage_merge": merge_workflow,
    "lineage_aggregate": aggregate_workflow,
}


def cases():
    """workflow file -> list of (label, query, body)."""
    lines = [line for order in ORDERS for line in order["lines"]]
    pairs = {
        "left": [{"a": 1}, {"a": 2}, {"a": 3}],
        "right": [{"b": "x"}, {"b": "y"}, {"b": "z"}],
        "call": "c1",
    }
    return {
        "lineage_split": [
            ("orders", {}, {"orders": ORDERS, "batch": "b7"}),
            ("one order", {}, {"orders": ORDERS[1:2], "batch": "b8"}),
        ],
        "lineage_sort": [("lines", {}, {"lines": lines})],
        "lineage_merge": [("pairs", {}, pairs)],
        "lineage_aggregate": [
            ("several", {}, {"orders": ORDERS}),
            ("one", {}, {"orders": ORDERS[:1]}),
        ],
    }
