"""An imported n8n workflow using ``$('Node').item`` runs to n8n's answer: each item reads
the item of that node it descends from (item lineage), not the one at its position."""

from typing import Any

from linkflow.engine import Graph, validate_graph
from linkflow.engine.context import RunContext
from linkflow.engine.observer import NullObserver
from linkflow.engine.runner import run_graph
from workflows.importers.n8n import convert

from .n8n_samples import chain, node, workflow

ORDERS = {
    "orders": [
        {"id": "A", "lines": [{"sku": "a1", "qty": 5}, {"sku": "a2", "qty": 1}]},
        {
            "id": "B",
            "lines": [{"sku": "b1", "qty": 4}, {"sku": "b2", "qty": 2}, {"sku": "b3", "qty": 3}],
        },
    ]
}


def _filter_qty_at_least(n: int) -> dict[str, Any]:
    condition = {
        "leftValue": "={{ $json.qty }}",
        "rightValue": n,
        "operator": {"type": "number", "operation": "gte"},
    }
    options = {"caseSensitive": True, "typeValidation": "strict"}
    return {"conditions": {"options": options, "conditions": [condition], "combinator": "and"}}


def _tag(**values: str) -> dict[str, Any]:
    assignments = [{"name": k, "value": v, "type": "string"} for k, v in values.items()]
    return {"assignments": {"assignments": assignments}, "includeOtherFields": True}


def _run(document: dict[str, Any], trigger_input: dict[str, Any]) -> Any:
    conversion = convert(document)
    assert validate_graph(conversion.graph) == []
    return run_graph(
        Graph.from_dict(conversion.graph),
        context=RunContext(execution={"id": "e"}, trigger_input=trigger_input),
        observer=NullObserver(),
    )


def test_paired_item_through_split_out_and_filter_gives_each_line_its_order():
    document = workflow(
        [
            node("Start", "manualTrigger", 1),
            node("Orders", "splitOut", 1, {"fieldToSplitOut": "orders"}),
            node("Lines", "splitOut", 1, {"fieldToSplitOut": "lines"}),
            node("Big", "filter", 2, _filter_qty_at_least(2)),
            node("Tag", "set", 3.4, _tag(order="={{ $('Orders').item.json.id }}")),
        ],
        chain("Start", "Orders", "Lines", "Big", "Tag"),
    )
    result = _run(document, ORDERS)
    assert result.status == "succeeded", result.error
    # Positional pairing would give a1 order A, b1 order B and fail on b2.
    assert [(i["sku"], i["order"]) for i in result.outcomes["Tag"].output["main"]] == [
        ("a1", "A"),
        ("b1", "B"),
        ("b2", "B"),
        ("b3", "B"),
    ]


def test_paired_item_back_through_an_aggregate_of_several_items_fails_as_in_n8n():
    document = workflow(
        [
            node("Start", "manualTrigger", 1),
            node("Orders", "splitOut", 1, {"fieldToSplitOut": "orders"}),
            node("All", "aggregate", 1, {"aggregate": "aggregateAllItemData"}),
            node("Tag", "set", 3.4, _tag(order="={{ $('Orders').item.json.id }}")),
        ],
        chain("Start", "Orders", "All", "Tag"),
    )
    result = _run(document, ORDERS)
    assert result.status == "failed"
    assert "Multiple matching items" in result.error["message"]
    assert result.error["node_id"] == "Tag"


def test_paired_item_after_an_imported_sort_reads_the_item_it_is():
    sort = {"sortFieldsUi": {"sortField": [{"fieldName": "qty", "order": "descending"}]}}
    document = workflow(
        [
            node("Start", "manualTrigger", 1),
            node("Orders", "splitOut", 1, {"fieldToSplitOut": "orders"}),
            node("Lines", "splitOut", 1, {"fieldToSplitOut": "lines"}),
            node("Sort", "sort", 1, sort),
            node("Tag", "set", 3.4, _tag(order="={{ $('Orders').item.json.id }}")),
        ],
        chain("Start", "Orders", "Lines", "Sort", "Tag"),
    )
    result = _run(document, ORDERS)
    assert result.status == "succeeded", result.error
    assert [(i["sku"], i["order"]) for i in result.outcomes["Tag"].output["main"]] == [
        ("a1", "A"),
        ("b1", "B"),
        ("b3", "B"),
        ("b2", "B"),
        ("a2", "A"),
    ]
