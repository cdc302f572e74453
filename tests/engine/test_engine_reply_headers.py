"""webhook.respond's header allowlist: a literal header outside it is refused when the graph
is validated (save), one computed by an expression is dropped when the node runs, with a
note on the node's run. See linkflow/engine/reply_headers.py."""

from __future__ import annotations

from typing import Any

import pytest

from linkflow.engine import Graph, NullObserver, RunContext, run_graph, validate_graph

# Each sets state in the visitor's browser, sends it elsewhere, loosens the sandbox, or
# talks to the proxy in front of LinkFlow.
FORBIDDEN = [
    "Set-Cookie",
    "set-cookie",
    "Location",
    "Link",
    "Refresh",
    "Clear-Site-Data",
    "Content-Security-Policy",
    "Content-Security-Policy-Report-Only",
    "Strict-Transport-Security",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-Accel-Redirect",
    "X-Sendfile",
    "X-LinkFlow-Signature",
    "Service-Worker-Allowed",
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
    "X-",
    "Bad Name",
]
ALLOWED = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Disposition": 'attachment; filename="report.csv"',
    "Content-Language": "en",
    "Expires": "0",
    "ETag": '"abc"',
    "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT",
    "Retry-After": "30",
    "X-Order-Id": "42",
    "x-request-id": "r-1",
}


def respond_graph(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "params": {"mode": "sync"}},
            {"id": "answer", "type": "webhook.respond", "params": params},
        ],
        "edges": [{"source": "hook", "target": "answer"}],
    }


def problems_of(params: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(p.code, p.node_id, p.field) for p in validate_graph(respond_graph(params))]


def run(params: dict[str, Any]) -> tuple[Any, RunContext]:
    context = RunContext(execution={"id": "e1", "mode": "webhook"}, trigger_input={"body": {}})
    graph = Graph.from_dict(respond_graph(params))
    return run_graph(graph, context=context, observer=NullObserver()), context


@pytest.mark.parametrize("name", FORBIDDEN)
def test_a_literal_forbidden_header_is_refused_at_save_naming_node_and_field(name: str) -> None:
    assert problems_of({"headers": {name: "x"}}) == [
        ("node_params_invalid", "answer", f"params.headers.{name}")
    ]


def test_the_allowlisted_headers_pass_validation() -> None:
    assert problems_of({"headers": ALLOWED}) == []


def test_an_allowlisted_header_with_an_expression_value_passes_validation() -> None:
    assert problems_of({"headers": {"Content-Type": "{{ json.body.type }}"}}) == []


def test_a_literal_value_with_a_line_break_is_refused_at_save() -> None:
    assert problems_of({"headers": {"X-Note": "a\r\nSet-Cookie: s=1"}}) == [
        ("node_params_invalid", "answer", "params.headers.X-Note")
    ]


def test_forbidden_headers_an_expression_computes_are_dropped_with_a_note() -> None:
    computed = (
        "{{ {'Set-Cookie': 'planted=1', 'Location': 'https://evil.example', "
        "'Content-Type': 'text/html', 'X-Order-Id': '7'} }}"
    )

    result, context = run({"headers": computed, "body": "<p>hi</p>"})

    assert result.status == "succeeded"
    assert context.response is not None
    assert context.response["headers"] == {"Content-Type": "text/html", "X-Order-Id": "7"}
    note = result.outcomes["answer"].error
    assert note is not None and note["warning"] is True and note["node_id"] == "answer"
    assert "'Set-Cookie'" in note["message"] and "'Location'" in note["message"]


def test_a_computed_value_with_a_line_break_is_dropped_with_a_note() -> None:
    result, context = run({"headers": {"X-Note": "{{ 'a\\r\\nSet-Cookie: s=1' }}"}})

    assert result.status == "succeeded"
    assert context.response is not None and context.response["headers"] == {}
    note = result.outcomes["answer"].error
    assert note is not None and "line break" in note["message"]


def test_a_reply_with_allowed_headers_only_leaves_no_note() -> None:
    result, context = run({"headers": ALLOWED})

    assert context.response is not None and context.response["headers"] == ALLOWED
    assert result.outcomes["answer"].error is None
