"""flow.batch loops and execute_once in the engine: batches, iterations, bounds, resume."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from linkflow.engine import Graph, NodeOutcome, RunContext, run_graph, validate_graph
from linkflow.engine.loops import iteration_key
from linkflow.engine.nodes.flow_batch import MAX_ITERATIONS


def context() -> RunContext:
    return RunContext(execution={"id": "ex-1", "mode": "manual"}, trigger_input={})


def loop_raw(trigger: str, items: list[dict[str, Any]], *, size: int = 2) -> dict[str, Any]:
    """start -> batch -(loop)-> double -> batch ; batch -(done)-> total."""
    return {
        "nodes": [
            {"id": "start", "type": trigger, "params": {"items": items}},
            {"id": "batch", "type": "flow.batch", "params": {"batch_size": size}},
            {
                "id": "double",
                "type": "data.set",
                "params": {
                    "fields": {"n2": "{{ json.n * 2 }}", "batch_len": "{{ items | length }}"}
                },
            },
            {"id": "total", "type": "data.aggregate", "params": {}},
        ],
        "edges": [
            {"source": "start", "target": "batch"},
            {"source": "batch", "target": "double", "output": "loop"},
            {"source": "double", "target": "batch"},
            {"source": "batch", "target": "total", "output": "done"},
        ],
    }


class IterationObserver:
    """Records (node, iteration, status) of every finished node and the loop checkpoints."""

    def __init__(self) -> None:
        self.finished: list[tuple[str, int, str]] = []
        self.progress: list[tuple[str, NodeOutcome]] = []

    def node_started(self, **kwargs: Any) -> None:
        pass

    def node_finished(
        self, *, node_id: str, outcome: NodeOutcome, iteration: int = 0, **kwargs: Any
    ) -> None:
        self.finished.append((node_id, iteration, outcome.status))

    def node_progress(self, *, node_id: str, outcome: NodeOutcome, **kwargs: Any) -> None:
        self.progress.append((node_id, outcome))

    def should_stop(self) -> bool:
        return False


def numbers(count: int) -> list[dict[str, Any]]:
    return [{"n": n} for n in range(count)]


def test_a_loop_runs_its_body_once_per_batch_and_emits_every_result_on_done(
    items_trigger: str,
) -> None:
    raw = loop_raw(items_trigger, numbers(5), size=2)
    assert validate_graph(raw) == []
    observer = IterationObserver()

    result = run_graph(Graph.from_dict(raw), context=context(), observer=observer)

    assert result.status == "succeeded"
    done = result.outcomes["batch"].output["done"]
    assert [item["n2"] for item in done] == [0, 2, 4, 6, 8]
    # each turn saw only its batch: 2, 2, then the last 1
    assert [item["batch_len"] for item in done] == [2, 2, 2, 2, 1]
    assert ("double", 1, "succeeded") in observer.finished
    assert [f for f in observer.finished if f[0] == "double"] == [
        ("double", 1, "succeeded"),
        ("double", 2, "succeeded"),
        ("double", 3, "succeeded"),
    ]
    # the loop node itself is recorded once, outside any iteration, after its body
    assert observer.finished[-2:] == [("batch", 0, "succeeded"), ("total", 0, "succeeded")]
    # a checkpoint after each batch but the last, with what came back so far
    assert [len(o.output["done"]) for _, o in observer.progress] == [2, 4]
    assert result.outcomes["total"].output["main"][0]["items"] == done


def test_a_loop_resumes_at_the_batch_after_its_last_checkpoint(items_trigger: str) -> None:
    raw = loop_raw(items_trigger, numbers(6), size=2)
    graph = Graph.from_dict(raw)
    first = IterationObserver()
    run_graph(graph, context=context(), observer=first)
    checkpoint = first.progress[1][1]  # after batch 2 of 3
    start = NodeOutcome("succeeded", {"main": numbers(6)})

    resumed = IterationObserver()
    result = run_graph(
        graph, context=context(), observer=resumed, completed={"start": start, "batch": checkpoint}
    )

    assert result.status == "succeeded"
    assert [f for f in resumed.finished if f[0] == "double"] == [("double", 3, "succeeded")]
    assert [item["n2"] for item in result.outcomes["batch"].output["done"]] == [
        0, 2, 4, 6, 8, 10,
    ]  # fmt: skip


def test_a_body_node_done_in_the_batch_that_crashed_is_not_run_again(items_trigger: str) -> None:
    raw = loop_raw(items_trigger, numbers(4), size=2)
    graph = Graph.from_dict(raw)
    start = NodeOutcome("succeeded", {"main": numbers(4)})
    # batch 1 checkpointed, and batch 2's "double" recorded before the crash (with a mark
    # a rerun would not produce)
    first = IterationObserver()
    run_graph(graph, context=context(), observer=first)
    stored = NodeOutcome(
        "succeeded", {"main": [{"n": 2, "stored": True}, {"n": 3, "stored": True}]}
    )
    completed = {"start": start, "batch": first.progress[0][1], iteration_key("double", 2): stored}

    resumed = IterationObserver()
    result = run_graph(graph, context=context(), observer=resumed, completed=completed)

    assert result.status == "succeeded"
    assert [f for f in resumed.finished if f[0] == "double"] == []
    done = result.outcomes["batch"].output["done"]
    assert [item.get("stored", False) for item in done] == [False, False, True, True]


def test_a_loop_over_its_iteration_bound_fails_before_any_batch_runs(items_trigger: str) -> None:
    raw = loop_raw(items_trigger, numbers(MAX_ITERATIONS + 1), size=1)
    observer = IterationObserver()

    result = run_graph(Graph.from_dict(raw), context=context(), observer=observer)

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "loop_iterations_exceeded"
    assert result.error["node_id"] == "batch"
    assert not [f for f in observer.finished if f[0] == "double"]


def test_a_failing_body_node_fails_the_run_in_its_batch(items_trigger: str) -> None:
    raw = loop_raw(items_trigger, [{"n": 1}, {"n": 2}, {"n": "x"}], size=2)
    raw["nodes"][2]["params"]["fields"]["n2"] = "{{ json.n - 1 }}"
    observer = IterationObserver()

    result = run_graph(Graph.from_dict(raw), context=context(), observer=observer)

    assert result.status == "failed"
    assert result.error is not None and result.error["node_id"] == "double"
    assert ("double", 1, "succeeded") in observer.finished
    assert ("double", 2, "failed") in observer.finished
    assert not any(f[0] in ("batch", "total") for f in observer.finished)


def test_a_loop_with_no_items_skips_its_body(items_trigger: str) -> None:
    raw = loop_raw(items_trigger, [], size=2)

    result = run_graph(Graph.from_dict(raw), context=context(), observer=IterationObserver())

    assert result.outcomes["batch"].status == "skipped"
    assert result.outcomes["double"].status == "skipped"


def test_validation_accepts_the_loop_back_edge_but_refuses_other_cycles(
    items_trigger: str,
) -> None:
    raw = loop_raw(items_trigger, numbers(2))
    raw["nodes"].append({"id": "other", "type": "flow.noop"})
    raw["edges"] += [
        {"source": "total", "target": "other"},
        {"source": "other", "target": "total"},
    ]

    problems = validate_graph(raw)

    assert [(p.code, p.node_id) for p in problems] == [("graph_cycle", "total")]


def test_validation_refuses_an_open_a_leaking_and_a_nested_loop(items_trigger: str) -> None:
    open_loop = loop_raw(items_trigger, numbers(2))
    open_loop["edges"] = [e for e in open_loop["edges"] if e["target"] != "batch"] + [
        {"source": "start", "target": "batch"}
    ]
    leak = loop_raw(items_trigger, numbers(2))
    leak["edges"].append({"source": "double", "target": "total"})
    nested = loop_raw(items_trigger, numbers(2))
    nested["nodes"].append({"id": "inner", "type": "flow.batch", "params": {}})
    nested["edges"] += [
        {"source": "double", "target": "inner"},
        {"source": "inner", "target": "batch", "output": "done"},
    ]

    assert [p.code for p in validate_graph(open_loop)] == ["graph_loop_open"]
    assert [(p.code, p.node_id) for p in validate_graph(leak)] == [("graph_loop_leak", "double")]
    codes = [p.code for p in validate_graph(nested)]
    assert "graph_loop_nested" in codes


def test_execute_once_runs_a_node_for_the_first_item_only(items_trigger: str) -> None:
    raw = {
        "nodes": [
            {"id": "start", "type": items_trigger, "params": {"items": numbers(3)}},
            {
                "id": "once",
                "type": "data.set",
                "params": {"fields": {"seen": "{{ items | length }}"}},
                "execute_once": True,
            },
            {
                "id": "each",
                "type": "data.set",
                "params": {"fields": {"seen": "{{ items | length }}"}},
            },
        ],
        "edges": [{"source": "start", "target": "once"}, {"source": "start", "target": "each"}],
    }
    assert validate_graph(raw) == []

    result = run_graph(Graph.from_dict(raw), context=context(), observer=IterationObserver())

    assert result.outcomes["once"].output["main"] == [{"n": 0, "seen": 1}]
    assert len(result.outcomes["each"].output["main"]) == 3


def test_execute_once_is_refused_when_not_a_boolean(items_trigger: str) -> None:
    raw = loop_raw(items_trigger, numbers(1))
    raw["nodes"][2]["execute_once"] = "yes"

    problems = validate_graph(raw)

    assert [(p.code, p.node_id) for p in problems] == [("graph_malformed", "double")]


_ = datetime  # annotations only


def test_a_disabled_execute_once_node_still_passes_every_item_on(items_trigger: str) -> None:
    raw = {
        "nodes": [
            {"id": "start", "type": items_trigger, "params": {"items": numbers(3)}},
            {"id": "off", "type": "flow.noop", "execute_once": True, "disabled": True},
        ],
        "edges": [{"source": "start", "target": "off"}],
    }

    result = run_graph(Graph.from_dict(raw), context=context(), observer=IterationObserver())

    assert result.outcomes["off"].output["main"] == numbers(3)
