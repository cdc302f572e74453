"""workflow.execute hands items over as items (version 3): the called workflow's trigger
emits them one each, ``fields`` builds them, and callers are checked against the inputs a
workflow declares (issue #12, point 4). Engine only: no database."""

from __future__ import annotations

from typing import Any

import pytest

from linkflow.engine import NodeContext, NodeError, RunContext, validate_graph
from linkflow.engine.nodes.subworkflow import ExecuteWorkflow, caller_problems, declared_inputs
from linkflow.engine.nodes.trigger import ManualTrigger, WebhookTrigger
from linkflow.engine.registry import Items

ITEMS = [{"n": 1, "name": "ada"}, {"n": 2, "name": "bob"}]


class Host:
    """The host's SubworkflowRunner as a child that tags what its trigger received."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_on = fail_on

    def run(
        self, *, workflow_id: str, items: Items, wait: bool, key: str, as_items: bool = False
    ) -> Items:
        self.calls.append({"items": items, "key": key, "as_items": as_items})
        if self.fail_on is not None and items and items[0].get("n") == self.fail_on:
            raise NodeError(f"The sub-workflow failed: item {self.fail_on}")
        return [{**item, "child": True} for item in items]


def call(params: dict[str, Any], host: Host, *, version: int = 3) -> dict[str, Items]:
    run = RunContext(execution={"id": "e1", "mode": "manual"}, trigger_input={}, subworkflows=host)
    ctx = NodeContext(
        node_id="call", params=params, run=run, items=ITEMS, node_views={}, version=version
    )
    return ExecuteWorkflow().execute(ctx, ITEMS)


def trigger_output(trigger: Any, *, mode: str, trigger_input: dict[str, Any]) -> Items:
    run = RunContext(execution={"id": "c1", "mode": mode}, trigger_input=trigger_input)
    ctx = NodeContext(node_id="start", params={}, run=run, items=[], node_views={})
    return trigger.execute(ctx, [])["main"]


def test_version_3_hands_the_items_over_as_items_in_one_call() -> None:
    host = Host()

    output = call({"workflow": "wf"}, host)

    assert host.calls == [{"items": ITEMS, "key": "e1:call:1", "as_items": True}]
    assert output == {"main": [{**ITEMS[0], "child": True}, {**ITEMS[1], "child": True}]}


def test_an_older_node_keeps_handing_over_the_wrapped_items() -> None:
    host = Host()

    call({"workflow": "wf"}, host, version=2)

    assert host.calls[0]["as_items"] is False


def test_fields_build_each_handed_item_from_its_input_item() -> None:
    host = Host()

    call({"workflow": "wf", "fields": {"who": "{{ json.name }}", "fixed": 7}}, host)

    assert host.calls[0]["items"] == [{"who": "ada", "fixed": 7}, {"who": "bob", "fixed": 7}]


def test_per_item_calls_one_child_per_item_with_that_item_alone() -> None:
    host = Host()

    output = call({"workflow": "wf", "mode": "per_item"}, host)

    assert [c["items"] for c in host.calls] == [[ITEMS[0]], [ITEMS[1]]]
    assert [c["key"] for c in host.calls] == ["e1:call:1:0", "e1:call:1:1"]
    assert output["main"] == [{**ITEMS[0], "child": True}, {**ITEMS[1], "child": True}]


def test_fields_giving_no_object_fail_on_fields() -> None:
    with pytest.raises(NodeError) as raised:
        call({"workflow": "wf", "fields": "{{ json.n }}"}, Host())

    assert (raised.value.param, raised.value.message) == (
        "params.fields",
        "'fields' must give an object, got int.",
    )


@pytest.mark.parametrize("trigger", [ManualTrigger(), WebhookTrigger()])
def test_a_called_workflows_trigger_emits_the_handed_items_one_each(trigger: Any) -> None:
    handed = {"$items": ITEMS}

    assert trigger_output(trigger, mode="subworkflow", trigger_input=handed) == ITEMS


def test_the_items_key_means_nothing_outside_a_sub_workflow_run() -> None:
    # A manual run given {"$items": [...]} as its input gets that input, as one item.
    handed = {"$items": ITEMS}

    assert trigger_output(ManualTrigger(), mode="manual", trigger_input=handed) == [handed]


def test_a_version_2_callers_child_still_gets_one_wrapped_item() -> None:
    wrapped = {"items": ITEMS}

    assert trigger_output(ManualTrigger(), mode="subworkflow", trigger_input=wrapped) == [wrapped]


def graph_with(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": []}


def test_declared_inputs_are_read_from_the_manual_trigger() -> None:
    inputs = [{"name": "email", "type": "string", "required": True}, {"name": "age"}]
    graph = graph_with([{"id": "start", "type": "trigger.manual", "params": {"inputs": inputs}}])

    assert declared_inputs(graph) == inputs
    assert declared_inputs(graph_with([{"id": "start", "type": "trigger.manual"}])) is None


def test_a_caller_mapping_an_undeclared_field_or_missing_a_required_one_is_named() -> None:
    declared = [{"name": "email", "type": "string", "required": True}, {"name": "age"}]

    problems = caller_problems({"fields": {"age": 3, "nickname": "x"}}, declared)

    assert problems == [
        ("params.fields.nickname", "The called workflow declares no input 'nickname'."),
        ("params.fields.email", "The input 'email' is required."),
    ]


def test_a_literal_of_the_wrong_type_is_refused_an_expression_is_not() -> None:
    declared = [{"name": "age", "type": "number"}]

    assert caller_problems({"fields": {"age": "ten"}}, declared) == [
        ("params.fields.age", "The input 'age' is a number.")
    ]
    assert caller_problems({"fields": {"age": True}}, declared) != []
    assert caller_problems({"fields": {"age": "{{ json.n }}"}}, declared) == []
    assert caller_problems({}, declared) == []  # items as they are: nothing to check


def test_fields_on_a_version_2_node_and_a_twice_declared_input_are_refused() -> None:
    call_v2 = {
        "id": "call",
        "type": "workflow.execute",
        "version": 2,
        "params": {"workflow": "wf", "fields": {"a": 1}},
    }
    twice = {"inputs": [{"name": "a"}, {"name": "a"}]}
    graph = graph_with([{"id": "start", "type": "trigger.manual", "params": twice}, call_v2])
    graph["edges"] = [{"source": "start", "target": "call"}]

    fields = sorted((p.node_id, p.field) for p in validate_graph(graph))

    assert fields == [("call", "params.fields"), ("start", "params.inputs.1.name")]
