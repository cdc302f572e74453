"""A node's ``timeout_seconds`` holds for pure nodes too (checked between items and after).

The clock is the RunContext's: here one that moves a second each time it is read, so
Python work between items "takes" time without any real waiting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from linkflow.engine import Graph, NodeContext, NodeType, NullObserver, RunContext, run_graph
from linkflow.engine.registry import register, unregister

START = datetime(2026, 1, 1, tzinfo=UTC)


def ticking_clock() -> Callable[[], datetime]:
    """Every read is one second after the previous one."""
    ticks = itertools.count()
    return lambda: START + timedelta(seconds=next(ticks))


def run(nodes: list[dict[str, Any]], rows: int) -> Any:
    chain = [{"id": "start", "type": "trigger.manual"}, *nodes]
    graph = Graph.from_dict(
        {
            "nodes": chain,
            "edges": [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(chain)],
        }
    )
    context = RunContext(
        execution={"id": "e", "mode": "manual"},
        trigger_input={"rows": [{"n": n, "parts": [n, -n]} for n in range(rows)]},
        clock=ticking_clock(),
    )
    return run_graph(graph, context=context, observer=NullObserver())


SPLIT = {"id": "split", "type": "data.split", "params": {"field": "rows"}}


def test_a_pure_per_item_node_stops_between_items_past_its_timeout():
    set_node = {
        "id": "set",
        "type": "data.set",
        "timeout_seconds": 5,
        "params": {"fields": {"double": "{{ json.n * 2 }}"}},
    }

    result = run([SPLIT, set_node], rows=50)

    assert result.status == "failed"
    assert result.error["node_id"] == "set"
    assert "ran past its timeout of 5 s" in result.error["message"]
    assert "(at item " in result.error["message"]


def test_a_pure_node_without_expressions_checks_its_timeout_inside_its_loop():
    parts = {
        "id": "parts",
        "type": "data.split",
        "params": {"field": "parts"},
        "timeout_seconds": 3,
    }

    result = run([SPLIT, parts], rows=50)

    assert result.status == "failed"
    assert result.error["node_id"] == "parts"
    assert "ran past its timeout of 3 s (at item " in result.error["message"]


class _SlowInC(NodeType):
    """Stands for a pure node busy in C: it returns, but after its timeout."""

    type = "test.slow_in_c"
    label = "Slow"
    description = "Returns late."
    pure = True
    params_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    def execute(self, ctx: NodeContext, items: list[dict[str, Any]]) -> dict[str, Any]:
        for _ in range(10):  # no check in between, as C code would not check
            ctx.run.clock()
        return {"main": items}


@pytest.fixture
def slow_in_c() -> Iterator[None]:
    register(_SlowInC.type, _SlowInC)
    yield
    unregister(_SlowInC.type)


def test_a_pure_node_that_returns_after_its_timeout_fails_as_timed_out(slow_in_c):
    result = run([{"id": "slow", "type": "test.slow_in_c", "timeout_seconds": 4}], rows=1)

    assert result.status == "failed"
    assert result.error["node_id"] == "slow"
    assert "ran past its timeout of 4 s" in result.error["message"]
    assert "slow" not in {k for k, o in result.outcomes.items() if o.status == "succeeded"}


def test_without_a_timeout_the_same_work_succeeds(slow_in_c):
    set_node = {"id": "set", "type": "data.set", "params": {"fields": {"d": "{{ json.n * 2 }}"}}}

    result = run([SPLIT, set_node, {"id": "slow", "type": "test.slow_in_c"}], rows=50)

    assert result.status == "succeeded"
    assert len(result.last_items) == 50
