"""Item semantics through the API and a real worker (issue #12): per-item errors, retries
that resend only what failed, empty reads, disabled nodes, node versions, switch ports."""

from collections import Counter
from typing import Any

from executions.models import NodeRun

from ..executing import chain, create_workflow, detail, execute, wait_status
from ..http_server import orders_server
from ..workflows.test_webhooks import call, webhook


def split_rows() -> dict[str, Any]:
    return {"id": "rows", "type": "data.split", "params": {"field": "rows"}}


def post_each(base: str, **settings: Any) -> dict[str, Any]:
    return {
        "id": "call",
        "type": "http.request",
        "params": {"method": "POST", "url": base + "/{{ json.path }}", "body": "{{ json }}"},
        **settings,
    }


ROWS = {"rows": [{"path": "users/1"}, {"path": "flaky/x?failures=2"}, {"path": "users/2"}]}


def node_run(api: Any, execution_id: str, node_id: str) -> dict[str, Any]:
    """The node's last NodeRun as the execution API shows it."""
    runs = [r for r in detail(api, execution_id)["node_runs"] if r["node_id"] == node_id]
    return runs[-1]


def test_error_output_sends_only_the_failed_item_to_error_in_input_order(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        rows = {"rows": [{"path": "users/1"}, {"path": "nowhere"}, {"path": "users/2"}]}
        graph = chain(
            split_rows(),
            post_each(base, on_error="error_output"),
            {"id": "ok", "type": "flow.noop"},
        )
        graph["nodes"].append({"id": "bad", "type": "flow.noop"})
        graph["edges"].append({"source": "call", "target": "bad", "output": "error"})
        execution_id = execute(api, create_workflow(api, graph), rows)
        status = wait_status(execution_id)

    run = node_run(api, execution_id, "call")
    assert status == "succeeded"
    assert [item["body"]["user"] for item in run["output"]["main"]] == ["1", "2"]
    [failed] = run["output"]["error"]
    assert failed["path"] == "nowhere" and "HTTP 404" in failed["error"]["message"]
    assert run["items"]["counts"] == {"succeeded": 2, "failed": 1, "not_run": 0}
    assert run["items"]["lineage"] == {"main": [0, 2], "error": [1]}
    assert len(node_run(api, execution_id, "ok")["output"]["main"]) == 2
    assert len(node_run(api, execution_id, "bad")["output"]["main"]) == 1


def test_a_retry_resends_only_the_item_that_failed(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        graph = chain(
            split_rows(), post_each(base, retry={"max_attempts": 3, "backoff_seconds": 0.2})
        )
        execution_id = execute(api, create_workflow(api, graph), ROWS)
        status = wait_status(execution_id)
        hits = Counter(hit.split("?")[0] for hit in server.hits)

    assert status == "succeeded"
    assert hits == {"/users/1": 1, "/flaky/x": 3, "/users/2": 1}
    runs = NodeRun.objects.filter(execution_id=execution_id, node_id="call").order_by("attempt")
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    # The first attempt recorded the item that succeeded (by input index) beside its output.
    assert runs[0].item_meta["done"] == [0] and runs[0].item_meta["failed"] == [1]
    assert [item["body"]["user"] for item in runs[0].output["main"]] == ["1"]
    final = runs[2].output["main"]
    assert [item["status"] for item in final] == [201, 200, 201]  # merged in input order


def test_a_missing_field_is_empty_and_a_real_error_names_where_it_is(celery_worker, api):
    fields = {"urgent": "{{ json.priority == 'high' }}", "deep": "{{ json.a.b.c }}"}
    ok = execute(
        api,
        create_workflow(
            api, chain({"id": "set", "type": "data.set", "params": {"fields": fields}})
        ),
        {"title": "no priority here"},
    )
    broken_fields = {"shout": "Hey {{ json.title.upper(1) }}"}
    broken = execute(
        api,
        create_workflow(
            api, chain({"id": "set", "type": "data.set", "params": {"fields": broken_fields}})
        ),
        {"title": "x"},
    )

    assert wait_status(ok) == "succeeded"
    [item] = NodeRun.objects.get(execution_id=ok, node_id="set").output["main"]
    assert (item["urgent"], item["deep"]) == (False, None)
    assert wait_status(broken) == "failed"
    error = NodeRun.objects.get(execution_id=broken, node_id="set").error
    assert error["message"].startswith("Node 'set', parameter 'params.fields.shout', item 0: ")
    assert error["message"].endswith("(in {{ json.title.upper(1) }} at character 4)")


def test_a_disabled_node_is_skipped_passing_its_items_on(celery_worker, api):
    graph = chain(
        {"id": "off", "type": "data.set", "disabled": True, "params": {"fields": {"x": 1}}},
        {"id": "after", "type": "data.set", "params": {"fields": {"seen": True}}},
    )
    execution_id = execute(api, create_workflow(api, graph), {"n": 1})

    assert wait_status(execution_id) == "succeeded"
    off = node_run(api, execution_id, "off")
    assert off["status"] == "skipped" and off["items"]["skipped"] == "disabled"
    assert off["output"] == {"main": [{"n": 1}]}
    assert node_run(api, execution_id, "after")["output"] == {"main": [{"n": 1, "seen": True}]}


def test_a_sync_webhook_whose_branch_ran_nothing_answers_no_items(
    celery_worker, api, client, owner
):
    # The worker answers within the webhook's wait only once it is up: make sure it is.
    assert wait_status(execute(api, create_workflow(api, chain()))) == "succeeded"
    then = ({"id": "off", "type": "flow.noop", "disabled": True},)
    trigger = webhook(owner, {"mode": "sync", "timeout_seconds": 20}, then=then)

    response = call(client, trigger, b'{"secret": "do not echo"}')

    assert response.status_code == 200
    assert response.json() == []


def test_a_version_1_node_keeps_the_whole_node_on_error_a_new_one_acts_per_item(celery_worker, api):
    with orders_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        rows = {"rows": [{"path": "users/1"}, {"path": "nowhere"}]}
        old = chain(split_rows(), post_each(base, on_error="continue", version=1))
        new = chain(split_rows(), post_each(base, on_error="continue"))
        old_id = execute(api, create_workflow(api, old), rows)
        new_workflow = create_workflow(api, new)
        new_id = execute(api, new_workflow, rows)
        assert wait_status(old_id) == wait_status(new_id) == "succeeded"

    stored = api.get(f"/api/v1/workflows/{new_workflow}/").json()["graph"]
    assert {node["id"]: node["version"] for node in stored["nodes"]}["call"] == 2
    [only] = NodeRun.objects.get(execution_id=old_id, node_id="call").output["main"]
    assert set(only) == {"error"}  # version 1: one error item replaces them all
    both = NodeRun.objects.get(execution_id=new_id, node_id="call").output["main"]
    assert [item.get("status") for item in both] == [201, None]
    assert both[1]["path"] == "nowhere" and "error" in both[1]


def test_switch_routes_by_its_labelled_ports_and_refuses_an_edge_from_another(celery_worker, api):
    rules = [
        {"condition": "{{ json.kind == 'a' }}", "output": "alpha"},
        {"condition": "{{ json.kind == 'b' }}"},
    ]
    graph = chain({"id": "route", "type": "flow.switch", "params": {"rules": rules}})
    graph["nodes"].append({"id": "on_alpha", "type": "flow.noop"})
    graph["edges"].append({"source": "route", "target": "on_alpha", "output": "alpha"})

    bad = {**graph, "edges": [*graph["edges"][:-1], {**graph["edges"][-1], "output": "0"}]}
    refused = api.post("/api/v1/workflows/", {"name": "bad", "graph": bad}, format="json")
    execution_id = execute(api, create_workflow(api, graph), {"kind": "a"})

    assert refused.status_code == 400
    [problem] = refused.json()["error"]["details"]["problems"]
    assert (problem["code"], problem["field"]) == ("edge_port_unknown", "edges[1].output")
    assert wait_status(execution_id) == "succeeded"
    route = NodeRun.objects.get(execution_id=execution_id, node_id="route")
    assert route.output == {"alpha": [{"kind": "a"}], "1": []}
    assert NodeRun.objects.get(execution_id=execution_id, node_id="on_alpha").status == "succeeded"
