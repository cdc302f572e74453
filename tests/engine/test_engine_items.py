"""Item semantics in the engine alone: per-item errors and lineage, retries that run only
what failed, checkpoints, disabled nodes, versions and flow.switch's ports (issue #12)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from linkflow.engine import (
    Graph,
    NodeContext,
    NodeError,
    NodeOutcome,
    NodeType,
    NullObserver,
    RunContext,
    run_graph,
    validate_graph,
)
from linkflow.engine import runner as runner_module
from linkflow.engine.items import from_meta
from linkflow.engine.registry import PER_ITEM, register, unregister
from linkflow.engine.versions import versions_pinned, versions_stamped

ITEMS = [{"n": 1}, {"n": 2, "bad": True}, {"n": 3}]


class Flaky(NodeType):
    """Per-item test node with outside effects: fails the items marked "bad" while
    ``failures`` is above 0 for them, and counts every call per item."""

    type = "test.flaky"
    label = "Flaky"
    description = "Fails marked items a few times."
    item_mode = PER_ITEM
    calls: ClassVar[list[int]] = []
    failures: ClassVar[int] = 0

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> list:
        Flaky.calls.append(index)
        if item.get("bad") and Flaky.failures > 0:
            Flaky.failures -= 1
            raise NodeError(f"item {item['n']} refused")
        return [{"done": item["n"]}]


@pytest.fixture
def flaky() -> Iterator[type[Flaky]]:
    Flaky.calls, Flaky.failures = [], 99
    register(Flaky.type, Flaky)
    yield Flaky
    unregister(Flaky.type)


def graph(items_trigger: str, node: dict[str, Any], *, items: list | None = None) -> Graph:
    raw = {
        "nodes": [
            {"id": "start", "type": items_trigger, "params": {"items": items or ITEMS}},
            {"id": "call", "version": 2, **node},
        ],
        "edges": [{"source": "start", "target": "call"}],
    }
    return Graph.from_dict(raw)


def run(g: Graph, **kwargs: Any) -> Any:
    context = RunContext(execution={"id": "ex-1", "mode": "manual"}, trigger_input={})
    return run_graph(g, context=context, observer=kwargs.pop("observer", NullObserver()), **kwargs)


# 1. errors are per item


def test_error_output_sends_only_the_failed_item_to_error_and_the_others_on_main(
    items_trigger: str, flaky: type[Flaky]
) -> None:
    result = run(graph(items_trigger, {"type": "test.flaky", "on_error": "error_output"}))

    call = result.outcomes["call"]
    assert result.status == "succeeded"
    assert call.output["main"] == [{"done": 1}, {"done": 3}]
    [failed] = call.output["error"]
    assert {k: v for k, v in failed.items() if k != "error"} == ITEMS[1]
    assert failed["error"]["message"] == "item 2 refused"
    assert failed["error"]["item"] == 1
    assert call.items.counts() == {"succeeded": 2, "failed": 1, "not_run": 0}
    assert call.items.lineage == {"main": [0, 2], "error": [1]}
    assert "done" not in ITEMS[0]  # lineage is kept beside the items, not inside them


def test_continue_keeps_every_result_and_puts_the_error_beside_the_failed_items_fields(
    items_trigger: str, flaky: type[Flaky]
) -> None:
    result = run(graph(items_trigger, {"type": "test.flaky", "on_error": "continue"}))

    main = result.outcomes["call"].output["main"]
    assert [item.get("done") for item in main] == [1, None, 3]
    assert main[1]["n"] == 2 and main[1]["error"]["item"] == 1
    assert result.outcomes["call"].items.lineage == {"main": [0, 1, 2]}


def test_fail_stops_at_the_first_failing_item_keeping_what_succeeded(
    items_trigger: str, flaky: type[Flaky]
) -> None:
    result = run(graph(items_trigger, {"type": "test.flaky"}))

    call = result.outcomes["call"]
    assert result.status == "failed"
    assert Flaky.calls == [0, 1]  # item 2 is not sent: the node fails anyway
    assert call.output == {"main": [{"done": 1}]}
    assert call.items.counts() == {"succeeded": 1, "failed": 1, "not_run": 1}


def test_version_1_keeps_the_whole_node_on_error(items_trigger: str, flaky: type[Flaky]) -> None:
    node = {"type": "test.flaky", "on_error": "continue", "version": 1}

    result = run(graph(items_trigger, node))

    [only] = result.outcomes["call"].output["main"]
    assert only == {"error": {"message": "item 2 refused", "node_id": "call", "item": 1}}


def test_a_batch_node_failing_gives_each_of_its_items_the_error(items_trigger: str) -> None:
    node = {"type": "code.python", "params": {"code": "return 1"}, "on_error": "error_output"}

    result = run(graph(items_trigger, node))

    carried = result.outcomes["call"].output["error"]
    assert [{k: v for k, v in item.items() if k != "error"} for item in carried] == ITEMS
    assert result.outcomes["call"].items.as_meta()["mode"] == "batch"


def test_routing_nodes_keep_lineage_per_port(items_trigger: str) -> None:
    node = {"type": "flow.if", "params": {"condition": "{{ json.n != 2 }}"}}

    result = run(graph(items_trigger, node))

    assert result.outcomes["call"].items.lineage == {"true": [0, 2], "false": [1]}


# 2. retries resend only what failed


def test_a_retry_runs_only_the_failed_items_and_merges_in_input_order(
    items_trigger: str, flaky: type[Flaky]
) -> None:
    Flaky.failures = 2
    node = {"type": "test.flaky", "retry": {"max_attempts": 3}}
    g = graph(items_trigger, node)

    first = run(g)
    assert first.status == "waiting"
    earlier = first.outcomes["call"]
    # What the host stores and reads back: the record as JSON beside the output.
    stored = NodeOutcome("failed", earlier.output, earlier.error)
    stored.items = from_meta(earlier.items.as_meta(), earlier.output)
    second = run(
        g, completed={"start": first.outcomes["start"], "call": stored}, attempts={"call": 1}
    )
    assert second.status == "waiting"
    stored = NodeOutcome("failed", second.outcomes["call"].output)
    stored.items = from_meta(second.outcomes["call"].items.as_meta(), stored.output)
    third = run(
        g, completed={"start": first.outcomes["start"], "call": stored}, attempts={"call": 2}
    )

    assert third.status == "succeeded"
    assert Flaky.calls == [0, 1, 1, 1, 2]  # items 0 and 2 once each, item 1 three times
    assert third.outcomes["call"].output == {"main": [{"done": 1}, {"done": 2}, {"done": 3}]}


def test_a_crash_resumes_after_the_checkpointed_items(
    items_trigger: str, flaky: type[Flaky]
) -> None:
    Flaky.failures = 0
    checkpoint = NodeOutcome("running", {"main": [{"done": 1}]})
    checkpoint.items = from_meta(
        {"mode": "per_item", "inputs": 3, "done": [0], "lineage": {"main": [0]}},
        checkpoint.output,
    )
    g = graph(items_trigger, {"type": "test.flaky"})
    start = NodeOutcome("succeeded", {"main": ITEMS})

    result = run(g, completed={"start": start, "call": checkpoint})

    assert Flaky.calls == [1, 2]
    assert result.outcomes["call"].output["main"] == [{"done": 1}, {"done": 2}, {"done": 3}]


class ProgressObserver(NullObserver):
    def __init__(self) -> None:
        self.checkpoints: list[list[int]] = []

    def node_progress(self, *, outcome: NodeOutcome, **_: Any) -> None:
        self.checkpoints.append(sorted(outcome.items.done))


def test_a_node_with_outside_effects_is_checkpointed_every_few_items(
    items_trigger: str, flaky: type[Flaky], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "CHECKPOINT_ITEMS", 2)
    monkeypatch.setattr(runner_module, "CHECKPOINT_SECONDS", 3600.0)
    items = [{"n": n} for n in range(5)]
    observer = ProgressObserver()

    run(graph(items_trigger, {"type": "test.flaky"}, items=items), observer=observer)

    # after items 0-1 and 2-3; the last item is recorded by node_finished itself
    assert observer.checkpoints == [[0, 1], [0, 1, 2, 3]]


def test_a_pure_node_is_never_checkpointed(items_trigger: str) -> None:
    observer = ProgressObserver()
    items = [{"n": n} for n in range(30)]

    run(graph(items_trigger, {"type": "flow.noop"}, items=items), observer=observer)

    assert observer.checkpoints == []


# 5. a disabled node passes its input on


def test_a_disabled_node_is_skipped_passing_its_items_to_its_first_port(
    items_trigger: str,
) -> None:
    g = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": items_trigger, "params": {"items": ITEMS}},
                {"id": "off", "type": "data.set", "disabled": True, "params": {"fields": {"x": 1}}},
                {"id": "after", "type": "data.set", "params": {"fields": {"seen": True}}},
            ],
            "edges": [
                {"source": "start", "target": "off"},
                {"source": "off", "target": "after"},
            ],
        }
    )

    result = run(g)

    assert result.outcomes["off"].status == "skipped"
    assert result.outcomes["off"].output == {"main": ITEMS}
    assert result.outcomes["off"].items.as_meta()["skipped"] == "disabled"
    assert result.outcomes["after"].output["main"] == [{**item, "seen": True} for item in ITEMS]


def test_a_run_whose_branch_did_nothing_has_no_last_items(items_trigger: str) -> None:
    g = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": items_trigger, "params": {"items": ITEMS}},
                {"id": "off", "type": "flow.noop", "disabled": True},
            ],
            "edges": [{"source": "start", "target": "off"}],
        }
    )

    assert run(g).last_items == []


# 3. expressions see nodes that did not run


def test_naming_a_node_that_did_not_run_says_so(items_trigger: str) -> None:
    g = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": items_trigger, "params": {"items": [{"n": 1}]}},
                {"id": "gate", "type": "flow.if", "params": {"condition": False}},
                {"id": "never", "type": "flow.noop"},
                {
                    "id": "use",
                    "type": "data.set",
                    "params": {"fields": {"v": "{{ nodes.never.json.n }}"}},
                },
            ],
            "edges": [
                {"source": "start", "target": "gate"},
                {"source": "gate", "target": "never", "output": "true"},
                {"source": "gate", "target": "use", "output": "false"},
            ],
        }
    )

    result = run(g)

    assert result.status == "failed"
    assert "node 'never' did not run" in result.error["message"]
    assert result.error["item"] == 0


def test_naming_a_node_that_is_not_in_the_workflow_says_so(items_trigger: str) -> None:
    node = {"type": "data.set", "params": {"fields": {"v": "{{ nodes.ghost.json }}"}}}

    result = run(graph(items_trigger, node))

    assert "there is no node 'ghost' in this workflow" in result.error["message"]


# 6. versions


def test_a_stored_node_without_a_version_is_version_1() -> None:
    g = Graph.from_dict({"nodes": [{"id": "a", "type": "trigger.manual"}]})

    assert g.node("a").version == 1


def test_a_new_graph_gets_the_current_versions_and_a_stored_node_keeps_its_own() -> None:
    stored = {"nodes": [{"id": "a", "type": "trigger.manual"}, {"id": "b", "type": "flow.noop"}]}
    saved = {
        "nodes": [
            {"id": "a", "type": "trigger.manual"},
            {"id": "b", "type": "flow.noop"},
            {"id": "c", "type": "flow.noop"},
            {"id": "d", "type": "flow.noop", "version": 1},
        ]
    }

    stamped = versions_stamped(saved, previous=stored)

    assert [node["version"] for node in stamped["nodes"]] == [1, 1, 2, 1]
    assert [node["version"] for node in versions_stamped(saved)["nodes"]] == [2, 2, 2, 1]
    assert [node["version"] for node in versions_pinned(stored)["nodes"]] == [1, 1]
    assert "version" not in saved["nodes"][0]  # a copy: the input is not changed


def test_a_version_the_type_does_not_have_is_refused() -> None:
    raw = {"nodes": [{"id": "a", "type": "trigger.manual", "version": 7}]}

    [problem] = validate_graph(raw)

    assert (problem.code, problem.node_id, problem.field) == (
        "node_version_unknown",
        "a",
        "version",
    )


# 12. flow.switch has the ports of its rules

RULES = [
    {"condition": "{{ json.n == 1 }}", "output": "one"},
    {"condition": "{{ json.n == 2 }}"},
]


def switch_raw(params: dict[str, Any], edges: list[dict[str, str]], version: int = 2) -> dict:
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "route", "type": "flow.switch", "version": version, "params": params},
            {"id": "a", "type": "flow.noop"},
        ],
        "edges": [{"source": "start", "target": "route"}, *edges],
    }


def test_switch_ports_are_named_by_the_rules_labels_else_their_index() -> None:
    raw = switch_raw(
        {"rules": RULES, "fallback": "fallback"},
        [{"source": "route", "target": "a", "output": "one"}],
    )
    assert validate_graph(raw) == []

    from linkflow.engine.nodes.flow import Switch

    assert Switch.ports(raw["nodes"][1]["params"], 2) == ("one", "1", "fallback")
    assert Switch.ports({"rules": RULES}, 2) == ("one", "1")
    assert len(Switch.ports({"rules": RULES}, 1)) == 11  # version 1: 0-9 and fallback


def test_switch_routes_to_its_rule_ports_and_stores_only_those(items_trigger: str) -> None:
    node = {"type": "flow.switch", "params": {"rules": RULES, "fallback": "fallback"}}

    result = run(graph(items_trigger, node))

    assert result.outcomes["call"].output == {
        "one": [ITEMS[0]],
        "1": [ITEMS[1]],
        "fallback": [ITEMS[2]],
    }


@pytest.mark.parametrize(
    ("params", "edge_port", "expected"),
    [
        ({"rules": RULES}, "0", [("edge_port_unknown", "edges[1].output")]),
        (
            {"rules": [{"condition": True, "output": "x"}, {"condition": True, "output": "x"}]},
            "x",
            [("node_params_invalid", "params.rules[1].output")],
        ),
        (
            {"rules": [{"condition": True, "output": "error"}]},
            "main",
            [
                ("node_params_invalid", "params.rules[0].output"),
                ("edge_port_unknown", "edges[1].output"),
            ],
        ),
        ({"rules": RULES, "fallback": "two"}, "one", [("node_params_invalid", "params.fallback")]),
    ],
)
def test_switch_refuses_unknown_ports_duplicate_or_reserved_labels_and_bad_fallbacks(
    params: dict[str, Any], edge_port: str, expected: list[tuple[str, str]]
) -> None:
    raw = switch_raw(params, [{"source": "route", "target": "a", "output": edge_port}])

    assert [(p.code, p.field) for p in validate_graph(raw)] == expected


def test_switch_version_1_keeps_its_numbered_ports() -> None:
    raw = switch_raw({"rules": RULES}, [{"source": "route", "target": "a", "output": "5"}], 1)

    assert validate_graph(raw) == []
