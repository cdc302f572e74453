"""run_graph's failure handling: retries with back-off, suspension, on_error, deadlines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
    Suspend,
    run_graph,
    validate_graph,
)
from linkflow.engine.registry import register, unregister

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Failing(NodeType):
    type = "test.failing"
    label = "Failing"
    description = "Always fails."

    def execute(self, ctx: NodeContext, items: list[dict[str, Any]]) -> dict[str, Any]:
        raise NodeError(f"boom on attempt {ctx.attempt}")


class Pausing(NodeType):
    type = "test.pausing"
    label = "Pausing"
    description = "Suspends for a minute, then passes items through."

    def execute(self, ctx: NodeContext, items: list[dict[str, Any]]) -> dict[str, Any]:
        if ctx.suspended_until is None:
            raise Suspend(ctx.run.clock() + timedelta(minutes=1))
        return {"main": items}


class Inputs(NodeType):
    type = "test.inputs"
    label = "Inputs"
    description = "Reports how many items came by each edge."
    separate_inputs: ClassVar[bool] = True

    def execute(self, ctx: NodeContext, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"main": [{"per_edge": [len(i) for i in ctx.inputs]}]}


@pytest.fixture(autouse=True)
def _test_types() -> Iterator[None]:
    for cls in (Failing, Pausing, Inputs):
        register(cls.type, cls)
    yield
    for cls in (Failing, Pausing, Inputs):
        unregister(cls.type)


def chain(middle: dict[str, Any]) -> Graph:
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "mid", **middle},
            {"id": "after", "type": "flow.noop"},
        ],
        "edges": [{"source": "start", "target": "mid"}, {"source": "mid", "target": "after"}],
    }
    return Graph.from_dict(raw)


def context(**overrides: Any) -> RunContext:
    return RunContext(execution={"id": "e"}, trigger_input={"n": 1}, clock=lambda: NOW, **overrides)


def test_a_failure_with_retries_left_parks_the_run_with_a_back_off() -> None:
    graph = chain({"type": "test.failing", "retry": {"max_attempts": 3, "backoff_seconds": 10}})

    result = run_graph(graph, context=context(), observer=NullObserver())

    assert result.status == "waiting"
    assert result.outcomes["mid"].status == "failed"
    assert result.error["message"] == "boom on attempt 1"
    # 10 s for the first retry, +-20 % jitter
    assert NOW + timedelta(seconds=8) <= result.resume_at <= NOW + timedelta(seconds=12)


def test_the_back_off_doubles_with_each_attempt() -> None:
    graph = chain({"type": "test.failing", "retry": {"max_attempts": 5, "backoff_seconds": 10}})

    result = run_graph(graph, context=context(), observer=NullObserver(), attempts={"mid": 2})

    assert result.error["message"] == "boom on attempt 3"
    assert NOW + timedelta(seconds=32) <= result.resume_at <= NOW + timedelta(seconds=48)


def test_the_last_attempt_fails_the_run() -> None:
    graph = chain({"type": "test.failing", "retry": {"max_attempts": 3, "backoff_seconds": 10}})

    result = run_graph(graph, context=context(), observer=NullObserver(), attempts={"mid": 2})

    assert result.status == "failed"
    assert result.resume_at is None
    assert result.error["message"] == "boom on attempt 3"


def test_on_error_continue_emits_the_error_as_an_item_and_goes_on() -> None:
    graph = chain({"type": "test.failing", "on_error": "continue"})

    result = run_graph(graph, context=context(), observer=NullObserver())

    assert result.status == "succeeded"
    error = {"message": "boom on attempt 1", "node_id": "mid"}
    assert result.outcomes["mid"].output == {"main": [{"error": error}]}
    assert result.outcomes["mid"].error == error
    assert result.outcomes["after"].output == {"main": [{"error": error}]}


def test_on_error_output_routes_failed_items_to_the_error_port() -> None:
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "mid", "type": "test.failing", "on_error": "error_output"},
            {"id": "ok", "type": "flow.noop"},
            {"id": "handler", "type": "flow.noop"},
        ],
        "edges": [
            {"source": "start", "target": "mid"},
            {"source": "mid", "target": "ok"},
            {"source": "mid", "target": "handler", "output": "error"},
        ],
    }
    assert validate_graph(raw) == []

    result = run_graph(Graph.from_dict(raw), context=context(), observer=NullObserver())

    assert result.status == "succeeded"
    assert result.outcomes["ok"].status == "skipped"
    assert result.outcomes["handler"].output["main"][0]["n"] == 1
    assert result.outcomes["handler"].output["main"][0]["error"]["node_id"] == "mid"


def test_the_error_port_is_refused_unless_on_error_routes_there() -> None:
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "mid", "type": "test.failing"},
            {"id": "handler", "type": "flow.noop"},
        ],
        "edges": [
            {"source": "start", "target": "mid"},
            {"source": "mid", "target": "handler", "output": "error"},
        ],
    }

    assert [p.code for p in validate_graph(raw)] == ["edge_port_unknown"]


def test_a_suspending_node_parks_the_run_and_resumes_with_its_items() -> None:
    graph = chain({"type": "test.pausing"})

    first = run_graph(graph, context=context(), observer=NullObserver())
    resumed = run_graph(
        graph,
        context=context(),
        observer=NullObserver(),
        completed={"start": first.outcomes["start"], "mid": first.outcomes["mid"]},
    )

    assert first.status == "waiting"
    assert first.resume_at == NOW + timedelta(minutes=1)
    assert first.outcomes["mid"] == NodeOutcome("waiting", resume_at=NOW + timedelta(minutes=1))
    assert "after" not in first.outcomes
    assert resumed.status == "succeeded"
    assert resumed.outcomes["after"].output == {"main": [{"n": 1}]}


def test_a_run_past_its_deadline_fails_before_the_next_node() -> None:
    graph = chain({"type": "flow.noop"})

    result = run_graph(graph, context=context(deadline=NOW), observer=NullObserver())

    assert result.status == "failed"
    assert result.error["code"] == "execution_timeout"
    assert result.outcomes == {}


def test_a_node_sees_the_items_of_each_incoming_edge_apart() -> None:
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "a", "type": "flow.noop"},
            {"id": "b", "type": "flow.if", "params": {"condition": "{{ false }}"}},
            {"id": "join", "type": "test.inputs"},
        ],
        "edges": [
            {"source": "start", "target": "a"},
            {"source": "start", "target": "b"},
            {"source": "a", "target": "join"},
            {"source": "b", "target": "join", "output": "true"},
        ],
    }

    result = run_graph(Graph.from_dict(raw), context=context(), observer=NullObserver())

    assert result.outcomes["join"].output == {"main": [{"per_edge": [1, 0]}]}
