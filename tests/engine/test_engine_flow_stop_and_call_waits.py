"""flow.stop, trigger.error and flow.wait's call and approval modes, in the engine alone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from linkflow.engine import Graph, NullObserver, RunContext, run_graph, validate_graph

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _graph(*middle: dict[str, Any], edges: list[dict[str, Any]] | None = None) -> Graph:
    nodes = [{"id": "start", "type": "trigger.manual"}, *middle]
    if edges is None:
        edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return Graph.from_dict({"nodes": nodes, "edges": edges})


def _run(graph: Graph, *, trigger: dict[str, Any] | None = None, **context: Any) -> Any:
    completed = context.pop("completed", None)
    ctx = RunContext(
        execution={"id": "e1", "mode": "manual"},
        trigger_input=trigger or {},
        clock=context.pop("clock", lambda: NOW),
        **context,
    )
    return run_graph(graph, context=ctx, observer=NullObserver(), completed=completed)


# flow.stop


def test_stop_fails_the_run_with_the_users_message_from_an_expression() -> None:
    graph = _graph(
        {"id": "stop", "type": "flow.stop", "params": {"message": "Order {{ json.id }} is bad"}},
    )
    result = _run(graph, trigger={"id": 7})
    assert result.status == "failed"
    assert result.error == {
        "message": "Order 7 is bad",
        "node_id": "stop",
        "param": "params.message",
        "code": "flow_stopped",
    }


def test_stop_on_a_branch_no_item_reaches_does_not_stop_the_run() -> None:
    nodes = [
        {"id": "check", "type": "flow.if", "params": {"condition": "{{ json.bad }}"}},
        {"id": "stop", "type": "flow.stop", "params": {"message": "bad"}},
        {"id": "ok", "type": "flow.noop"},
    ]
    edges = [
        {"source": "start", "target": "check"},
        {"source": "check", "target": "stop", "output": "true"},
        {"source": "check", "target": "ok", "output": "false"},
    ]
    result = _run(_graph(*nodes, edges=edges), trigger={"bad": False})
    assert result.status == "succeeded"
    assert result.outcomes["stop"].status == "skipped"


def test_stop_needs_a_message() -> None:
    graph = {
        "nodes": [{"id": "start", "type": "trigger.manual"}, {"id": "stop", "type": "flow.stop"}],
        "edges": [{"source": "start", "target": "stop"}],
    }
    assert [p.node_id for p in validate_graph(graph)] == ["stop"]


def test_error_trigger_emits_the_failure_it_was_handed() -> None:
    item = {"execution": "e0", "workflow": {"id": "w", "name": "n"}, "node": "a", "error": {}}
    graph = Graph.from_dict({"nodes": [{"id": "on_error", "type": "trigger.error"}], "edges": []})
    result = _run(graph, trigger=item)
    # A trigger is not a run's result (docs/nodes.md), so read the trigger's own output.
    assert result.outcomes["on_error"].output == {"main": [item]}


# flow.wait: call and approval


def _wait(mode: str, **params: Any) -> dict[str, Any]:
    return {"id": "hold", "type": "flow.wait", "params": {"mode": mode, **params}}


def _after_wait() -> list[dict[str, Any]]:
    return [
        {"id": "yes", "type": "flow.noop"},
        {"id": "no", "type": "flow.noop"},
        {"id": "late", "type": "flow.noop"},
    ]


def _wait_graph(mode: str, **params: Any) -> Graph:
    edges = [
        {"source": "start", "target": "hold"},
        {"source": "hold", "target": "yes"},
        {"source": "hold", "target": "no", "output": "rejected"},
        {"source": "hold", "target": "late", "output": "timeout"},
    ]
    return _graph(_wait(mode, **params), *_after_wait(), edges=edges)


def _parked(graph: Graph) -> Any:
    first = _run(graph, trigger={"order": 1})
    assert first.status == "waiting"
    return first


def test_call_wait_parks_until_its_expiry() -> None:
    first = _parked(_wait_graph("call", expires_after_seconds=600))
    assert first.resume_at == NOW + timedelta(seconds=600)


def test_call_wait_resumed_by_its_call_emits_the_body() -> None:
    graph = _wait_graph("call", expires_after_seconds=600)
    first = _parked(graph)
    call = {"node_id": "hold", "body": {"answer": 42}}
    later = lambda: NOW + timedelta(seconds=5)  # noqa: E731
    result = _run(
        graph, trigger={"order": 1}, completed=first.outcomes, resume_call=call, clock=later
    )
    assert result.status == "succeeded"
    assert result.outcomes["hold"].output["main"] == [{"answer": 42}]
    assert result.outcomes["late"].status == "skipped"


def test_call_wait_with_a_non_object_body_wraps_it() -> None:
    graph = _wait_graph("call")
    first = _parked(graph)
    call = {"node_id": "hold", "body": "plain text"}
    result = _run(graph, completed=first.outcomes, resume_call=call)
    assert result.outcomes["hold"].output["main"] == [{"body": "plain text"}]


def test_call_wait_with_no_call_by_its_expiry_leaves_by_timeout() -> None:
    graph = _wait_graph("call", expires_after_seconds=60)
    first = _parked(graph)
    expired = lambda: NOW + timedelta(seconds=61)  # noqa: E731
    result = _run(graph, trigger={"order": 1}, completed=first.outcomes, clock=expired)
    assert result.outcomes["hold"].output == {"timeout": [{"order": 1}]}
    assert result.outcomes["late"].status == "succeeded"
    assert result.outcomes["yes"].status == "skipped"


def test_call_meant_for_another_node_does_not_resume_this_one() -> None:
    graph = _wait_graph("call", expires_after_seconds=60)
    first = _parked(graph)
    call = {"node_id": "some_other_wait", "body": {"x": 1}}
    result = _run(graph, completed=first.outcomes, resume_call=call)
    assert result.status == "waiting"
    assert result.resume_at == NOW + timedelta(seconds=60)


def test_approval_routes_approve_to_main_and_reject_to_rejected() -> None:
    graph = _wait_graph("approval")
    first = _parked(graph)
    approved = _run(
        graph,
        trigger={"order": 1},
        completed=first.outcomes,
        resume_call={"node_id": "hold", "decision": "approve"},
    )
    rejected = _run(
        graph,
        trigger={"order": 1},
        completed=first.outcomes,
        resume_call={"node_id": "hold", "decision": "reject"},
    )
    assert approved.outcomes["hold"].output == {
        "main": [{"order": 1, "approval": {"decision": "approve"}}]
    }
    assert rejected.outcomes["hold"].output == {
        "rejected": [{"order": 1, "approval": {"decision": "reject"}}]
    }
    assert (approved.outcomes["no"].status, rejected.outcomes["yes"].status) == (
        "skipped",
        "skipped",
    )


def test_call_wait_refuses_seconds_and_a_time_wait_refuses_an_expiry() -> None:
    for params in ({"mode": "call", "seconds": 5}, {"seconds": 5, "expires_after_seconds": 9}):
        graph = {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "hold", "type": "flow.wait", "params": params},
            ],
            "edges": [{"source": "start", "target": "hold"}],
        }
        assert [p.node_id for p in validate_graph(graph)] == ["hold"], params
