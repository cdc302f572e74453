"""run_graph: ordering, routing, skipping, resuming, failing, cancelling, disabled nodes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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
from linkflow.engine.registry import register, unregister

BIG = {"name": "big", "total": 150}
SMALL = {"name": "small", "total": 50}


def routing_raw(trigger_type: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """start -> mark -> check -> (true: gold, false: basic)."""
    return {
        "nodes": [
            {"id": "start", "type": trigger_type, "params": {"items": items}},
            {"id": "mark", "type": "data.set", "params": {"fields": {"seen": True}}},
            {"id": "check", "type": "flow.if", "params": {"condition": "{{ json.total > 100 }}"}},
            {"id": "gold", "type": "data.set", "params": {"fields": {"tier": "gold"}}},
            {"id": "basic", "type": "data.set", "params": {"fields": {"tier": "basic"}}},
        ],
        "edges": [
            {"source": "start", "target": "mark"},
            {"source": "mark", "target": "check"},
            {"source": "check", "target": "gold", "output": "true"},
            {"source": "check", "target": "basic", "output": "false"},
        ],
    }


def context(**overrides: Any) -> RunContext:
    return RunContext(execution={"id": "ex-1", "mode": "manual"}, trigger_input={}, **overrides)


def test_items_are_routed_to_their_branch(items_trigger: str, observer: Any) -> None:
    raw = routing_raw(items_trigger, [BIG, SMALL])
    assert validate_graph(raw) == []

    result = run_graph(Graph.from_dict(raw), context=context(), observer=observer)

    marked = [BIG | {"seen": True}, SMALL | {"seen": True}]
    assert result.status == "succeeded"
    assert result.error is None
    assert {node_id: o.status for node_id, o in result.outcomes.items()} == {
        "start": "succeeded",
        "mark": "succeeded",
        "check": "succeeded",
        "gold": "succeeded",
        "basic": "succeeded",
    }
    assert result.outcomes["check"].output == {"true": [marked[0]], "false": [marked[1]]}
    assert result.outcomes["gold"].output == {"main": [marked[0] | {"tier": "gold"}]}
    assert result.outcomes["basic"].output == {"main": [marked[1] | {"tier": "basic"}]}
    assert result.last_items == [marked[1] | {"tier": "basic"}]
    assert observer.events == [
        ("started", "start", items_trigger, 1, []),
        ("finished", "start", "succeeded"),
        ("started", "mark", "data.set", 1, [BIG, SMALL]),
        ("finished", "mark", "succeeded"),
        ("started", "check", "flow.if", 1, marked),
        ("finished", "check", "succeeded"),
        ("started", "gold", "data.set", 1, [marked[0]]),
        ("finished", "gold", "succeeded"),
        ("started", "basic", "data.set", 1, [marked[1]]),
        ("finished", "basic", "succeeded"),
    ]


def test_branch_that_receives_nothing_is_skipped_without_starting(
    items_trigger: str, observer: Any
) -> None:
    bigger = {"name": "bigger", "total": 900}
    raw = routing_raw(items_trigger, [BIG, bigger])

    result = run_graph(Graph.from_dict(raw), context=context(), observer=observer)

    marked = [BIG | {"seen": True}, bigger | {"seen": True}]
    assert result.status == "succeeded"
    assert result.outcomes["check"].output == {"true": marked, "false": []}
    assert result.outcomes["basic"] == NodeOutcome(status="skipped", output={}, error=None)
    assert observer.events[-4:] == [
        ("finished", "check", "succeeded"),
        ("started", "gold", "data.set", 1, marked),
        ("finished", "gold", "succeeded"),
        ("finished", "basic", "skipped"),
    ]
    assert result.last_items == [item | {"tier": "gold"} for item in marked]


def test_completed_nodes_are_not_rerun_and_feed_their_successors(
    items_trigger: str, observer: Any
) -> None:
    raw = routing_raw(items_trigger, [BIG])
    resumed = {"name": "from-before", "total": 500}
    completed = {
        "start": NodeOutcome(status="succeeded", output={"main": [BIG]}),
        "mark": NodeOutcome(status="succeeded", output={"main": [resumed]}),
    }

    result = run_graph(
        Graph.from_dict(raw), context=context(), observer=observer, completed=completed
    )

    assert result.status == "succeeded"
    assert result.outcomes["start"] is completed["start"]
    assert result.outcomes["mark"] is completed["mark"]
    assert result.outcomes["gold"].output == {"main": [resumed | {"tier": "gold"}]}
    assert [event[:3] for event in observer.events] == [
        ("started", "check", "flow.if"),
        ("finished", "check", "succeeded"),
        ("started", "gold", "data.set"),
        ("finished", "gold", "succeeded"),
        ("finished", "basic", "skipped"),
    ]


def test_failed_outcome_given_as_completed_runs_again(items_trigger: str, observer: Any) -> None:
    raw = routing_raw(items_trigger, [SMALL])
    completed = {
        "start": NodeOutcome(status="succeeded", output={"main": [SMALL]}),
        "mark": NodeOutcome(status="failed", output={}, error={"message": "x", "node_id": "mark"}),
    }

    result = run_graph(
        Graph.from_dict(raw), context=context(), observer=observer, completed=completed
    )

    assert result.outcomes["mark"].output == {"main": [SMALL | {"seen": True}]}
    assert observer.events[0][:2] == ("started", "mark")


def test_failing_node_stops_the_run_with_its_located_error(
    items_trigger: str, observer: Any
) -> None:
    raw = routing_raw(items_trigger, [BIG])
    raw["nodes"][1]["params"]["fields"] = {"oops": "total: {{ json.total.upper() }}"}

    result = run_graph(Graph.from_dict(raw), context=context(), observer=observer)

    error = {
        "message": "Node 'mark', parameter 'params.fields.oops', item 0: 'int object' has no "
        "attribute 'upper' (in {{ json.total.upper() }} at character 7)",
        "node_id": "mark",
        "param": "params.fields.oops",
        "position": 7,
        "item": 0,
        "expression": "json.total.upper()",
    }
    assert result.status == "failed"
    assert result.error == error
    assert result.outcomes == {
        "start": NodeOutcome(status="succeeded", output={"main": [BIG]}),
        "mark": NodeOutcome(status="failed", output={}, error=error),
    }
    assert result.last_items == []  # a trigger's items are not a result
    assert [event[:3] for event in observer.events] == [
        ("started", "start", items_trigger),
        ("finished", "start", "succeeded"),
        ("started", "mark", "data.set"),
        ("finished", "mark", "failed"),
    ]


class Exploding(NodeType):
    type = "test.explode"
    label = "Explode"
    description = "Raises a plain exception."

    def execute(self, ctx: NodeContext, items: list[dict[str, Any]]) -> dict[str, Any]:
        raise RuntimeError("boom")


class WrongPort(NodeType):
    type = "test.wrong_port"
    label = "Wrong port"
    description = "Emits on a port it does not declare."

    def execute(self, ctx: NodeContext, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"elsewhere": items}


@pytest.fixture
def misbehaving_types() -> Iterator[None]:
    register(Exploding.type, Exploding)
    register(WrongPort.type, WrongPort)
    yield
    unregister(Exploding.type)
    unregister(WrongPort.type)


@pytest.mark.parametrize(
    ("node_type", "message"),
    [
        ("test.explode", "RuntimeError: boom"),
        ("test.wrong_port", "TypeError: test.wrong_port emitted on unknown port 'elsewhere'"),
        ("nope.missing", "Unknown node type 'nope.missing'."),
    ],
)
@pytest.mark.usefixtures("misbehaving_types")
def test_any_exception_from_a_node_fails_the_run_instead_of_escaping(
    node_type: str, message: str, observer: Any
) -> None:
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "bad", "type": node_type},
                {"id": "after", "type": "flow.noop"},
            ],
            "edges": [
                {"source": "start", "target": "bad"},
                {"source": "bad", "target": "after"},
            ],
        }
    )

    result = run_graph(graph, context=context(), observer=observer)

    assert result.status == "failed"
    assert result.error == {"message": message, "node_id": "bad"}
    assert list(result.outcomes) == ["start", "bad"]


def test_should_stop_cancels_before_the_next_node(items_trigger: str, observer: Any) -> None:
    observer.stop_after = 2

    result = run_graph(
        Graph.from_dict(routing_raw(items_trigger, [BIG])), context=context(), observer=observer
    )

    assert result.status == "cancelled"
    assert result.error == {"message": "cancelled"}
    assert list(result.outcomes) == ["start", "mark"]
    assert result.last_items == [BIG | {"seen": True}]


def test_disabled_node_passes_its_input_through(items_trigger: str, observer: Any) -> None:
    raw = routing_raw(items_trigger, [BIG])
    raw["nodes"][1]["disabled"] = True

    result = run_graph(Graph.from_dict(raw), context=context(), observer=observer)

    assert result.outcomes["mark"] == NodeOutcome(status="skipped", output={"main": [BIG]})
    assert result.outcomes["mark"].items.as_meta()["skipped"] == "disabled"
    assert result.outcomes["gold"].output == {"main": [BIG | {"tier": "gold"}]}
    assert ("finished", "mark", "skipped") in observer.events
    assert not [event for event in observer.events if event[:2] == ("started", "mark")]


def test_disabled_branching_node_sends_everything_to_its_first_port(
    items_trigger: str, observer: Any
) -> None:
    raw = routing_raw(items_trigger, [SMALL])
    raw["nodes"][2]["disabled"] = True

    result = run_graph(Graph.from_dict(raw), context=context(), observer=observer)

    assert result.outcomes["check"].output == {"true": [SMALL | {"seen": True}]}
    assert result.outcomes["basic"].status == "skipped"


def test_expressions_see_trigger_execution_nodes_items_and_now(fixed_clock: Any) -> None:
    fields = {
        "who": "{{ nodes.start.json.name }}",
        "run": "{{ execution.id }}/{{ execution.mode }}",
        "via": "{{ trigger.kind }}",
        "count": "{{ items | length }}",
        "at": "{{ now }}",
        "city": "{{ json.address.city }}",
    }
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "set", "type": "data.set", "params": {"fields": fields, "keep_only": True}},
            ],
            "edges": [{"source": "start", "target": "set"}],
        }
    )
    run = context(clock=fixed_clock)
    run.trigger_input = {"name": "Ada", "kind": "form", "address": {"city": "Oslo"}}

    result = run_graph(graph, context=run, observer=NullObserver())

    assert result.last_items == [
        {
            "who": "Ada",
            "run": "ex-1/manual",
            "via": "form",
            "count": 1,
            "at": "2025-01-02T03:04:05+00:00",
            "city": "Oslo",
        }
    ]


def test_trigger_node_id_runs_only_that_trigger(observer: Any) -> None:
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "first", "type": "trigger.manual"},
                {"id": "second", "type": "trigger.manual"},
                {"id": "join", "type": "flow.noop"},
            ],
            "edges": [
                {"source": "first", "target": "join"},
                {"source": "second", "target": "join"},
            ],
        }
    )

    result = run_graph(graph, context=context(trigger_node_id="second"), observer=observer)

    assert result.outcomes["first"].status == "skipped"
    assert result.outcomes["join"].output == {"main": [{}]}


def test_node_without_incoming_edges_that_is_not_a_trigger_is_skipped(observer: Any) -> None:
    graph = Graph.from_dict(
        {"nodes": [{"id": "start", "type": "trigger.manual"}, {"id": "lost", "type": "flow.noop"}]}
    )

    result = run_graph(graph, context=context(), observer=observer)

    assert result.outcomes["lost"].status == "skipped"
    assert observer.events[-1] == ("finished", "lost", "skipped")


def test_unvalidated_cyclic_graph_fails_instead_of_raising(observer: Any) -> None:
    graph = Graph.from_dict(
        {
            "nodes": [{"id": "a", "type": "flow.noop"}, {"id": "b", "type": "flow.noop"}],
            "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}],
        }
    )

    result = run_graph(graph, context=context(), observer=observer)

    assert (result.status, result.error, observer.events) == (
        "failed",
        {"message": "the graph has a cycle", "node_id": None},
        [],
    )


def test_topological_order_breaks_ties_by_position_in_nodes() -> None:
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "late", "type": "flow.noop"},
                {"id": "start", "type": "trigger.manual"},
                {"id": "b", "type": "flow.noop"},
                {"id": "a", "type": "flow.noop"},
            ],
            "edges": [
                {"source": "a", "target": "late"},
                {"source": "start", "target": "a"},
                {"source": "start", "target": "b"},
            ],
        }
    )

    assert [node.id for node in graph.topological_order()] == ["start", "b", "a", "late"]
    assert [edge.source for edge in graph.incoming("late")] == ["a"]
    assert [edge.target for edge in graph.outgoing("start")] == ["a", "b"]


def test_node_context_gives_idempotency_key_and_missing_param_error() -> None:
    ctx = NodeContext(node_id="call", params={}, run=context(), items=[], node_views={})

    assert ctx.idempotency_key == "ex-1:call:1"
    assert ctx.param("absent", default=7) == 7
    with pytest.raises(NodeError) as caught:
        ctx.param("absent")
    assert caught.value.as_dict() == {
        "message": "Parameter 'absent' is missing.",
        "node_id": "call",
        "param": "params.absent",
    }


class BrokenObserver(NullObserver):
    def node_started(self, **kwargs: Any) -> None:
        raise ConnectionError("database gone")


def test_observer_exceptions_propagate_so_progress_is_never_silently_lost() -> None:
    graph = Graph.from_dict({"nodes": [{"id": "start", "type": "trigger.manual"}]})

    with pytest.raises(ConnectionError, match="database gone"):
        run_graph(graph, context=context(), observer=BrokenObserver())
