"""data.set (rename, remove), data.filter, data.split, data.aggregate: run on a hand-built
NodeContext, and their params checked through validate_graph."""

from __future__ import annotations

from typing import Any

import pytest

from linkflow.engine import NodeContext, NodeError, Problem, RunContext, validate_graph
from linkflow.engine.nodes.data import Aggregate, Filter, SetFields, Split
from linkflow.engine.registry import Items, NodeType


def run_node(node_type: type[NodeType], params: dict[str, Any], items: Items) -> dict[str, Items]:
    """Execute ``node_type`` directly on ``items``."""
    ctx = NodeContext(
        node_id="node",
        params=params,
        run=RunContext(execution={"id": "e1", "mode": "manual"}, trigger_input={}),
        items=items,
        node_views={},
    )
    return node_type().execute(ctx, items)


def problems_for(node_type: str, params: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """validate_graph of trigger -> node "node", as (code, node_id, field) triples."""
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "node", "type": node_type, "params": params},
        ],
        "edges": [{"source": "start", "target": "node"}],
    }
    return [(p.code, p.node_id, p.field) for p in validate_graph(graph)]


# data.set


def test_set_renames_and_removes_after_setting_fields() -> None:
    params = {
        "fields": {"full": "{{ json.first }} {{ json.last }}"},
        "rename": {"full": "name", "address.zip": "address.postcode"},
        "remove": ["first", "last", "address.country"],
    }
    item = {"first": "Ada", "last": "L", "address": {"zip": "N1", "country": "UK"}}

    output = run_node(SetFields, params, [item])

    assert output == {"main": [{"address": {"postcode": "N1"}, "name": "Ada L"}]}
    assert item == {"first": "Ada", "last": "L", "address": {"zip": "N1", "country": "UK"}}


def test_set_rename_of_a_missing_field_and_remove_of_a_missing_field_change_nothing() -> None:
    params = {"rename": {"ghost": "spirit", "a.b.c": "x"}, "remove": ["nothing", "a.b"]}

    output = run_node(SetFields, params, [{"a": 1, "keep": True}])

    assert output == {"main": [{"a": 1, "keep": True}]}


def test_set_with_keep_only_renames_among_the_set_fields_only() -> None:
    params = {"fields": {"id": "{{ json.id }}"}, "keep_only": True, "rename": {"id": "key"}}

    output = run_node(SetFields, params, [{"id": 7, "secret": "x"}])

    assert output == {"main": [{"key": 7}]}


def test_set_rename_overwrites_an_existing_target_field() -> None:
    output = run_node(SetFields, {"rename": {"new": "old"}}, [{"old": 1, "new": 2}])

    assert output == {"main": [{"old": 2}]}


def test_set_with_expression_in_a_rename_target_is_rejected_at_the_field() -> None:
    assert problems_for("data.set", {"rename": {"a": "{{ json.name }}"}}) == [
        ("node_params_invalid", "node", "params.rename.a")
    ]


def test_set_with_remove_that_is_not_a_list_is_rejected() -> None:
    assert problems_for("data.set", {"fields": {}, "remove": "old"}) == [
        ("node_params_invalid", "node", "params.remove")
    ]


# data.filter


def test_filter_keeps_matching_items_and_discards_the_rest_in_order() -> None:
    items = [{"n": 5}, {"n": 50}, {"n": 500}]

    output = run_node(Filter, {"condition": "{{ json.n > 10 }}"}, items)

    assert output == {"main": [{"n": 50}, {"n": 500}], "discarded": [{"n": 5}]}


def test_filter_keep_non_matching_swaps_the_ports() -> None:
    items = [{"n": 5}, {"n": 50}]

    output = run_node(Filter, {"condition": "{{ json.n > 10 }}", "keep": "non_matching"}, items)

    assert output == {"main": [{"n": 5}], "discarded": [{"n": 50}]}


def test_filter_without_condition_is_rejected_at_the_condition() -> None:
    assert problems_for("data.filter", {"keep": "matching"}) == [
        ("node_params_invalid", "node", "params.condition")
    ]


def test_filter_with_unknown_keep_is_rejected() -> None:
    assert problems_for("data.filter", {"condition": True, "keep": "some"}) == [
        ("node_params_invalid", "node", "params.keep")
    ]


def test_filter_condition_on_a_missing_field_is_falsy() -> None:
    output = run_node(Filter, {"condition": "{{ json.a.b }}"}, [{}])

    assert output == {"main": [], "discarded": [{}]}


def test_filter_condition_that_calls_a_missing_field_fails_naming_the_param() -> None:
    with pytest.raises(NodeError) as raised:
        run_node(Filter, {"condition": "{{ json.a.b() }}"}, [{}])

    assert (raised.value.node_id, raised.value.param) == ("node", "params.condition")


# data.split


def test_split_makes_object_elements_the_items_and_wraps_scalars() -> None:
    items = [{"order": {"lines": [{"sku": "a"}, 3]}}, {"order": {"lines": []}}]

    output = run_node(Split, {"field": "order.lines"}, items)

    assert output == {"main": [{"sku": "a"}, {"value": 3}]}


def test_split_with_keep_parent_and_index_replaces_the_field_by_each_element() -> None:
    items = [{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": ["z"]}]
    params = {"field": "tags", "keep_parent": True, "include_index": True}

    output = run_node(Split, params, items)

    assert output == {
        "main": [
            {"id": 1, "tags": "x", "index": 0},
            {"id": 1, "tags": "y", "index": 1},
            {"id": 2, "tags": "z", "index": 0},
        ]
    }
    assert items[0] == {"id": 1, "tags": ["x", "y"]}


def test_split_of_an_item_without_the_field_names_field_and_item() -> None:
    with pytest.raises(NodeError) as raised:
        run_node(Split, {"field": "tags"}, [{"tags": []}, {"other": 1}])

    assert raised.value.message == "Item 1 has no field 'tags' to split."
    assert raised.value.param == "params.field"


def test_split_of_a_field_that_is_not_a_list_says_what_it_is() -> None:
    with pytest.raises(NodeError) as raised:
        run_node(Split, {"field": "tags"}, [{"tags": "a,b"}])

    assert raised.value.message == "Field 'tags' of item 0 is a string, not a list."


def test_split_without_field_is_rejected_at_the_field() -> None:
    assert problems_for("data.split", {"keep_parent": True}) == [
        ("node_params_invalid", "node", "params.field")
    ]


# data.aggregate


def test_aggregate_list_mode_emits_one_item_holding_all_items() -> None:
    output = run_node(Aggregate, {}, [{"a": 1}, {"a": 2}])

    assert output == {"main": [{"items": [{"a": 1}, {"a": 2}]}]}


def test_aggregate_list_mode_uses_the_output_field() -> None:
    output = run_node(Aggregate, {"output_field": "rows"}, [{"a": 1}])

    assert output == {"main": [{"rows": [{"a": 1}]}]}


def test_aggregate_fields_mode_collects_each_field_skipping_items_without_it() -> None:
    items = [{"id": 1, "user": {"name": "a"}}, {"id": 2}, {"id": 3, "user": {"name": "c"}}]

    output = run_node(Aggregate, {"mode": "fields", "fields": ["id", "user.name"]}, items)

    assert output == {"main": [{"id": [1, 2, 3], "user": {"name": ["a", "c"]}}]}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("sum", {"sum": 7.5}), ("min", {"min": 1}), ("max", {"max": 4.5}), ("avg", {"avg": 2.5})],
)
def test_aggregate_statistics_skip_absent_and_null_values(mode: str, expected: dict) -> None:
    items = [{"n": 1}, {"n": 2}, {"n": None}, {}, {"n": 4.5}]

    output = run_node(Aggregate, {"mode": mode, "field": "n"}, items)

    assert output == {"main": [expected]}


def test_aggregate_sum_of_whole_numbers_stays_whole() -> None:
    output = run_node(Aggregate, {"mode": "sum", "field": "n"}, [{"n": 2}, {"n": 3}])

    assert output == {"main": [{"sum": 5}]}
    assert isinstance(output["main"][0]["sum"], int)


def test_aggregate_count_counts_items_or_present_values() -> None:
    items = [{"n": 0}, {"n": None}, {}]

    assert run_node(Aggregate, {"mode": "count"}, items) == {"main": [{"count": 3}]}
    assert run_node(Aggregate, {"mode": "count", "field": "n", "output_field": "c"}, items) == {
        "main": [{"c": 1}]
    }


def test_aggregate_statistic_without_values_is_null_and_sum_is_zero() -> None:
    assert run_node(Aggregate, {"mode": "avg", "field": "n"}, [{}]) == {"main": [{"avg": None}]}
    assert run_node(Aggregate, {"mode": "sum", "field": "n"}, [{}]) == {"main": [{"sum": 0}]}


def test_aggregate_over_a_non_number_names_the_item() -> None:
    with pytest.raises(NodeError) as raised:
        run_node(Aggregate, {"mode": "sum", "field": "n"}, [{"n": 1}, {"n": "2"}])

    assert raised.value.message == "Field 'n' of item 1 is a string, not a number."
    assert raised.value.param == "params.field"


def test_aggregate_sum_without_field_is_rejected_at_the_field() -> None:
    assert validate_graph(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "total", "type": "data.aggregate", "params": {"mode": "sum"}},
            ]
        }
    ) == [Problem("node_params_invalid", "'field' is required.", "total", "params.field")]


def test_aggregate_fields_mode_without_fields_is_rejected() -> None:
    assert problems_for("data.aggregate", {"mode": "fields"}) == [
        ("node_params_invalid", "node", "params.fields")
    ]
