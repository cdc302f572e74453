"""Loops (flow.batch) and paginated requests through real workers: every batch and page is
a NodeRun with its iteration, shown by the API and the run view, and a worker killed
mid-loop or mid-pages is finished by another from the last batch or page stored."""

import signal
import time

from django.db.models import Count
from django.urls import reverse

from executions.maintenance.recovery import executions_requeue_stale
from executions.models import NodeRun

from ..conftest import signed_in_client, wait_for
from ..executing import create_workflow, detail, execute, wait_status
from ..http_server import orders_server, pages_server

LEASE = "2"  # seconds: a dead worker's lease runs out quickly in these tests


def loop_graph(batch_size: int = 2) -> dict:
    """start -> split rows -> batch -(loop)-> fetch {{ json.url }} -> batch -(done)-> after."""
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "split", "type": "data.split", "params": {"field": "rows"}},
            {"id": "batch", "type": "flow.batch", "params": {"batch_size": batch_size}},
            {"id": "fetch", "type": "http.request", "params": {"url": "{{ json.url }}"}},
            {"id": "after", "type": "data.aggregate", "params": {}},
        ],
        "edges": [
            {"source": "start", "target": "split"},
            {"source": "split", "target": "batch"},
            {"source": "batch", "target": "fetch", "output": "loop"},
            {"source": "fetch", "target": "batch"},
            {"source": "batch", "target": "after", "output": "done"},
        ],
    }


def succeeded_by_iteration(execution_id: str, node_id: str) -> dict[int, int]:
    rows = (
        NodeRun.objects.filter(execution_id=execution_id, node_id=node_id, status="succeeded")
        .values("iteration")
        .annotate(n=Count("id"))
    )
    return {row["iteration"]: row["n"] for row in rows}


def crash_and_resume(start_worker, doomed, execution_id: str) -> str:
    """Kill ``doomed``, start another worker, requeue as the beat would; the final status."""
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    start_worker(beat=False, LINKFLOW_LEASE_SECONDS=LEASE)
    time.sleep(int(LEASE) + 0.5)  # let the dead worker's lease expire
    assert executions_requeue_stale() == 1  # what the beat does every 30 s
    return wait_status(execution_id, timeout=90)  # a generous bound on a loaded machine


def test_a_loop_runs_each_batch_as_its_own_iteration_shown_by_api_and_run_view(
    start_worker, api, owner
):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        start_worker(beat=False)
        rows = [{"url": f"{base}/orders?user={n}"} for n in range(1, 6)]
        execution_id = execute(api, create_workflow(api, loop_graph(2)), {"rows": rows})
        status = wait_status(execution_id)

    assert status == "succeeded"
    assert succeeded_by_iteration(execution_id, "fetch") == {1: 1, 2: 1, 3: 1}
    runs = detail(api, execution_id)["node_runs"]
    fetches = [run for run in runs if run["node_id"] == "fetch"]
    assert [(run["iteration"], len(run["output"]["main"])) for run in fetches] == [
        (1, 2),
        (2, 2),
        (3, 1),
    ]
    [batch] = [run for run in runs if run["node_id"] == "batch"]
    assert batch["iteration"] == 0
    assert [item["body"]["user"] for item in batch["output"]["done"]] == ["1", "2", "3", "4", "5"]
    page = signed_in_client(owner).get(reverse("runs:node", args=[execution_id, "fetch"]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Batch 1 ·" in html and "Batch 3 ·" in html
    assert 'data-iteration="2"' in html


def test_a_worker_killed_mid_loop_is_resumed_at_the_batch_it_was_in(start_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        doomed = start_worker(beat=False, LINKFLOW_LEASE_SECONDS=LEASE)
        rows = [
            {"url": f"{base}/orders?user=1"},
            {"url": f"{base}/orders?user=2"},
            {"url": f"{base}/slow?seconds=3"},
            {"url": f"{base}/orders?user=4"},
        ]
        execution_id = execute(api, create_workflow(api, loop_graph(2)), {"rows": rows})
        wait_for(lambda: any("/slow" in hit for hit in server.hits), what="the slow call")
        batch_one = succeeded_by_iteration(execution_id, "fetch")
        checkpoint = NodeRun.objects.get(execution_id=execution_id, node_id="batch")
        status = crash_and_resume(start_worker, doomed, execution_id)

    assert batch_one == {1: 1}
    assert checkpoint.status == "running"
    assert checkpoint.item_meta["done"] == [0, 1]
    assert status == "succeeded"
    assert succeeded_by_iteration(execution_id, "fetch") == {1: 1, 2: 1}
    # batch 1 was not fetched again; only the call in flight was repeated
    assert server.hits.count("/orders?user=1") == 1
    assert server.hits.count("/orders?user=2") == 1
    assert sum(1 for hit in server.hits if hit.startswith("/slow")) == 2
    batch = NodeRun.objects.get(execution_id=execution_id, node_id="batch")
    assert batch.status == "succeeded"
    assert [item["status"] for item in batch.output["done"]] == [200, 200, 200, 200]


def test_a_worker_killed_mid_pages_fetches_only_the_pages_not_stored(start_worker, api):
    with pages_server(total=8) as server:
        url = f"http://127.0.0.1:{server.server_port}/link?slow=3"
        graph = {
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "get",
                    "type": "http.request",
                    "params": {"url": url, "pagination": {"mode": "link_header"}},
                },
            ],
            "edges": [{"source": "start", "target": "get"}],
        }
        doomed = start_worker(beat=False, LINKFLOW_LEASE_SECONDS=LEASE)
        execution_id = execute(api, create_workflow(api, graph))
        wait_for(lambda: "/link?page=3&slow=3" in server.hits, what="the slow page")
        stored_before = succeeded_by_iteration(execution_id, "get")
        status = crash_and_resume(start_worker, doomed, execution_id)

    assert stored_before == {1: 1, 2: 1}
    assert status == "succeeded"
    assert server.hits == [
        "/link?slow=3",
        "/link?page=2&slow=3",
        "/link?page=3&slow=3",
        "/link?page=3&slow=3",  # in flight when the worker died
        "/link?page=4&slow=3",
    ]
    assert succeeded_by_iteration(execution_id, "get") == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1}
    final = NodeRun.objects.get(execution_id=execution_id, node_id="get", iteration=0)
    records = [r["id"] for page in final.output["main"] for r in page["body"]["records"]]
    assert records == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_graph_with_an_open_loop_is_refused_with_its_code(api):
    graph = loop_graph()
    graph["edges"] = [e for e in graph["edges"] if e["target"] != "batch" or e["source"] == "split"]

    response = api.post("/api/v1/workflows/", {"name": "w", "graph": graph}, format="json")

    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "workflow_graph_invalid"
    assert "graph_loop_open" in str(body["details"])


def test_a_rerun_after_a_loop_reuses_every_batch_without_calling_again(start_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        start_worker(beat=False)
        rows = [{"url": f"{base}/orders?user={n}"} for n in range(1, 4)]
        first = execute(api, create_workflow(api, loop_graph(2)), {"rows": rows})
        assert wait_status(first) == "succeeded"

        response = api.post(
            f"/api/v1/executions/{first}/rerun", {"from_node": "after"}, format="json"
        )
        assert response.status_code == 202
        repeat = response.json()["id"]
        status = wait_status(repeat)

    assert status == "succeeded"
    assert [hit for hit in server.hits if hit.startswith("/orders")] == [
        "/orders?user=1",
        "/orders?user=2",
        "/orders?user=3",
    ]  # each once: the repeat reused both batches
    assert succeeded_by_iteration(repeat, "fetch") == {1: 1, 2: 1}
    after = NodeRun.objects.get(execution_id=repeat, node_id="after")
    assert [item["body"]["user"] for item in after.output["main"][0]["items"]] == ["1", "2", "3"]
