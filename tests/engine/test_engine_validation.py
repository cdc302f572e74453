"""validate_graph: every problem code, all problems at once, and no crash on garbage."""

from __future__ import annotations

from typing import Any

import pytest

from linkflow.engine import Problem, validate_graph


def order_graph() -> dict[str, Any]:
    """The DESIGN.md example with types that exist in v1."""
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "name": "Incoming order", "params": {}},
            {
                "id": "enrich",
                "type": "http.request",
                "params": {"method": "GET", "url": "https://api.example.com/u/{{ json.user_id }}"},
                "credential": "3f1c",
                "retry": {"max_attempts": 4, "backoff_seconds": 2},
                "timeout_seconds": 30,
                "on_error": "fail",
                "position": {"x": 10, "y": 20.5},
            },
            {"id": "big", "type": "flow.if", "params": {"condition": "{{ json.total > 100 }}"}},
            {"id": "tag", "type": "data.set", "params": {"fields": {"tier": "gold"}}},
        ],
        "edges": [
            {"source": "start", "target": "enrich"},
            {"source": "enrich", "target": "big"},
            {"source": "big", "target": "tag", "output": "true"},
        ],
    }


def codes(problems: list[Problem]) -> list[tuple[str, str | None, str | None]]:
    return [(problem.code, problem.node_id, problem.field) for problem in problems]


def test_valid_graph_has_no_problems() -> None:
    assert validate_graph(order_graph()) == []


def test_edges_are_optional() -> None:
    graph = {"nodes": [{"id": "start", "type": "trigger.manual"}]}

    assert validate_graph(graph) == []


def test_problem_as_dict_has_all_four_keys() -> None:
    problem = Problem("graph_cycle", "Nodes a, b form a cycle.", node_id="a", field="edges")

    assert problem.as_dict() == {
        "code": "graph_cycle",
        "message": "Nodes a, b form a cycle.",
        "node_id": "a",
        "field": "edges",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, [("graph_malformed", None, None)]),
        ([], [("graph_malformed", None, None)]),
        ("x", [("graph_malformed", None, None)]),
        ({}, [("graph_malformed", None, "nodes")]),
        ({"nodes": "x"}, [("graph_malformed", None, "nodes")]),
        ({"nodes": []}, [("graph_malformed", None, "nodes")]),
        (
            {"nodes": [5], "edges": 3},
            [
                ("graph_malformed", None, "edges"),
                ("graph_malformed", None, "nodes[0]"),
                ("trigger_missing", None, "nodes"),
            ],
        ),
        (
            {"nodes": [{"type": "trigger.manual"}]},
            [("graph_malformed", None, "nodes[0].id")],
        ),
        (
            {"nodes": [{"id": 7, "type": ["x"], "params": 5}]},
            [
                ("graph_malformed", None, "nodes[0].id"),
                ("graph_malformed", None, "nodes[0].type"),
                ("graph_malformed", None, "nodes[0].params"),
                ("trigger_missing", None, "nodes"),
            ],
        ),
        (
            {"nodes": [{"id": "a", "type": "trigger.manual"}], "edges": [None, {"source": 1}]},
            [
                ("graph_malformed", None, "edges[0]"),
                ("graph_malformed", None, "edges[1].source"),
                ("graph_malformed", None, "edges[1].target"),
            ],
        ),
    ],
)
def test_garbage_is_reported_as_malformed_without_raising(raw: object, expected: list) -> None:
    assert codes(validate_graph(raw)) == expected


def test_params_that_are_not_an_object_are_malformed() -> None:
    graph = order_graph()
    graph["nodes"][3]["params"] = 5

    assert validate_graph(graph) == [
        Problem("graph_malformed", "'params' must be a JSON object.", "tag", "params")
    ]


@pytest.mark.parametrize("node_id", ["", "has space", "dot.ted", "x" * 65])
def test_badly_formed_node_id_is_malformed(node_id: str) -> None:
    graph = {"nodes": [{"id": node_id, "type": "trigger.manual"}]}

    assert codes(validate_graph(graph)) == [("graph_malformed", None, "nodes[0].id")]


def test_unknown_node_key_is_reported_at_that_key() -> None:
    graph = order_graph()
    graph["nodes"][2]["colour"] = "red"

    assert validate_graph(graph) == [
        Problem("graph_malformed", "Unknown key 'colour'.", "big", "colour")
    ]


def test_bad_node_settings_are_reported_at_their_path() -> None:
    graph = order_graph()
    graph["nodes"][1]["retry"] = {"max_attempts": 0}
    graph["nodes"][1]["disabled"] = "yes"

    assert codes(validate_graph(graph)) == [
        ("graph_malformed", "enrich", "retry.max_attempts"),
        ("graph_malformed", "enrich", "disabled"),
    ]


def test_too_many_nodes_is_reported_once() -> None:
    nodes = [{"id": f"n{index}", "type": "flow.noop"} for index in range(501)]

    assert validate_graph({"nodes": nodes}) == [
        Problem("graph_malformed", "A graph has at most 500 nodes.", None, "nodes")
    ]


def test_duplicate_node_id_points_at_the_second_node() -> None:
    graph = order_graph()
    graph["nodes"].append({"id": "tag", "type": "flow.noop"})

    assert validate_graph(graph) == [
        Problem(
            "node_id_duplicate", "Node id 'tag' is already used by nodes[3].", "tag", "nodes[4].id"
        )
    ]


def test_unknown_node_type_is_reported_but_still_counts_as_trigger_by_family() -> None:
    graph = order_graph()
    graph["nodes"][0]["type"] = "trigger.pigeon"

    assert validate_graph(graph) == [
        Problem("node_type_unknown", "Unknown node type 'trigger.pigeon'.", "start", "type")
    ]


def test_missing_required_param_is_reported_at_the_param() -> None:
    graph = order_graph()
    del graph["nodes"][1]["params"]["url"]

    assert validate_graph(graph) == [
        Problem("node_params_invalid", "'url' is required.", "enrich", "params.url")
    ]


def test_out_of_range_param_reports_the_value_problem_not_the_expression_alternative() -> None:
    graph = order_graph()
    graph["nodes"][1]["params"]["timeout_seconds"] = 500

    assert validate_graph(graph) == [
        Problem(
            "node_params_invalid",
            "Invalid value at params.timeout_seconds: 500 is greater than the maximum of 300.0.",
            "enrich",
            "params.timeout_seconds",
        )
    ]


def test_unknown_param_is_reported_at_that_param() -> None:
    graph = order_graph()
    graph["nodes"][3]["params"]["colour"] = "red"

    assert codes(validate_graph(graph)) == [("node_params_invalid", "tag", "params.colour")]


def test_expression_syntax_error_is_a_params_problem_with_its_position() -> None:
    graph = order_graph()
    graph["nodes"][3]["params"]["fields"] = {"tier": "Tier: {{ json.total + }}"}

    assert validate_graph(graph) == [
        Problem(
            "node_params_invalid",
            "Syntax error in expression: unexpected 'end of template' (at character 6)",
            "tag",
            "params.fields.tier",
        )
    ]


def test_edge_to_unknown_node_is_reported_at_the_edge_end() -> None:
    graph = order_graph()
    graph["edges"][2]["target"] = "ghost"

    assert validate_graph(graph) == [
        Problem(
            "edge_node_unknown",
            "Edge target 'ghost' is not a node of this graph.",
            None,
            "edges[2].target",
        )
    ]


def test_edge_from_unknown_port_is_reported_with_the_source_node() -> None:
    graph = order_graph()
    graph["edges"][2]["output"] = "maybe"

    assert validate_graph(graph) == [
        Problem(
            "edge_port_unknown",
            "Node 'big' has no output 'maybe' (it has: true, false).",
            "big",
            "edges[2].output",
        )
    ]


def test_edge_without_output_uses_main_which_branching_nodes_lack() -> None:
    graph = order_graph()
    del graph["edges"][2]["output"]

    assert codes(validate_graph(graph)) == [("edge_port_unknown", "big", "edges[2].output")]


def test_cycle_is_reported_with_its_nodes() -> None:
    graph = order_graph()
    graph["edges"].append({"source": "tag", "target": "enrich"})

    assert validate_graph(graph) == [
        Problem("graph_cycle", "Nodes enrich, big, tag form a cycle.", "enrich", "edges")
    ]


def test_self_loop_is_a_cycle() -> None:
    graph = order_graph()
    graph["edges"].append({"source": "tag", "target": "tag"})

    assert codes(validate_graph(graph)) == [("graph_cycle", "tag", "edges")]


def test_graph_without_trigger_is_reported() -> None:
    graph = order_graph()
    del graph["nodes"][0]
    del graph["edges"][0]

    assert validate_graph(graph) == [
        Problem("trigger_missing", "A workflow needs at least one trigger node.", None, "nodes")
    ]


def test_edge_into_a_trigger_is_reported_on_the_trigger() -> None:
    graph = order_graph()
    graph["nodes"].append({"id": "loose", "type": "flow.noop"})
    graph["edges"].append({"source": "loose", "target": "start"})

    assert validate_graph(graph) == [
        Problem(
            "trigger_has_inputs",
            "Trigger 'start' cannot have incoming edges.",
            "start",
            "edges[3].target",
        )
    ]


def test_every_problem_in_one_graph_is_reported() -> None:
    graph = order_graph()
    graph["nodes"][0]["type"] = "flow.noop"
    graph["nodes"][1]["params"] = {"method": "FETCH"}
    graph["nodes"].append({"id": "big", "type": "flow.nope"})
    graph["edges"] += [
        {"source": "big", "target": "nowhere", "output": "true"},
        {"source": "tag", "target": "enrich", "extra": 1},
    ]

    assert codes(validate_graph(graph)) == [
        ("node_params_invalid", "enrich", "params.method"),
        ("node_params_invalid", "enrich", "params.url"),
        ("node_id_duplicate", "big", "nodes[4].id"),
        ("node_type_unknown", "big", "type"),
        ("edge_node_unknown", None, "edges[3].target"),
        ("graph_malformed", None, "edges[4].extra"),
        ("graph_cycle", "enrich", "edges"),
        ("trigger_missing", None, "nodes"),
    ]


def test_node_notes_are_a_setting_the_runner_ignores_and_must_be_text() -> None:
    graph = order_graph()
    graph["nodes"][1]["notes"] = "Calls the shop's user API; ask Ada before changing."
    assert validate_graph(graph) == []

    graph["nodes"][1]["notes"] = {"text": "not a string"}
    graph["nodes"][2]["notes"] = "x" * 10_001
    assert codes(validate_graph(graph)) == [
        ("graph_malformed", "enrich", "notes"),
        ("graph_malformed", "big", "notes"),
    ]


def test_the_settings_schema_lists_every_setting_the_runner_reads() -> None:
    from linkflow.engine import Node, node_settings_schema

    settings = set(node_settings_schema()["properties"])
    runner_reads = set(Node.__dataclass_fields__) - {"id", "type", "index", "name", "params"}
    # The credential has its own picker and the version is stamped on save, not edited.
    assert runner_reads - {"credential", "version"} <= settings
    assert settings == {"retry", "timeout_seconds", "on_error", "execute_once", "disabled", "notes"}
