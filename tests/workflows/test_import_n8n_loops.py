"""The n8n importer: Loop Over Items (splitInBatches v3) and HTTP Request pagination."""

from typing import Any

from linkflow.engine import Graph, validate_graph
from linkflow.engine.context import RunContext
from linkflow.engine.observer import NullObserver
from linkflow.engine.runner import run_graph
from workflows.importers.n8n import convert

from .n8n_samples import node, workflow

MANUAL = node("Start", "manualTrigger", 1)


def link(source: str, target: str, index: int = 0) -> list[list[dict[str, Any]]]:
    outputs: list[list[dict[str, Any]]] = [[] for _ in range(index + 1)]
    outputs[index] = [{"node": target, "type": "main", "index": 0}]
    return outputs


def loop_document(batch_size: Any = 2, **options: Any) -> dict[str, Any]:
    """Start -> Split Out rows -> Loop; Loop(1: loop) -> Tag -> Loop; Loop(0: done) -> After."""
    nodes = [
        MANUAL,
        node("Split", "splitOut", 1, {"fieldToSplitOut": "rows"}),
        node("Loop", "splitInBatches", 3, {"batchSize": batch_size, "options": options}),
        node("Tag", "noOp", 1),
        node("After", "noOp", 1),
    ]
    connections = {
        "Start": {"main": link("Start", "Split")},
        "Split": {"main": link("Split", "Loop")},
        "Loop": {
            "main": [
                [{"node": "After", "type": "main", "index": 0}],
                [{"node": "Tag", "type": "main", "index": 0}],
            ]
        },
        "Tag": {"main": link("Tag", "Loop")},
    }
    return workflow(nodes, connections)


def ids_of(conversion: Any) -> dict[str, str]:
    return {n["name"]: n["id"] for n in conversion.graph["nodes"]}


def test_loop_over_items_becomes_a_flow_batch_loop_that_runs_like_n8ns() -> None:
    conversion = convert(loop_document(2))
    assert validate_graph(conversion.graph) == []
    ids = ids_of(conversion)
    loop = next(n for n in conversion.graph["nodes"] if n["id"] == ids["Loop"])
    assert (loop["type"], loop["params"]) == ("flow.batch", {"batch_size": 2})
    edges = {(e["source"], e["target"], e.get("output", "main")) for e in conversion.graph["edges"]}
    assert (ids["Loop"], ids["Tag"], "loop") in edges
    assert (ids["Loop"], ids["After"], "done") in edges
    assert (ids["Tag"], ids["Loop"], "main") in edges

    rows = [{"n": n} for n in range(5)]
    result = run_graph(
        Graph.from_dict(conversion.graph),
        context=RunContext(execution={"id": "e"}, trigger_input={"rows": rows}),
        observer=NullObserver(),
    )

    assert result.status == "succeeded", result.error
    assert result.outcomes[ids["After"]].output["main"] == rows


def test_loop_over_items_with_reset_or_a_computed_size_is_not_mapped() -> None:
    for document in (loop_document(2, reset=True), loop_document("={{ 3 }}")):
        conversion = convert(document)
        report = next(n for n in conversion.report["nodes"] if n["name"] == "Loop")
        assert report["status"] == "not_mapped"


def http_document(pagination: dict[str, Any]) -> dict[str, Any]:
    http = node(
        "Get",
        "httpRequest",
        4.2,
        {
            "url": "https://api.example.com/items",
            "options": {"pagination": {"pagination": pagination}},
        },
    )
    return workflow([MANUAL, http], {"Start": {"main": link("Start", "Get")}})


def imported_pagination(pagination: dict[str, Any]) -> tuple[Any, list[str]]:
    conversion = convert(http_document(pagination))
    assert validate_graph(conversion.graph) == []
    get = next(n for n in conversion.graph["nodes"] if n["name"] == "Get")
    report = next(n for n in conversion.report["nodes"] if n["name"] == "Get")
    return get["params"].get("pagination"), report.get("warnings", [])


def test_http_pagination_by_next_url_is_kept() -> None:
    found, _ = imported_pagination(
        {
            "paginationMode": "responseContainsNextURL",
            "nextURL": "={{ $response.body.next }}",
            "paginationCompleteWhen": "other",
            "completeExpression": "={{ $response.body.done }}",
            "limitPagesFetched": True,
            "maxRequests": 7,
        }
    )

    assert found == {
        "mode": "next_url",
        "next_url": "{{ json.body.next }}",
        "stop_when": "{{ json.body.done }}",
        "max_pages": 7,
    }


def test_http_pagination_by_page_count_and_cursor_parameters_is_kept() -> None:
    page, warnings = imported_pagination(
        {
            "paginationMode": "updateAParameterInEachRequest",
            "parameters": {
                "parameters": [{"type": "qs", "name": "page", "value": "={{ $pageCount + 1 }}"}]
            },
        }
    )
    offset, _ = imported_pagination(
        {
            "paginationMode": "updateAParameterInEachRequest",
            "parameters": {
                "parameters": [{"type": "qs", "name": "offset", "value": "={{ $pageCount * 50 }}"}]
            },
        }
    )
    cursor, _ = imported_pagination(
        {
            "paginationMode": "updateAParameterInEachRequest",
            "parameters": {
                "parameters": [
                    {"name": "cursor", "value": "={{ $response.body.meta.next_cursor }}"}
                ]
            },
        }
    )

    assert page == {
        "mode": "increment",
        "parameter": "page",
        "start": 1,
        "step": 1,
        "max_pages": 1000,
    }
    assert any("1000 pages" in warning for warning in warnings)
    assert offset == {
        "mode": "increment",
        "parameter": "offset",
        "start": 0,
        "step": 50,
        "max_pages": 1000,
    }
    assert cursor == {
        "mode": "cursor",
        "parameter": "cursor",
        "cursor": "{{ json.body.meta.next_cursor }}",
        "max_pages": 1000,
    }


def test_http_pagination_it_cannot_follow_keeps_the_first_page_with_a_warning() -> None:
    found, warnings = imported_pagination(
        {
            "paginationMode": "updateAParameterInEachRequest",
            "parameters": {
                "parameters": [{"type": "body", "name": "page", "value": "={{ $pageCount }}"}]
            },
        }
    )

    assert found is None
    assert "pagination is not kept: only the first page is fetched" in warnings
