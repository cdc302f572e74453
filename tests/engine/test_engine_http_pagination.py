"""http.request follows pages against a real local server: every mode, the bounds, the
page checkpoints, and the address policy on every page's URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from linkflow.engine import Graph, NodeOutcome, RunContext, RunResult, run_graph, validate_graph
from linkflow.engine.loops import iteration_key
from linkflow.engine.net import AddressPolicy, guarded_client, own_endpoints

from ..http_server import headers_echo_server, pages_server


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """A worker's client whose operator allowed private addresses (the local server)."""
    with guarded_client(allow_private=True) as shared:
        yield shared


class PageObserver:
    """Records every finished node run as (node, iteration, status, output)."""

    def __init__(self) -> None:
        self.finished: list[tuple[str, int, str, dict[str, Any]]] = []

    def node_started(self, **kwargs: Any) -> None:
        pass

    def node_finished(
        self, *, node_id: str, outcome: NodeOutcome, iteration: int = 0, **kwargs: Any
    ) -> None:
        self.finished.append((node_id, iteration, outcome.status, outcome.output))

    def should_stop(self) -> bool:
        return False


def raw_graph(url: str, pagination: dict[str, Any], **params: Any) -> dict[str, Any]:
    node = {"id": "get", "type": "http.request", "params": {"url": url, **params}}
    node["params"]["pagination"] = pagination
    return {
        "nodes": [{"id": "start", "type": "trigger.manual"}, node],
        "edges": [{"source": "start", "target": "get"}],
    }


def run(
    client: httpx.Client,
    raw: dict[str, Any],
    *,
    observer: PageObserver | None = None,
    completed: dict[str, NodeOutcome] | None = None,
) -> RunResult:
    assert validate_graph(raw) == []
    context = RunContext(
        execution={"id": "ex-1", "mode": "manual"}, trigger_input={}, http_client=client
    )
    return run_graph(
        Graph.from_dict(raw),
        context=context,
        observer=observer or PageObserver(),
        completed=completed,
    )


def ids(result: RunResult) -> list[int]:
    assert result.status == "succeeded", result.error
    found = []
    for page in result.outcomes["get"].output["main"]:
        body = page["body"]
        found += [r["id"] for r in (body if isinstance(body, list) else body["records"])]
    return found


def test_link_header_pages_are_followed_to_the_end(client: httpx.Client) -> None:
    with pages_server(total=5) as server:
        url = f"http://127.0.0.1:{server.server_port}/link"
        result = run(client, raw_graph(url, {"mode": "link_header"}))

    assert ids(result) == [1, 2, 3, 4, 5]
    assert server.hits == ["/link", "/link?page=2", "/link?page=3"]
    assert [p["url"] for p in result.outcomes["get"].output["main"]][-1].endswith("?page=3")


def test_a_next_url_from_the_body_is_followed(client: httpx.Client) -> None:
    with pages_server(total=4) as server:
        url = f"http://127.0.0.1:{server.server_port}/next"
        result = run(
            client, raw_graph(url, {"mode": "next_url", "next_url": "{{ json.body.next }}"})
        )

    assert ids(result) == [1, 2, 3, 4]
    assert server.hits == ["/next", "/next?page=2"]


def test_an_incremented_page_parameter_stops_at_an_empty_page(client: httpx.Client) -> None:
    with pages_server(total=3) as server:
        url = f"http://127.0.0.1:{server.server_port}/numbered"
        pagination = {"mode": "increment", "parameter": "page", "start": 1}
        result = run(client, raw_graph(url, pagination, query={"kind": "all"}))

    assert ids(result) == [1, 2, 3]
    assert server.hits == [
        "/numbered?kind=all",
        "/numbered?kind=all&page=2",
        "/numbered?kind=all&page=3",
    ]


def test_a_cursor_from_the_body_is_sent_until_it_is_null(client: httpx.Client) -> None:
    with pages_server(total=5) as server:
        url = f"http://127.0.0.1:{server.server_port}/cursor"
        pagination = {"mode": "cursor", "parameter": "cursor", "cursor": "{{ json.body.cursor }}"}
        result = run(client, raw_graph(url, pagination))

    assert ids(result) == [1, 2, 3, 4, 5]
    assert server.hits == ["/cursor", "/cursor?cursor=2", "/cursor?cursor=3"]


def test_the_stop_condition_ends_the_pages(client: httpx.Client) -> None:
    with pages_server(total=9) as server:
        url = f"http://127.0.0.1:{server.server_port}/link"
        pagination = {"mode": "link_header", "stop_when": "{{ json.body.records[0].id >= 3 }}"}
        result = run(client, raw_graph(url, pagination))

    assert ids(result) == [1, 2, 3, 4]
    assert len(server.hits) == 2


def test_max_pages_bounds_the_requests_and_says_so(client: httpx.Client) -> None:
    with pages_server(total=100) as server:
        url = f"http://127.0.0.1:{server.server_port}/link"
        result = run(client, raw_graph(url, {"mode": "link_header", "max_pages": 3}))

    assert ids(result) == [1, 2, 3, 4, 5, 6]
    assert len(server.hits) == 3
    outcome = result.outcomes["get"]
    assert outcome.error is not None and outcome.error["warning"] is True
    assert "max_pages (3)" in outcome.error["message"]


def test_each_page_is_recorded_under_its_own_iteration(client: httpx.Client) -> None:
    observer = PageObserver()
    with pages_server(total=5) as server:
        url = f"http://127.0.0.1:{server.server_port}/link"
        run(client, raw_graph(url, {"mode": "link_header"}), observer=observer)

    pages = [
        (i, s, o["main"][0]["body"]["records"][0]["id"])
        for n, i, s, o in observer.finished
        if n == "get" and i
    ]
    assert pages == [(1, "succeeded", 1), (2, "succeeded", 3), (3, "succeeded", 5)]
    assert observer.finished[-1][:3] == ("get", 0, "succeeded")


def test_a_resumed_node_fetches_only_the_pages_not_stored(client: httpx.Client) -> None:
    with pages_server(total=6) as server:
        url = f"http://127.0.0.1:{server.server_port}/link"
        raw = raw_graph(url, {"mode": "link_header"})
        first = PageObserver()
        run(client, raw, observer=first)
        server.hits.clear()
        # a crash after page 2 was stored: what the host read back
        stored = {
            iteration_key("get", iteration): _page_outcome(output)
            for node, iteration, _, output in first.finished
            if node == "get" and iteration in (1, 2)
        }
        completed = {"start": NodeOutcome("succeeded", {"main": [{}]}), **stored}
        result = run(client, raw, completed=completed)

    assert server.hits == ["/link?page=3"]
    assert ids(result) == [1, 2, 3, 4, 5, 6]


def test_a_retried_node_keeps_the_pages_before_the_failing_one(client: httpx.Client) -> None:
    with pages_server(total=6) as server:
        url = f"http://127.0.0.1:{server.server_port}/fail-at?fail=2"
        raw = raw_graph(url, {"mode": "link_header"})
        raw["nodes"][1]["retry"] = {"max_attempts": 2, "backoff_seconds": 0}
        first = PageObserver()
        failed = run(client, raw, observer=first)
        assert failed.status == "waiting"  # a retry is due
        stored = {
            iteration_key("get", i): _page_outcome(o)
            for n, i, s, o in first.finished
            if n == "get" and i
        }
        completed = {"start": NodeOutcome("succeeded", {"main": [{}]}), **stored}
        server.hits.clear()
        result = run(client, raw, completed=completed)

    assert server.hits == ["/fail-at?page=2&fail=2", "/fail-at?page=3&fail=2"]
    assert ids(result) == [1, 2, 3, 4, 5, 6]


def test_a_next_link_to_the_metadata_address_is_refused(client: httpx.Client) -> None:
    with pages_server(evil_next="http://169.254.169.254/latest/meta-data/") as server:
        url = f"http://127.0.0.1:{server.server_port}/evil"
        result = run(client, raw_graph(url, {"mode": "link_header"}))

    assert result.status == "failed"
    assert result.error is not None
    assert "169.254.169.254" in result.error["message"]
    assert "cloud metadata" in result.error["message"]


def test_a_next_link_to_linkflows_own_service_is_refused() -> None:
    with pages_server() as own, pages_server(evil_next="") as server:
        # the first server stands in for LinkFlow's own Redis: private addresses are
        # allowed, that one endpoint is not
        own_port = own.server_port
        server.evil_next = f"http://127.0.0.1:{own_port}/link"  # type: ignore[attr-defined]
        policy = AddressPolicy(
            allow_private=True, own_endpoints=own_endpoints([("127.0.0.1", own_port)])
        )
        with guarded_client(policy=policy) as guarded:
            url = f"http://127.0.0.1:{server.server_port}/evil"
            result = run(guarded, raw_graph(url, {"mode": "link_header"}))

    assert result.status == "failed"
    assert result.error is not None and "LinkFlow's own service" in result.error["message"]
    assert own.hits == []


def test_pagination_options_are_validated_on_save() -> None:
    raw = raw_graph("https://example.com/", {"mode": "cursor", "parameter": "c"})
    wrong = raw_graph("https://example.com/", {"mode": "sideways"})

    assert [p.code for p in validate_graph(raw)] == ["node_params_invalid"]
    assert [p.code for p in validate_graph(wrong)] == ["node_params_invalid"]


def _page_outcome(output: dict[str, Any]) -> NodeOutcome:
    from linkflow.engine.items import ItemRecord

    record = ItemRecord(inputs=1, per_item=True)
    record.done = {0: {"main": list(output["main"])}}
    return NodeOutcome("succeeded", output, items=record)


def test_a_next_link_to_another_origin_does_not_carry_the_credential(client: httpx.Client) -> None:
    with headers_echo_server() as elsewhere, pages_server(evil_next=elsewhere) as server:
        url = f"http://127.0.0.1:{server.server_port}/evil"
        raw = raw_graph(url, {"mode": "link_header"})
        raw["nodes"][1]["credential"] = "cred-1"
        context = RunContext(
            execution={"id": "ex-1", "mode": "manual"},
            trigger_input={},
            http_client=client,
            credentials=lambda _: {"type": "http_bearer", "token": "s3cret-token"},
        )
        result = run_graph(Graph.from_dict(raw), context=context, observer=PageObserver())

    assert result.status == "succeeded", result.error
    first, second = result.outcomes["get"].output["main"]
    assert first["url"].endswith("/evil")
    assert second["url"] == elsewhere
    echoed = second["body"]["headers"]
    assert "authorization" not in echoed
    assert "s3cret-token" not in str(echoed)
