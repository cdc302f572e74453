"""Retry and re-run choose the version: ``original`` (default) runs the version the
execution ran, ``current`` the workflow's current one; a re-run reuses a recorded output only
where the node computes the same in the version run. A real worker on Redis and PostgreSQL."""

from executions.models import Execution, NodeRun

from ..executing import chain, create_workflow, detail, execute, wait_status
from ..http_server import orders_server


def http(node_id: str, url: str) -> dict:
    return {"id": node_id, "type": "http.request", "params": {"url": url}}


def tag(tier: str) -> dict:
    return {"id": "tag", "type": "data.set", "params": {"fields": {"tier": tier}}}


def save(api, workflow_id: str, graph: dict) -> int:  # type: ignore[no-untyped-def]
    response = api.patch(f"/api/v1/workflows/{workflow_id}", {"graph": graph}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["version"]


def shop(base: str, tier: str) -> dict:
    """start -> fetch -> tag -> after, and start -> audit (a branch of its own)."""
    graph = chain(
        http("fetch", f"{base}/orders?user=1"), tag(tier), {"id": "after", "type": "flow.noop"}
    )
    graph["nodes"].insert(2, http("audit", f"{base}/users/9"))
    graph["edges"].append({"source": "start", "target": "audit"})
    return graph


def test_retry_on_the_current_version_runs_the_fixed_workflow(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        workflow_id = create_workflow(api, chain(http("fetch", f"{base}/flaky/broken?failures=99")))
        first = execute(api, workflow_id, {"order": 7})
        assert wait_status(first) == "failed"
        fixed = save(api, workflow_id, chain(http("fetch", f"{base}/orders?user=1")))

        original = api.post(f"/api/v1/executions/{first}/retry", {}, format="json")
        current = api.post(
            f"/api/v1/executions/{first}/retry", {"version": "current"}, format="json"
        )
        assert (original.status_code, current.status_code) == (202, 202)
        assert wait_status(original.json()["id"]) == "failed"  # still the broken version
        assert wait_status(current.json()["id"]) == "succeeded"

    assert original.json()["version"] == 1
    assert current.json()["version"] == fixed == 2
    assert current.json()["reused_nodes"] == []
    assert current.json()["run_nodes"] == ["start", "fetch"]
    repeat = Execution.objects.get(pk=current.json()["id"])
    assert (repeat.source_id, repeat.trigger_input) == (
        Execution.objects.get(pk=first).pk,
        {"order": 7},
    )
    assert server.hits.count("/orders?user=1") == 1


def test_rerun_on_the_current_version_reuses_only_the_nodes_it_did_not_change(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        workflow_id = create_workflow(api, shop(base, "gold"))
        first = execute(api, workflow_id)
        assert wait_status(first) == "succeeded"
        save(api, workflow_id, shop(base, "platinum"))  # only tag's params change

        response = api.post(
            f"/api/v1/executions/{first}/rerun",
            {"from_node": "after", "version": "current"},
            format="json",
        )
        assert response.status_code == 202
        repeat = response.json()["id"]
        assert wait_status(repeat) == "succeeded"

    body = response.json()
    assert (body["version"], body["rerun_from_node"]) == (2, "after")
    assert body["reused_nodes"] == ["start", "fetch", "audit"]
    assert body["run_nodes"] == ["tag", "after"]
    # the recorded calls were reused, not sent again
    assert server.hits.count("/orders?user=1") == 1
    assert server.hits.count("/users/9") == 1
    runs = {run["node_id"]: run for run in detail(api, repeat)["node_runs"]}
    assert runs["after"]["output"]["main"][0]["tier"] == "platinum"
    assert (
        runs["fetch"]["output"]
        == {r["node_id"]: r for r in detail(api, first)["node_runs"]}["fetch"]["output"]
    )
    assert runs["fetch"]["items"]["reused_from"] == first
    assert "reused_from" not in runs["tag"]["items"]


def test_rerun_on_the_original_version_ignores_the_fix(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        workflow_id = create_workflow(api, shop(base, "gold"))
        first = execute(api, workflow_id)
        assert wait_status(first) == "succeeded"
        save(api, workflow_id, shop(base, "platinum"))

        response = api.post(
            f"/api/v1/executions/{first}/rerun", {"from_node": "after"}, format="json"
        )
        assert wait_status(response.json()["id"]) == "succeeded"

    body = response.json()
    assert body["version"] == 1
    assert body["reused_nodes"] == ["start", "fetch", "audit", "tag"]
    assert body["run_nodes"] == ["after"]
    runs = {run["node_id"]: run for run in detail(api, body["id"])["node_runs"]}
    assert runs["after"]["output"]["main"][0]["tier"] == "gold"


def test_rerun_from_a_node_the_current_version_lacks_answers_400_and_creates_nothing(
    celery_worker, api
):
    workflow_id = create_workflow(api, chain({"id": "gone", "type": "flow.noop"}))
    first = execute(api, workflow_id)
    assert wait_status(first) == "succeeded"
    save(api, workflow_id, chain({"id": "kept", "type": "flow.noop"}))

    response = api.post(
        f"/api/v1/executions/{first}/rerun",
        {"from_node": "gone", "version": "current"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "from_node": ["Node 'gone' is not in version 2."]
    }
    assert Execution.objects.count() == 1


def test_an_unknown_version_answers_400_naming_it(celery_worker, api):
    first = execute(api, create_workflow(api, chain({"id": "n", "type": "flow.noop"})))
    assert wait_status(first) == "succeeded"

    retry = api.post(f"/api/v1/executions/{first}/retry", {"version": "latest"}, format="json")
    rerun = api.post(
        f"/api/v1/executions/{first}/rerun", {"from_node": "n", "version": 2}, format="json"
    )

    assert (retry.status_code, rerun.status_code) == (400, 400)
    assert "version" in retry.json()["error"]["details"]
    assert "version" in rerun.json()["error"]["details"]
    assert Execution.objects.count() == 1
    assert NodeRun.objects.exclude(execution_id=first).count() == 0
