"""A real Celery worker process on Redis and PostgreSQL runs workflows end to end."""

import os
import time

import pytest
import redis
from django.conf import settings

from executions.models import Execution, NodeRun
from executions.tasks import run_execution

from ..conftest import wait_for
from ..graphs import branching_graph
from ..http_server import orders_server

FINISHED = ("succeeded", "failed", "cancelled")


def run_through_api(api, graph: dict, trigger_input: dict) -> dict:
    workflow = api.post("/api/v1/workflows/", {"name": "orders", "graph": graph}, format="json")
    assert workflow.status_code == 201, workflow.json()
    response = api.post(
        f"/api/v1/workflows/{workflow.json()['id']}/execute",
        {"input": trigger_input},
        format="json",
    )
    assert response.status_code == 202
    execution_id = response.json()["id"]
    wait_for(
        lambda: Execution.objects.filter(pk=execution_id, status__in=FINISHED).exists(),
        what="the worker to finish the execution",
    )
    return api.get(f"/api/v1/executions/{execution_id}/").json()


def test_a_worker_runs_every_node_and_records_its_output(celery_worker, api):
    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/orders"
        body = run_through_api(api, branching_graph(url), {"user_id": 1})

    assert body["status"] == "succeeded", body["error"]
    assert body["started_at"] and body["finished_at"]
    runs = {r["node_id"]: r for r in body["node_runs"]}
    assert [r["node_id"] for r in body["node_runs"]] == [
        "start",
        "fetch",
        "big",
        "gold",
        "standard",
    ]
    assert runs["start"]["output"] == {"main": [{"user_id": 1}]}
    fetched = runs["fetch"]["output"]["main"][0]
    assert fetched["status"] == 200
    assert fetched["body"] == {"user": "1", "total": 250}
    assert runs["big"]["output"]["true"] == [fetched]
    assert runs["big"]["output"]["false"] == []
    assert runs["gold"]["status"] == "succeeded"
    assert runs["gold"]["output"]["main"] == [{**fetched, "tier": "gold", "user": 1}]
    assert runs["standard"]["status"] == "skipped"
    assert all(r["attempt"] == 1 for r in body["node_runs"])
    assert server.hits == ["/orders?user=1"]


def test_the_other_branch_runs_for_a_small_order(celery_worker, api):
    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/orders"
        body = run_through_api(api, branching_graph(url), {"user_id": 2})

    runs = {r["node_id"]: r for r in body["node_runs"]}
    assert body["status"] == "succeeded"
    assert runs["gold"]["status"] == "skipped"
    assert runs["standard"]["output"]["main"][0]["tier"] == "standard"


def test_a_failing_node_fails_the_execution_with_its_error(celery_worker, api):
    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/orders"
    # The server is shut down now: the request is refused.
    body = run_through_api(api, branching_graph(url), {"user_id": 1})

    assert body["status"] == "failed"
    assert body["error"]["node_id"] == "fetch"
    runs = {r["node_id"]: r for r in body["node_runs"]}
    assert runs["fetch"]["status"] == "failed"
    assert runs["fetch"]["error"]["message"]
    assert "big" not in runs


def test_duplicated_messages_racing_for_one_execution_run_it_once(celery_worker, api):
    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/orders"
        workflow = api.post(
            "/api/v1/workflows/", {"name": "w", "graph": branching_graph(url)}, format="json"
        ).json()
        execution_id = api.post(
            f"/api/v1/workflows/{workflow['id']}/execute", {"input": {"user_id": 1}}, format="json"
        ).json()["id"]
        for _ in range(3):  # four messages for one execution, taken by four worker threads
            run_execution.delay(execution_id)
        wait_for(
            lambda: Execution.objects.get(pk=execution_id).status in FINISHED,
            what="the execution to finish",
        )
        wait_for(lambda: queue_length() == 0, what="the duplicates to be consumed")
        time.sleep(1)  # the last duplicate may still be inside its (failed) claim

    assert Execution.objects.get(pk=execution_id).status == "succeeded"
    assert NodeRun.objects.filter(execution_id=execution_id).count() == 5
    assert server.hits == ["/orders?user=1"]


def queue_length() -> int:
    return redis.Redis.from_url(os.environ["REDIS_URL"]).llen(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.mark.parametrize("garbage", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_a_message_for_no_execution_is_dropped_and_the_worker_goes_on(celery_worker, api, garbage):
    run_execution.delay(garbage)
    with orders_server() as server:
        url = f"http://127.0.0.1:{server.server_port}/orders"
        body = run_through_api(api, branching_graph(url), {"user_id": 1})

    assert body["status"] == "succeeded"
    assert celery_worker.poll() is None
