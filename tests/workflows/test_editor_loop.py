"""The editor's build-test loop through the API: test runs, pinned data, the test webhook
URL, debugging a past run, expression previews (docs/editor-loop.md).

Tests that need a run to happen use a real worker (PostgreSQL + Redis); the others check
what the endpoints answer and store.
"""

import itertools
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from credentials.services import credential_create
from executions.models import Execution, NodeRun
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import PinnedData, Workflow, WorkflowVersion
from workflows.services import workflow_create

from ..billing import on_plan
from ..executing import chain, create_workflow, detail, execute, recorded_execution, wait_status


def setter(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "data.set", "params": {"fields": fields}}


def post_test(api, workflow_id: str, **body: Any):  # type: ignore[no-untyped-def]
    return api.post(f"/api/v1/workflows/{workflow_id}/test", body, format="json")


def pin(api, workflow_id: str, node_id: str, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return api.put(f"/api/v1/workflows/{workflow_id}/pinned/{node_id}", body, format="json")


def runs_of(execution_id: str) -> dict[str, NodeRun]:
    return {run.node_id: run for run in NodeRun.objects.filter(execution_id=execution_id)}


# --- permissions ---------------------------------------------------------------------------


def test_a_viewer_may_not_test_pin_listen_or_debug_and_nothing_is_stored(api, viewer, client_for):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    as_viewer = client_for(viewer)

    assert post_test(as_viewer, workflow_id).status_code == 403
    assert pin(as_viewer, workflow_id, "a", {"items": [{"x": 1}]}).status_code == 403
    assert (
        as_viewer.post(f"/api/v1/workflows/{workflow_id}/listen", {}, format="json").status_code
        == 403
    )
    execution = recorded_execution(Workflow.objects.get(pk=workflow_id))
    assert (
        as_viewer.post(f"/api/v1/executions/{execution.pk}/debug", {}, format="json").status_code
        == 403
    )
    assert not Execution.objects.filter(mode="test").exists()
    assert not PinnedData.objects.exists()
    # A viewer may read pins and preview expressions.
    assert as_viewer.get(f"/api/v1/workflows/{workflow_id}/pinned").status_code == 200


def test_an_outsider_gets_404_from_every_loop_endpoint(api, outsider, client_for):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    assert pin(api, workflow_id, "a", {"items": [{"x": 1}]}).status_code == 200
    execution = recorded_execution(Workflow.objects.get(pk=workflow_id))
    stranger = client_for(outsider)

    answers = [
        post_test(stranger, workflow_id),
        stranger.get(f"/api/v1/workflows/{workflow_id}/pinned/a"),
        pin(stranger, workflow_id, "a", {"items": []}),
        stranger.delete(f"/api/v1/workflows/{workflow_id}/pinned/a"),
        stranger.post(f"/api/v1/workflows/{workflow_id}/listen", {}, format="json"),
        stranger.post(f"/api/v1/executions/{execution.pk}/debug", {}, format="json"),
        stranger.post(
            "/api/v1/expressions/preview",
            {"expression": "{{ 1 }}", "execution": str(execution.pk)},
            format="json",
        ),
    ]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert PinnedData.objects.get().items == [{"x": 1}]


def test_an_editor_may_test_and_the_run_is_a_test_execution_listed_apart(api, teammate, client_for):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    production = execute(api, workflow_id)

    response = post_test(client_for(teammate), workflow_id)

    assert response.status_code == 202
    assert response.json()["mode"] == "test"
    listed = [e["id"] for e in api.get("/api/v1/executions/").json()["results"]]
    assert listed == [production]
    tests = api.get("/api/v1/executions/?mode=test").json()["results"]
    assert [e["id"] for e in tests] == [response.json()["id"]]


# --- test runs: graph, limits, plan ----------------------------------------------------------


def test_an_unsaved_graph_runs_from_a_hidden_snapshot_that_is_no_version(api):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    unsaved = chain(setter("a", x=2), setter("b", y=3))

    response = post_test(api, workflow_id, graph=unsaved)

    assert response.status_code == 202
    assert response.json()["version"] == 0
    snapshot = Execution.objects.get(pk=response.json()["id"]).version
    assert (snapshot.test, snapshot.graph) == (True, unsaved)
    workflow = Workflow.objects.get(pk=workflow_id)
    assert workflow.current_version.number == 1
    assert list(workflow.versions.filter(test=False).values_list("number", flat=True)) == [1]
    # The saved graph needs no snapshot.
    again = post_test(api, workflow_id)
    assert Execution.objects.get(pk=again.json()["id"]).version_id == workflow.current_version_id


def test_an_invalid_unsaved_graph_or_unknown_node_is_400_and_nothing_runs(api):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))

    bad_graph = post_test(api, workflow_id, graph={"nodes": [], "edges": []})
    bad_node = post_test(api, workflow_id, node="nope")

    assert bad_graph.status_code == 400
    assert bad_graph.json()["error"]["code"] == "workflow_graph_invalid"
    assert bad_node.status_code == 400
    assert bad_node.json()["error"]["details"] == {"node": ["Node 'nope' is not in the graph."]}
    assert not Execution.objects.exists()
    assert not WorkflowVersion.objects.filter(test=True).exists()


def test_test_runs_past_the_workspace_rate_answer_429_with_retry_after(api, settings):
    settings.LINKFLOW_TEST_RUNS_PER_MINUTE = 2
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    assert [post_test(api, workflow_id).status_code for _ in range(2)] == [202, 202]
    Execution.objects.update(status="succeeded")  # not the concurrency limit

    refused = post_test(api, workflow_id)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "test_run_limit"
    assert refused.json()["error"]["details"]["limit"] == "test_runs_per_minute"
    assert int(refused["Retry-After"]) >= 1
    assert Execution.objects.count() == 2
    # Production runs are not held to it.
    assert (
        api.post(f"/api/v1/workflows/{workflow_id}/execute", {}, format="json").status_code == 202
    )


def test_unfinished_test_runs_past_the_concurrency_limit_answer_429(api, settings):
    settings.LINKFLOW_TEST_RUN_CONCURRENCY = 1
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    first = post_test(api, workflow_id)
    assert first.status_code == 202

    refused = post_test(api, workflow_id)

    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["limit"] == "test_run_concurrency"
    Execution.objects.filter(pk=first.json()["id"]).update(status="succeeded")
    assert post_test(api, workflow_id).status_code == 202


def test_test_runs_leave_the_plan_quotas_untouched(owner, api, billing_on):
    on_plan(owner, executions_per_month=1, concurrent_executions=1)
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    # Test runs past the monthly quota and the concurrency are admitted and dispatched...
    for _ in range(3):
        answer = post_test(api, workflow_id)
        assert answer.status_code == 202
        assert answer.json()["status"] == "queued"
    # ... and neither the month nor the dispatch slot knows about them.
    cache.clear()  # the month is recounted from the database too
    first = api.post(f"/api/v1/workflows/{workflow_id}/execute", {}, format="json")
    assert (first.status_code, first.json()["status"]) == (202, "queued")
    assert (
        api.post(f"/api/v1/workflows/{workflow_id}/execute", {}, format="json").status_code == 402
    )


# --- pinned data -------------------------------------------------------------------------------


def test_pinned_items_are_put_read_and_deleted_without_a_new_version(api):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))

    put = pin(api, workflow_id, "a", {"items": [{"x": 41}]})

    assert put.status_code == 200
    assert (put.json()["node_id"], put.json()["port"], put.json()["items"]) == (
        "a",
        "main",
        [{"x": 41}],
    )
    assert api.get(f"/api/v1/workflows/{workflow_id}/pinned/a").json()["items"] == [{"x": 41}]
    assert [p["node_id"] for p in api.get(f"/api/v1/workflows/{workflow_id}/pinned").json()] == [
        "a"
    ]
    assert Workflow.objects.get(pk=workflow_id).versions.count() == 1
    assert api.delete(f"/api/v1/workflows/{workflow_id}/pinned/a").status_code == 204
    assert api.get(f"/api/v1/workflows/{workflow_id}/pinned/a").status_code == 404
    assert api.delete(f"/api/v1/workflows/{workflow_id}/pinned/a").status_code == 404


def test_pinned_items_past_the_size_limit_or_not_objects_are_refused(api, settings):
    settings.LINKFLOW_PINNED_MAX_BYTES = 100
    workflow_id = create_workflow(api, chain(setter("a", x=1)))

    big = pin(api, workflow_id, "a", {"items": [{"x": "y" * 200}]})
    scalar = pin(api, workflow_id, "a", {"items": [1, 2]})
    neither = pin(api, workflow_id, "a", {})

    assert big.status_code == 400
    assert "at most 100 bytes" in big.json()["error"]["details"]["items"][0]
    assert scalar.status_code == 400
    assert neither.status_code == 400
    assert not PinnedData.objects.exists()


def test_a_credential_secret_in_pinned_items_is_redacted(owner, api):
    workspace = workspace_ensure_personal(user=owner)
    credential_create(
        workspace=workspace, name="hook", type="webhook_auth", data={"token": "s3cr3t-token-42"}
    )
    workflow_id = create_workflow(api, chain(setter("a", x=1)))

    put = pin(api, workflow_id, "a", {"items": [{"auth": "Bearer s3cr3t-token-42"}]})

    assert put.json()["items"] == [{"auth": "Bearer [REDACTED]"}]
    assert PinnedData.objects.get().items == [{"auth": "Bearer [REDACTED]"}]


def test_pinning_from_a_node_run_copies_its_output_and_another_workspaces_run_is_404(api, outsider):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    workflow = Workflow.objects.get(pk=workflow_id)
    run = NodeRun.objects.create(
        execution=recorded_execution(workflow),
        node_id="a",
        node_type="data.set",
        status="succeeded",
        output={"main": [{"x": 7}]},
    )
    theirs = workflow_create(
        user=outsider,
        workspace=workspace_ensure_personal(user=outsider),
        name="theirs",
        graph=chain(setter("a", x=1)),
    )
    foreign = NodeRun.objects.create(
        execution=recorded_execution(theirs),
        node_id="a",
        node_type="data.set",
        status="succeeded",
        output={"main": [{"secret": "theirs"}]},
    )

    mine = pin(api, workflow_id, "a", {"from_node_run": str(run.pk)})
    stolen = pin(api, workflow_id, "b", {"from_node_run": str(foreign.pk)})

    assert mine.status_code == 200
    assert mine.json()["items"] == [{"x": 7}]
    assert stolen.status_code == 404
    assert list(PinnedData.objects.values_list("node_id", flat=True)) == ["a"]


# --- debug a past run ------------------------------------------------------------------------


def test_debug_copies_an_executions_recorded_outputs_into_pinned_data(api):
    graph = chain(setter("a", x=1), {"id": "gate", "type": "flow.if", "params": {"condition": "1"}})
    workflow_id = create_workflow(api, graph)
    execution = recorded_execution(Workflow.objects.get(pk=workflow_id), status="failed")
    for node_id, status, output in (
        ("start", "succeeded", {"main": [{}]}),
        ("a", "succeeded", {"main": [{"x": 1}]}),
        ("gate", "succeeded", {"true": [{"x": 1}], "false": []}),
    ):
        NodeRun.objects.create(
            execution=execution, node_id=node_id, node_type="t", status=status, output=output
        )
    pin(api, workflow_id, "a", {"items": [{"old": True}]})

    some = api.post(f"/api/v1/executions/{execution.pk}/debug", {"nodes": ["a"]}, format="json")
    assert [p["node_id"] for p in some.json()] == ["a"]
    assert PinnedData.objects.get(node_id="a").items == [{"x": 1}]
    every = api.post(f"/api/v1/executions/{execution.pk}/debug", {}, format="json")

    assert every.status_code == 200
    pins = {p.node_id: (p.port, p.items) for p in PinnedData.objects.all()}
    assert pins == {
        "start": ("main", [{}]),
        "a": ("main", [{"x": 1}]),
        "gate": ("true", [{"x": 1}]),
    }
    missing = api.post(f"/api/v1/executions/{execution.pk}/debug", {"nodes": ["zz"]}, format="json")
    assert missing.status_code == 400


# --- expression preview ---------------------------------------------------------------------


def preview(api, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = api.post("/api/v1/expressions/preview", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_preview_answers_the_value_of_an_expression_on_the_item(api):
    assert preview(api, expression="{{ json.total * 2 }}", item={"total": 21}) == {
        "value": 42,
        "error": None,
    }
    assert preview(api, expression="Hi {{ json.name }}!", item={"name": "Ada"})["value"] == (
        "Hi Ada!"
    )


def test_a_preview_answers_an_error_with_its_position(api):
    answer = preview(api, expression="total: {{ json.total + }}", item={"total": 1})

    assert answer["value"] is None
    assert answer["error"]["position"] == 7
    assert answer["error"]["message"]


def test_a_preview_is_bounded_like_a_run(api):
    answer = preview(api, expression="{{ 'x' * 100000000 }}")

    assert answer["value"] is None
    assert answer["error"]["message"]


def test_a_preview_with_an_execution_and_node_sees_what_the_node_saw(api):
    workflow_id = create_workflow(api, chain(setter("a", x=1), setter("b", y=2)))
    execution = recorded_execution(Workflow.objects.get(pk=workflow_id))
    NodeRun.objects.create(
        execution=execution,
        node_id="a",
        node_type="data.set",
        status="succeeded",
        sequence=1,
        input=[{}],
        output={"main": [{"x": 5}]},
    )
    NodeRun.objects.create(
        execution=execution,
        node_id="b",
        node_type="data.set",
        status="succeeded",
        sequence=2,
        input=[{"x": 5}],
        output={"main": [{"x": 5, "y": 2}]},
    )

    answer = preview(
        api,
        expression="{{ json.x + nodes.a.json.x }}",
        execution=str(execution.pk),
        node="b",
    )

    assert answer == {"value": 10, "error": None}


def test_a_preview_has_its_own_generous_rate_limit(api, settings):
    settings.LINKFLOW_RATES = {**settings.LINKFLOW_RATES, "preview": "3/min", "default": "1/min"}

    answers = [
        api.post("/api/v1/expressions/preview", {"expression": "{{ 1 }}"}, format="json")
        for _ in range(4)
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]


# --- the test webhook URL --------------------------------------------------------------------


def hook_workflow(owner, then: tuple[dict[str, Any], ...] = ()) -> Workflow:  # type: ignore[no-untyped-def]
    nodes = [{"id": "hook", "type": "trigger.webhook", "params": {"path": "orders"}}, *then]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return workflow_create(
        user=owner,
        workspace=workspace_ensure_personal(user=owner),
        name="hook",
        graph={"nodes": nodes, "edges": edges},
    )


def hook_test_url(api, workflow: Workflow, key: str = "test_url") -> str:  # type: ignore[no-untyped-def]
    webhooks = api.get(f"/api/v1/workflows/{workflow.pk}/").json()["webhooks"]
    return webhooks[0][key].split("://", 1)[1].split("/", 1)[1]


def test_the_test_url_answers_404_until_someone_listens(owner, api):
    workflow = hook_workflow(owner)
    url = "/" + hook_test_url(api, workflow)
    assert url.startswith("/webhooks/test/")

    response = Client().post(url, {"a": 1}, content_type="application/json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_listening"
    assert "listen" in response.json()["error"]["message"]
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert not Execution.objects.exists()


def test_a_request_while_listening_starts_one_test_run_and_closes_the_window(owner, api):
    workflow = hook_workflow(owner, then=(setter("a", x=1),))  # inactive
    listen = api.post(f"/api/v1/workflows/{workflow.pk}/listen", {}, format="json")
    assert listen.status_code == 200
    url = "/" + hook_test_url(api, workflow)

    first = Client().post(url + "?q=1", {"order": 7}, content_type="application/json")
    second = Client().post(url, {"order": 8}, content_type="application/json")

    assert first.status_code == 202
    execution = Execution.objects.get()
    assert (execution.mode, execution.trigger_node_id) == ("test", "hook")
    assert execution.trigger_input["body"] == {"order": 7}
    assert execution.trigger_input["query"] == {"q": "1"}
    assert second.status_code == 404
    assert second.json()["error"]["code"] == "not_listening"
    assert Execution.objects.count() == 1


def test_the_path_style_test_url_and_pin_on_request(owner, api):
    workflow = hook_workflow(owner)
    api.post(f"/api/v1/workflows/{workflow.pk}/listen", {"pin": True}, format="json")

    url = "/" + hook_test_url(api, workflow, "test_path_url")
    response = Client().post(url, {"order": 9}, content_type="application/json")

    assert url.startswith("/webhooks/test/w/")
    assert response.status_code == 202
    assert PinnedData.objects.get(node_id="hook").items[0]["body"] == {"order": 9}


def test_closing_the_window_makes_the_test_url_404_again(owner, api):
    workflow = hook_workflow(owner)
    api.post(f"/api/v1/workflows/{workflow.pk}/listen", {}, format="json")

    assert api.delete(f"/api/v1/workflows/{workflow.pk}/listen").status_code == 204
    response = Client().post(
        "/" + hook_test_url(api, workflow), {}, content_type="application/json"
    )

    assert response.status_code == 404
    assert not Execution.objects.exists()


def test_listening_without_a_webhook_trigger_is_409(api):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))

    assert api.post(f"/api/v1/workflows/{workflow_id}/listen", {}, format="json").status_code == 409


# --- with a worker: partial runs, last-run data, pins never in production -------------------


def statuses(execution_id: str) -> dict[str, tuple[str, str | None]]:
    """node -> (status, how it was decided before the run: pinned / reused / not needed)."""
    out = {}
    for node_id, run in runs_of(execution_id).items():
        note = run.error or {}
        how = (
            "pinned"
            if note.get("pinned")
            else "reused"
            if note.get("reused_from")
            else "not needed"
            if run.status == "skipped" and note.get("warning")
            else None
        )
        out[node_id] = (run.status, how)
    return out


@pytest.mark.django_db(transaction=True)
def test_a_partial_run_runs_only_what_the_node_needs_and_then_reuses_last_run_data(
    api, celery_worker
):
    graph = chain(setter("a", x=1), setter("b", y=2), setter("c", z=3))
    graph["nodes"].append(setter("side", w=4))
    graph["edges"].append({"source": "start", "target": "side"})
    workflow_id = create_workflow(api, graph)

    first = post_test(api, workflow_id, node="b").json()["id"]
    assert wait_status(first) == "succeeded"
    assert statuses(first) == {
        "start": ("succeeded", None),
        "a": ("succeeded", None),
        "b": ("succeeded", None),
        "c": ("skipped", "not needed"),
        "side": ("skipped", "not needed"),
    }

    # Testing c: b has last-run data with the same definition, so nothing above it runs.
    second = post_test(api, workflow_id, node="c").json()["id"]
    assert wait_status(second) == "succeeded"
    assert statuses(second) == {
        "start": ("skipped", "not needed"),
        "a": ("skipped", "not needed"),
        "b": ("succeeded", "reused"),
        "c": ("succeeded", None),
        "side": ("skipped", "not needed"),
    }
    c_output = {r["node_id"]: r for r in detail(api, second)["node_runs"]}["c"]["output"]
    assert c_output == {"main": [{"x": 1, "y": 2, "z": 3}]}

    # b changed (unsaved): its last-run data no longer applies, so b runs; a's still does.
    changed = chain(setter("a", x=1), setter("b", y=20), setter("c", z=3))
    changed["nodes"].append(setter("side", w=4))
    changed["edges"].append({"source": "start", "target": "side"})
    third = post_test(api, workflow_id, graph=changed, node="c").json()["id"]
    assert wait_status(third) == "succeeded"
    assert statuses(third)["a"] == ("succeeded", "reused")
    assert statuses(third)["b"] == ("succeeded", None)
    c_output = {r["node_id"]: r for r in detail(api, third)["node_runs"]}["c"]["output"]
    assert c_output == {"main": [{"x": 1, "y": 20, "z": 3}]}


@pytest.mark.django_db(transaction=True)
def test_pinned_data_feeds_test_runs_and_never_production_executions(api, celery_worker):
    workflow_id = create_workflow(api, chain(setter("a", x=1), setter("b", y=2)))
    assert pin(api, workflow_id, "a", {"items": [{"pinned": True}]}).status_code == 200

    production = execute(api, workflow_id)
    tested = post_test(api, workflow_id).json()["id"]
    unpinned = post_test(api, workflow_id, pinned=False).json()["id"]

    assert [wait_status(e) for e in (production, tested, unpinned)] == ["succeeded"] * 3

    def output_of_b(execution_id: str) -> Any:
        return {r["node_id"]: r for r in detail(api, execution_id)["node_runs"]}["b"]["output"]

    assert output_of_b(production) == {"main": [{"x": 1, "y": 2}]}
    assert output_of_b(tested) == {"main": [{"pinned": True, "y": 2}]}
    assert statuses(tested)["a"] == ("succeeded", "pinned")
    assert output_of_b(unpinned) == {"main": [{"x": 1, "y": 2}]}
    assert statuses(production)["a"] == ("succeeded", None)


# --- the plan: what a test would run for real ------------------------------------------------


def plan(api, workflow_id: str, **body: Any):  # type: ignore[no-untyped-def]
    return api.post(f"/api/v1/workflows/{workflow_id}/test/plan", body, format="json")


def _calling(url: str = "http://127.0.0.1:9/never") -> dict[str, Any]:
    return {"id": "call", "type": "http.request", "params": {"method": "POST", "url": url}}


def test_the_plan_names_the_nodes_with_outside_effects_a_test_would_run_and_runs_nothing(api):
    workflow_id = create_workflow(api, chain(setter("a", x=1), _calling(), setter("b", y=2)))
    before = (Execution.objects.count(), WorkflowVersion.objects.count())

    answer = plan(api, workflow_id)

    assert answer.status_code == 200
    assert answer.json() == {
        "run": ["start", "a", "call", "b"],
        "pinned": [],
        "reused": [],
        "skipped": [],
        "outside_effects": ["call"],
    }
    assert (Execution.objects.count(), WorkflowVersion.objects.count()) == before


def test_a_pinned_or_unneeded_node_is_no_outside_effect_of_the_plan(api):
    workflow_id = create_workflow(api, chain(setter("a", x=1), _calling(), setter("b", y=2)))
    assert pin(api, workflow_id, "call", {"items": [{"status": 200}]}).status_code == 200

    whole = plan(api, workflow_id).json()
    step = plan(api, workflow_id, node="a", pinned=False).json()

    assert (whole["pinned"], whole["outside_effects"]) == (["call"], [])
    assert "call" not in whole["run"]
    assert (step["run"], step["skipped"], step["outside_effects"]) == (
        ["start", "a"],
        ["call", "b"],
        [],
    )


def test_the_plan_reads_the_unsaved_graph_given_and_skips_disabled_nodes(api):
    workflow_id = create_workflow(api, chain(setter("a", x=1)))
    mail = {
        "id": "mail",
        "type": "notify.email",
        "params": {"to": "a@example.com", "subject": "Hi", "text": "Hello"},
    }
    muted = {**_calling(), "id": "muted", "disabled": True}
    unsaved = chain(setter("a", x=1), mail, muted)

    answer = plan(api, workflow_id, graph=unsaved).json()

    assert answer["outside_effects"] == ["mail"]
    assert "muted" not in answer["run"]


def test_the_plan_follows_the_permissions_of_a_test_run(api, viewer, outsider, client_for):
    workflow_id = create_workflow(api, chain(_calling()))

    assert plan(client_for(viewer), workflow_id).status_code == 403
    assert plan(client_for(outsider), workflow_id).status_code == 404
    assert plan(api, workflow_id, node="nope").status_code == 400


def test_node_types_say_which_reach_outside_linkflow(api):
    described = {t["type"]: t["outside_effects"] for t in api.get("/api/v1/node-types/").json()}

    assert described["http.request"] is True
    assert described["notify.email"] is True
    assert described["db.postgres"] is True
    # Pure, sandboxed or random-only types and triggers run nothing outside.
    assert described["data.set"] is False
    assert described["code.python"] is False
    assert described["data.crypto"] is False
    assert described["trigger.webhook"] is False
