"""Retries, waits, cancel, retry and re-run, with a real worker (beat inside) on Redis and
PostgreSQL."""

import time

from executions.models import Execution, NodeRun

from ..executing import chain, create_workflow, detail, execute, wait_status
from ..graphs import pure_graph
from ..http_server import orders_server


def http(node_id: str, url: str, **settings: object) -> dict:
    return {"id": node_id, "type": "http.request", "params": {"url": url}, **settings}


def test_a_node_that_fails_twice_then_succeeds_is_retried_with_a_record_per_attempt(
    celery_worker, api
):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        graph = chain(
            http(
                "call",
                f"{base}/flaky/a?failures=2",
                retry={"max_attempts": 3, "backoff_seconds": 0.2},
            ),
            {"id": "after", "type": "flow.noop"},
        )
        execution_id = execute(api, create_workflow(api, graph))
        status = wait_status(execution_id)

    runs = NodeRun.objects.filter(execution_id=execution_id, node_id="call").order_by("attempt")
    assert status == "succeeded"
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert "HTTP 500" in runs[0].error["message"]
    assert NodeRun.objects.get(execution_id=execution_id, node_id="after").status == "succeeded"


def test_retries_that_run_out_fail_the_execution(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        graph = chain(
            http(
                "call",
                f"{base}/flaky/b?failures=5",
                retry={"max_attempts": 2, "backoff_seconds": 0.1},
            )
        )
        execution_id = execute(api, create_workflow(api, graph))
        status = wait_status(execution_id)

    assert status == "failed"
    assert NodeRun.objects.filter(execution_id=execution_id, node_id="call").count() == 2


def test_a_waiting_execution_frees_the_worker_for_others(start_worker, api):
    start_worker(concurrency=1)
    waiting = execute(
        api,
        create_workflow(
            api,
            chain(
                {"id": "pause", "type": "flow.wait", "params": {"seconds": 3}},
                {"id": "after", "type": "flow.noop"},
            ),
        ),
    )
    wait_status(waiting, ("waiting",))

    quick = execute(api, create_workflow(api, chain({"id": "n", "type": "flow.noop"})))

    assert wait_status(quick, timeout=10) == "succeeded"
    assert Execution.objects.get(pk=waiting).status == "waiting"
    assert wait_status(waiting, timeout=20) == "succeeded"
    pause = NodeRun.objects.get(execution_id=waiting, node_id="pause")
    assert pause.status == "succeeded"
    assert pause.output == {"main": [{}]}


def test_a_cancelled_waiting_execution_never_resumes(celery_worker, api):
    execution_id = execute(
        api,
        create_workflow(
            api,
            chain(
                {"id": "pause", "type": "flow.wait", "params": {"seconds": 2}},
                {"id": "after", "type": "flow.noop"},
            ),
        ),
    )
    wait_status(execution_id, ("waiting",))

    response = api.post(f"/api/v1/executions/{execution_id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    time.sleep(3.5)  # past the resume time, with the beat waking due executions each second
    assert Execution.objects.get(pk=execution_id).status == "cancelled"
    assert not NodeRun.objects.filter(execution_id=execution_id, node_id="after").exists()
    again = api.post(f"/api/v1/executions/{execution_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "execution_finished"


def test_a_running_execution_stops_before_its_next_node_when_cancelled(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        execution_id = execute(
            api,
            create_workflow(
                api,
                chain(
                    http("slow", f"{base}/slow?seconds=2"),
                    {"id": "after", "type": "flow.noop"},
                ),
            ),
        )
        wait_status(execution_id, ("running",))
        response = api.post(f"/api/v1/executions/{execution_id}/cancel")
        time.sleep(3)

    assert response.status_code == 200
    assert Execution.objects.get(pk=execution_id).status == "cancelled"
    assert not NodeRun.objects.filter(execution_id=execution_id, node_id="after").exists()


def test_retry_makes_a_new_execution_of_the_same_version_and_input(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        first = execute(
            api,
            create_workflow(api, chain(http("call", f"{base}/flaky/c?failures=1"))),
            {"order": 7},
        )
        assert wait_status(first) == "failed"

        response = api.post(f"/api/v1/executions/{first}/retry")
        assert response.status_code == 202
        repeat = response.json()["id"]
        assert wait_status(repeat) == "succeeded"

    original, again = Execution.objects.get(pk=first), Execution.objects.get(pk=repeat)
    assert again.source_id == original.pk
    assert again.version_id == original.version_id
    assert again.trigger_input == {"order": 7}
    assert response["Location"].endswith(f"/api/v1/executions/{repeat}")


def test_rerun_from_a_node_reuses_upstream_outputs_and_runs_the_rest_again(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        # /flaky answers its call count, so a downstream output reused instead of run again
        # shows as call 1 where a real second call answers 2.
        graph = chain(
            http("fetch", f"{base}/orders?user=1"),
            {"id": "tag", "type": "data.set", "params": {"fields": {"tier": "gold"}}},
            http("notify", f"{base}/flaky/notify?failures=0"),
        )
        first = execute(api, create_workflow(api, graph))
        assert wait_status(first) == "succeeded"

        response = api.post(
            f"/api/v1/executions/{first}/rerun", {"from_node": "tag"}, format="json"
        )
        assert response.status_code == 202
        repeat = response.json()["id"]
        assert wait_status(repeat) == "succeeded"

    assert server.hits.count("/orders?user=1") == 1  # the HTTP call was not made again
    assert server.hits.count("/flaky/notify?failures=0") == 2
    body = detail(api, repeat)
    assert [r["node_id"] for r in body["node_runs"]] == ["start", "fetch", "tag", "notify"]
    assert body["node_runs"][1]["output"] == detail(api, first)["node_runs"][1]["output"]
    assert body["node_runs"][2]["output"]["main"][0]["tier"] == "gold"
    assert body["node_runs"][3]["output"]["main"][0]["body"] == {"call": 2}
    reused = NodeRun.objects.filter(execution_id=repeat, item_meta__has_key="reused_from")
    assert sorted(reused.values_list("node_id", flat=True)) == ["fetch", "start"]
    assert body["rerun_from_node"] == "tag"


def test_rerun_from_an_unknown_node_answers_400_and_creates_nothing(celery_worker, api):
    first = execute(api, create_workflow(api, chain({"id": "n", "type": "flow.noop"})))
    wait_status(first)

    response = api.post(f"/api/v1/executions/{first}/rerun", {"from_node": "ghost"}, format="json")

    assert response.status_code == 400
    assert "from_node" in response.json()["error"]["details"]
    assert Execution.objects.count() == 1


def test_an_outsider_cannot_cancel_retry_or_rerun(api, outsider, client_for, db):
    workflow_id = create_workflow(api, pure_graph())
    execution_id = execute(api, workflow_id)
    other = client_for(outsider)

    for action in ("cancel", "retry", "rerun"):
        response = other.post(
            f"/api/v1/executions/{execution_id}/{action}", {"from_node": "start"}, format="json"
        )
        assert response.status_code == 404
    assert Execution.objects.get(pk=execution_id).status == "queued"
    assert Execution.objects.count() == 1
