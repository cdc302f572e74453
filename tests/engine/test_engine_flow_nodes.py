"""flow.switch, flow.merge and flow.wait, mostly on a hand-built NodeContext; merge once
through run_graph with two branches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linkflow.engine import (
    Graph,
    NodeContext,
    NodeError,
    NullObserver,
    Problem,
    RunContext,
    Suspend,
    run_graph,
    validate_graph,
)
from linkflow.engine.nodes.flow import Merge, Switch, Wait
from linkflow.engine.nodes.subworkflow import ExecuteWorkflow
from linkflow.engine.registry import Items, NodeType

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
EMPTY_SWITCH = {str(port): [] for port in range(10)} | {"fallback": []}


def node_context(
    params: dict[str, Any],
    items: Items,
    *,
    inputs: list[Items] | None = None,
    clock: Callable[[], datetime] = lambda: NOW,
    suspended_until: datetime | None = None,
) -> NodeContext:
    return NodeContext(
        node_id="node",
        params=params,
        run=RunContext(execution={"id": "e1", "mode": "manual"}, trigger_input={}, clock=clock),
        items=items,
        node_views={},
        inputs=inputs,
        suspended_until=suspended_until,
    )


def run_node(node_type: type[NodeType], params: dict[str, Any], items: Items) -> dict[str, Items]:
    return node_type().execute(node_context(params, items), items)


def merge(params: dict[str, Any], *inputs: Items) -> dict[str, Items]:
    items = [item for branch in inputs for item in branch]
    return Merge().execute(node_context(params, items, inputs=list(inputs)), items)


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


# flow.switch

RULES = [
    {"condition": "{{ json.total > 100 }}", "output": "big"},
    {"condition": "{{ json.total > 10 }}", "output": "medium"},
]


def test_switch_sends_each_item_to_its_first_matching_rule_and_has_every_port() -> None:
    items = [{"total": 500}, {"total": 50}]

    output = run_node(Switch, {"rules": RULES}, items)

    assert output == EMPTY_SWITCH | {"0": [{"total": 500}], "1": [{"total": 50}]}


def test_switch_drops_unmatched_items_without_fallback() -> None:
    output = run_node(Switch, {"rules": RULES, "fallback": None}, [{"total": 1}])

    assert output == EMPTY_SWITCH


def test_switch_sends_unmatched_items_to_the_fallback_port() -> None:
    output = run_node(Switch, {"rules": RULES, "fallback": "fallback"}, [{"total": 1}])

    assert output == EMPTY_SWITCH | {"fallback": [{"total": 1}]}


def test_switch_fallback_may_name_a_rule_port() -> None:
    output = run_node(Switch, {"rules": RULES, "fallback": "1"}, [{"total": 1}])

    assert output == EMPTY_SWITCH | {"1": [{"total": 1}]}


def test_switch_mode_all_sends_an_item_to_every_matching_rule() -> None:
    items = [{"total": 500}, {"total": 50}, {"total": 5}]
    params = {"rules": RULES, "mode": "all", "fallback": "fallback"}

    output = run_node(Switch, params, items)

    assert output == EMPTY_SWITCH | {
        "0": [{"total": 500}],
        "1": [{"total": 500}, {"total": 50}],
        "fallback": [{"total": 5}],
    }


def test_switch_with_more_than_ten_rules_is_rejected_at_the_rules() -> None:
    rules = [{"condition": True}] * 11

    assert problems_for("flow.switch", {"rules": rules}) == [
        ("node_params_invalid", "node", "params.rules")
    ]


def test_switch_rule_without_condition_is_rejected_at_that_rule() -> None:
    params = {"rules": [{"condition": True}, {"output": "x"}]}

    assert problems_for("flow.switch", params) == [
        ("node_params_invalid", "node", "params.rules[1].condition")
    ]


def test_switch_fallback_to_a_rule_it_does_not_have_is_rejected() -> None:
    assert validate_graph(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "route", "type": "flow.switch", "params": {"rules": RULES, "fallback": "5"}},
            ]
        }
    ) == [
        Problem(
            "node_params_invalid", "There is no rule 5 to fall back to.", "route", "params.fallback"
        )
    ]


def test_switch_edge_from_a_rule_port_is_valid_and_from_a_label_is_not() -> None:
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "route", "type": "flow.switch", "params": {"rules": RULES}},
            {"id": "a", "type": "flow.noop"},
        ],
        "edges": [
            {"source": "start", "target": "route"},
            {"source": "route", "target": "a", "output": "1"},
            {"source": "route", "target": "a", "output": "big"},
        ],
    }

    assert [(p.code, p.field) for p in validate_graph(graph)] == [
        ("edge_port_unknown", "edges[2].output")
    ]


# flow.merge

ORDERS = [{"id": 1, "total": 10}, {"id": 2, "total": 20}, {"id": 3, "total": 30}]
USERS = [{"id": 2, "name": "b"}, {"id": 1, "name": "a"}, {"id": 2, "name": "b2"}]


def test_merge_append_concatenates_inputs_in_edge_order() -> None:
    assert merge({}, [{"a": 1}], [], [{"b": 2}, {"c": 3}]) == {
        "main": [{"a": 1}, {"b": 2}, {"c": 3}]
    }


def test_merge_by_index_pairs_items_up_to_the_shorter_input() -> None:
    output = merge({"mode": "by_index"}, [{"a": 1, "x": 0}, {"a": 2}], [{"b": 1, "x": 9}])

    assert output == {"main": [{"a": 1, "x": 9, "b": 1}]}


def test_merge_by_index_keep_unpaired_adds_the_rest_of_the_longer_input() -> None:
    params = {"mode": "by_index", "keep_unpaired": True}

    output = merge(params, [{"a": 1}], [{"b": 1}, {"b": 2}, {"b": 3}])

    assert output == {"main": [{"a": 1, "b": 1}, {"b": 2}, {"b": 3}]}


def test_merge_by_key_inner_joins_every_match_in_first_input_order() -> None:
    output = merge({"mode": "by_key", "key": "id"}, ORDERS, USERS)

    assert output == {
        "main": [
            {"id": 1, "total": 10, "name": "a"},
            {"id": 2, "total": 20, "name": "b"},
            {"id": 2, "total": 20, "name": "b2"},
        ]
    }


def test_merge_by_key_left_join_keeps_first_input_items_without_match() -> None:
    output = merge({"mode": "by_key", "key": "id", "join": "left"}, ORDERS, USERS[:2])

    assert output == {
        "main": [
            {"id": 1, "total": 10, "name": "a"},
            {"id": 2, "total": 20, "name": "b"},
            {"id": 3, "total": 30},
        ]
    }


def test_merge_by_key_matches_dotted_keys_of_equal_value_not_of_equal_truth() -> None:
    first = [{"ref": {"n": 1}}, {"ref": {"n": True}}, {"ref": {}}]
    second = [{"ref": {"n": 1.0}, "hit": "one"}, {"ref": {}, "hit": "none"}]

    output = merge({"mode": "by_key", "key": "ref.n"}, first, second)

    assert output == {"main": [{"ref": {"n": 1.0}, "hit": "one"}]}


def test_merge_by_key_with_three_inputs_fails_on_the_mode() -> None:
    with pytest.raises(NodeError) as raised:
        merge({"mode": "by_key", "key": "id"}, [{"id": 1}], [{"id": 1}], [{"id": 1}])

    assert raised.value.message == "Mode 'by_key' needs exactly 2 inputs; this node has 3."
    assert raised.value.param == "params.mode"


def test_merge_by_key_without_key_is_rejected_at_the_key() -> None:
    assert problems_for("flow.merge", {"mode": "by_key"}) == [
        ("node_params_invalid", "node", "params.key")
    ]


def test_merge_by_index_joins_two_branches_through_the_runner(items_trigger: str) -> None:
    raw = {
        "nodes": [
            {"id": "start", "type": items_trigger, "params": {"items": [{"n": 1}, {"n": 2}]}},
            {"id": "left", "type": "data.set", "params": {"fields": {"l": "{{ json.n }}"}}},
            {"id": "right", "type": "data.set", "params": {"fields": {"r": "{{ json.n * 10 }}"}}},
            {"id": "join", "type": "flow.merge", "params": {"mode": "by_index"}},
        ],
        "edges": [
            {"source": "start", "target": "left"},
            {"source": "start", "target": "right"},
            {"source": "left", "target": "join"},
            {"source": "right", "target": "join"},
        ],
    }
    assert validate_graph(raw) == []
    context = RunContext(execution={"id": "e1", "mode": "manual"}, trigger_input={})

    result = run_graph(Graph.from_dict(raw), context=context, observer=NullObserver())

    assert result.outcomes["join"].output == {
        "main": [{"n": 1, "l": 1, "r": 10}, {"n": 2, "l": 2, "r": 20}]
    }


# flow.wait


def test_wait_seconds_suspends_until_now_plus_seconds() -> None:
    with pytest.raises(Suspend) as raised:
        run_node(Wait, {"seconds": 90}, [{"a": 1}])

    assert raised.value.resume_at == NOW + timedelta(seconds=90)


def test_wait_until_expression_suspends_until_that_moment_in_utc() -> None:
    with pytest.raises(Suspend) as raised:
        run_node(Wait, {"until": "{{ json.at }}"}, [{"at": "2025-01-02T10:00:00+02:00"}])

    assert raised.value.resume_at == datetime(2025, 1, 2, 8, 0, tzinfo=UTC)


def test_wait_resumed_at_its_time_passes_the_items_through() -> None:
    items = [{"a": 1}, {"a": 2}]
    ctx = node_context({"seconds": 90}, items, suspended_until=NOW)

    assert Wait().execute(ctx, items) == {"main": [{"a": 1}, {"a": 2}]}


def test_wait_resumed_too_early_suspends_again_until_the_same_moment() -> None:
    resume_at = NOW + timedelta(seconds=5)
    ctx = node_context({"seconds": 90}, [{}], suspended_until=resume_at)

    with pytest.raises(Suspend) as raised:
        Wait().execute(ctx, [{}])

    assert raised.value.resume_at == resume_at


def test_wait_until_in_the_past_passes_through_at_once() -> None:
    output = run_node(Wait, {"until": "2024-12-31T23:59:59Z"}, [{"a": 1}])

    assert output == {"main": [{"a": 1}]}


def test_wait_until_without_offset_from_an_expression_fails_on_until() -> None:
    with pytest.raises(NodeError) as raised:
        run_node(Wait, {"until": "{{ json.at }}"}, [{"at": "2025-06-01T09:00:00"}])

    assert raised.value.param == "params.until"
    assert raised.value.message == (
        "'until' must be an ISO-8601 date and time with a UTC offset, got '2025-06-01T09:00:00'."
    )


def test_wait_seconds_from_an_expression_out_of_range_fails_on_seconds() -> None:
    with pytest.raises(NodeError) as raised:
        run_node(Wait, {"seconds": "{{ json.delay }}"}, [{"delay": -3}])

    assert raised.value.param == "params.seconds"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "params"),
        ({"seconds": 5, "until": "2025-06-01T09:00:00Z"}, "params"),
        ({"seconds": 0}, "params.seconds"),
        ({"seconds": 31 * 24 * 3600}, "params.seconds"),
        ({"until": "next tuesday"}, "params.until"),
        ({"until": "2025-06-01T09:00:00"}, "params.until"),
    ],
)
def test_wait_with_bad_params_is_rejected(params: dict[str, Any], field: str) -> None:
    assert problems_for("flow.wait", params) == [("node_params_invalid", "node", field)]


def test_wait_with_plain_until_and_offset_is_valid() -> None:
    assert problems_for("flow.wait", {"until": "2025-06-01T09:00:00+02:00"}) == []


def test_wait_parks_the_run_and_a_resumed_run_goes_on_after_it() -> None:
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "pause", "type": "flow.wait", "params": {"seconds": 60}},
            {"id": "after", "type": "flow.noop"},
        ],
        "edges": [{"source": "start", "target": "pause"}, {"source": "pause", "target": "after"}],
    }
    graph = Graph.from_dict(raw)
    later = NOW + timedelta(seconds=60)

    def context(now: datetime) -> RunContext:
        return RunContext(
            execution={"id": "e1", "mode": "manual"}, trigger_input={"a": 1}, clock=lambda: now
        )

    parked = run_graph(graph, context=context(NOW), observer=NullObserver())
    resumed = run_graph(
        graph, context=context(later), observer=NullObserver(), completed=parked.outcomes
    )

    assert (parked.status, parked.resume_at) == ("waiting", later)
    assert "after" not in parked.outcomes
    assert resumed.status == "succeeded"
    assert resumed.outcomes["after"].output == {"main": [{"a": 1}]}


# workflow.execute


class FakeSubworkflows:
    """Stands in for the host's SubworkflowRunner: records calls, answers like a child run
    that appends a "done" flag to each item."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def run(
        self, *, workflow_id: str, items: Items, wait: bool, key: str, as_items: bool = False
    ) -> Items:
        self.calls.append({"workflow_id": workflow_id, "items": items, "wait": wait, "key": key})
        if not wait:
            return [{"execution_id": "child-1"}]
        return [item | {"done": True} for item in items]


def execute_workflow(params: dict[str, Any], items: Items, subworkflows: Any) -> dict[str, Items]:
    run = RunContext(
        execution={"id": "e1", "mode": "manual"}, trigger_input={}, subworkflows=subworkflows
    )
    ctx = NodeContext(node_id="call", params=params, run=run, items=items, node_views={})
    return ExecuteWorkflow().execute(ctx, items)


def test_execute_workflow_runs_the_child_with_all_items_and_emits_its_result() -> None:
    host = FakeSubworkflows()
    items = [{"child": "wf-9", "n": 1}, {"child": "other", "n": 2}]

    output = execute_workflow({"workflow": "{{ json.child }}"}, items, host)

    assert output == {"main": [items[0] | {"done": True}, items[1] | {"done": True}]}
    assert host.calls == [{"workflow_id": "wf-9", "items": items, "wait": True, "key": "e1:call:1"}]


def test_execute_workflow_without_wait_emits_the_child_execution_id() -> None:
    host = FakeSubworkflows()

    output = execute_workflow({"workflow": "wf-9", "wait": False}, [{"n": 1}], host)

    assert output == {"main": [{"execution_id": "child-1"}]}
    assert host.calls[0]["wait"] is False


def test_execute_workflow_without_host_support_fails_clearly() -> None:
    with pytest.raises(NodeError) as raised:
        execute_workflow({"workflow": "wf-9"}, [{"n": 1}], None)

    assert raised.value.message == "Sub-workflows are not available here."


def test_execute_workflow_with_an_id_expression_giving_no_string_fails_on_workflow() -> None:
    with pytest.raises(NodeError) as raised:
        execute_workflow({"workflow": "{{ json.n }}"}, [{"n": 1}], FakeSubworkflows())

    assert (raised.value.message, raised.value.param) == (
        "'workflow' must be a workflow id, got 1.",
        "params.workflow",
    )


def test_execute_workflow_without_workflow_is_rejected_at_the_workflow() -> None:
    assert problems_for("workflow.execute", {"wait": True}) == [
        ("node_params_invalid", "node", "params.workflow")
    ]


def test_execute_workflow_is_the_only_impure_node_of_this_set() -> None:
    impure = [cls.type for cls in (Switch, Merge, Wait, ExecuteWorkflow) if not cls.pure]

    assert impure == ["workflow.execute"]
