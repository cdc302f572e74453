"""Webhook trigger rows follow the graph: created, updated, deleted on save; tokens stay."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from workflows.api.serializers import WorkflowOutSerializer
from workflows.models import WebhookTrigger, Workflow, WorkflowVersion
from workflows.services import workflow_create, workflow_delete, workflow_update
from workflows.webhook_rows import webhook_token_rotate

pytestmark = pytest.mark.django_db


def hook(node_id: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "trigger.webhook", "params": params}


def graph_of(*triggers: dict[str, Any]) -> dict[str, Any]:
    """The triggers, each feeding one data.set node."""
    tag = {"id": "tag", "type": "data.set", "params": {"fields": {"seen": True}}}
    edges = [{"source": t["id"], "target": "tag"} for t in triggers]
    return {"nodes": [*triggers, tag], "edges": edges}


def create(user: User, graph: dict[str, Any], name: str = "hooks") -> Workflow:
    workspace = workspace_ensure_personal(user=user)
    return workflow_create(user=user, workspace=workspace, name=name, graph=graph)


def rows(workflow: Workflow) -> dict[str, WebhookTrigger]:
    return {t.node_id: t for t in WebhookTrigger.objects.filter(workflow=workflow)}


def test_saving_a_workflow_stores_one_trigger_per_webhook_node_with_its_settings(owner):
    graph = graph_of(
        hook("orders", method="PUT", path="orders/new/", mode="sync", timeout_seconds=5),
        hook("plain"),
        {"id": "manual", "type": "trigger.manual"},
    )

    workflow = create(owner, graph)

    stored = rows(workflow)
    assert set(stored) == {"orders", "plain"}
    orders, plain = stored["orders"], stored["plain"]
    assert (orders.method, orders.path, orders.mode, orders.timeout_seconds) == (
        "PUT",
        "orders/new",
        "sync",
        5,
    )
    assert (plain.method, plain.path, plain.mode, plain.auth, plain.timeout_seconds) == (
        "POST",
        "",
        "async",
        "none",
        30,
    )
    assert orders.workspace_id == workflow.workspace_id
    assert len(orders.token) >= 32 and orders.token != plain.token


def test_editing_the_graph_keeps_tokens_of_kept_nodes_and_adds_and_removes_the_rest(owner):
    workflow = create(owner, graph_of(hook("a", path="a"), hook("b")))
    before = rows(workflow)

    graph = graph_of(hook("a", method="GET", path="renamed"), hook("c"))
    workflow_update(user=owner, workflow=workflow, changes={"graph": graph})

    after = rows(workflow)
    assert set(after) == {"a", "c"}
    assert after["a"].token == before["a"].token
    assert (after["a"].method, after["a"].path) == ("GET", "renamed")
    assert after["c"].token not in {before["a"].token, before["b"].token}


def test_a_disabled_node_keeps_its_row_and_token(owner):
    workflow = create(owner, graph_of(hook("a")))
    token = rows(workflow)["a"].token
    graph = graph_of(hook("a"))
    graph["nodes"][0]["disabled"] = True

    workflow_update(user=owner, workflow=workflow, changes={"graph": graph})

    assert rows(workflow)["a"].disabled is True
    assert rows(workflow)["a"].token == token


def test_removing_every_webhook_node_deletes_the_rows(owner):
    workflow = create(owner, graph_of(hook("a")))
    manual_only = {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}

    workflow_update(user=owner, workflow=workflow, changes={"graph": manual_only})

    assert rows(workflow) == {}


def test_deleting_the_workflow_deletes_its_triggers(owner):
    workflow = create(owner, graph_of(hook("a", path="a")))

    workflow_delete(user=owner, workflow=workflow)

    assert WebhookTrigger.objects.count() == 0


def test_two_nodes_may_swap_their_paths_in_one_save(owner):
    workflow = create(owner, graph_of(hook("a", path="first"), hook("b", path="second")))

    graph = graph_of(hook("a", path="second"), hook("b", path="first"))
    workflow_update(user=owner, workflow=workflow, changes={"graph": graph})

    assert {n: t.path for n, t in rows(workflow).items()} == {"a": "second", "b": "first"}


def test_a_path_taken_by_another_workflow_refuses_the_new_one_with_409_and_stores_nothing(
    owner, api: APIClient
):
    taken = create(owner, graph_of(hook("a", path="orders")))
    counts = (Workflow.objects.count(), WorkflowVersion.objects.count())

    body = {"name": "second", "graph": graph_of(hook("mine", path="orders/"))}
    response = api.post("/api/v1/workflows/", body, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "webhook_path_taken",
        "message": "The webhook path 'orders' is already used in this workspace.",
        "details": {"node_id": "mine", "path": "orders"},
    }
    assert (Workflow.objects.count(), WorkflowVersion.objects.count()) == counts
    assert list(WebhookTrigger.objects.values_list("workflow_id", "path")) == [(taken.pk, "orders")]


def test_an_edit_taking_another_workflows_path_answers_409_and_keeps_the_old_version(
    owner, api: APIClient
):
    create(owner, graph_of(hook("a", path="orders")))
    other = create(owner, graph_of(hook("b", path="refunds")), name="other")

    response = api.patch(
        f"/api/v1/workflows/{other.pk}/",
        {"graph": graph_of(hook("b", path="orders"))},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"node_id": "b", "path": "orders"}
    other.refresh_from_db()
    assert other.current_version.number == 1
    assert rows(other)["b"].path == "refunds"


def test_two_nodes_of_one_graph_cannot_share_a_path(owner, api: APIClient):
    graph = graph_of(hook("a", path="same"), hook("b", path="same"))

    response = api.post("/api/v1/workflows/", {"name": "x", "graph": graph}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"node_id": "b", "path": "same"}
    assert Workflow.objects.count() == 0


def test_the_same_path_is_free_in_another_workspace(owner, outsider):
    create(owner, graph_of(hook("a", path="orders")))

    theirs = create(outsider, graph_of(hook("a", path="orders")))

    assert rows(theirs)["a"].path == "orders"


def test_the_api_lists_each_webhook_with_its_absolute_urls_in_graph_order(owner, api):
    workflow = create(owner, graph_of(hook("z", method="GET", path="orders"), hook("a")))
    tokens = {n: t.token for n, t in rows(workflow).items()}

    response = api.get(f"/api/v1/workflows/{workflow.pk}/")

    assert response.status_code == 200
    ws = workflow.workspace_id
    assert response.json()["webhooks"] == [
        {
            "node_id": "z",
            "method": "GET",
            "url": f"http://testserver/webhooks/{tokens['z']}",
            "path_url": f"http://testserver/webhooks/w/{ws}/orders",
            "test_url": f"http://testserver/webhooks/test/{tokens['z']}",
            "test_path_url": f"http://testserver/webhooks/test/w/{ws}/orders",
        },
        {
            "node_id": "a",
            "method": "POST",
            "url": f"http://testserver/webhooks/{tokens['a']}",
            "path_url": None,
            "test_url": f"http://testserver/webhooks/test/{tokens['a']}",
            "test_path_url": None,
        },
    ]


def test_without_a_request_urls_use_the_public_url_setting(owner, settings):
    settings.LINKFLOW_PUBLIC_URL = "https://flows.example.com/"
    workflow = create(owner, graph_of(hook("a")))

    webhooks = WorkflowOutSerializer(workflow).data["webhooks"]

    token = rows(workflow)["a"].token
    assert webhooks[0]["url"] == f"https://flows.example.com/webhooks/{token}"


def test_a_workflow_without_webhooks_lists_none(owner, api):
    workflow = create(owner, {"nodes": [{"id": "s", "type": "trigger.manual"}], "edges": []})

    assert api.get(f"/api/v1/workflows/{workflow.pk}/").json()["webhooks"] == []


def test_listing_workflows_loads_webhooks_with_a_constant_number_of_queries(owner, api):
    create(owner, graph_of(hook("a")))
    api.get("/api/v1/workflows/")  # warm up per-process caches (content types, sessions)
    with CaptureQueriesContext(connection) as one:
        api.get("/api/v1/workflows/")
    for n in range(3):
        create(owner, graph_of(hook("a"), hook("b")), name=f"more {n}")

    with CaptureQueriesContext(connection) as four:
        response = api.get("/api/v1/workflows/")

    assert sorted(len(w["webhooks"]) for w in response.json()) == [1, 2, 2, 2]
    assert len(four) == len(one)


def test_an_outsider_sees_no_webhook_urls_of_another_workspace(owner, outsider, client_for):
    workflow = create(owner, graph_of(hook("a")))

    response = client_for(outsider).get(f"/api/v1/workflows/{workflow.pk}/")

    assert response.status_code == 404
    assert "webhooks" not in response.json()


def test_rotating_a_token_replaces_it(owner):
    workflow = create(owner, graph_of(hook("a")))
    trigger = rows(workflow)["a"]
    old = trigger.token

    webhook_token_rotate(trigger=trigger)

    assert rows(workflow)["a"].token not in (old, "")


def test_the_admin_lists_triggers_and_shows_the_token_read_only(owner, admin_client):
    workflow = create(owner, graph_of(hook("a", path="orders")))
    trigger = rows(workflow)["a"]

    listing = admin_client.get("/admin/workflows/webhooktrigger/", {"q": "orders"})
    page = admin_client.get(f"/admin/workflows/webhooktrigger/{trigger.pk}/change/")

    assert listing.status_code == 200
    assert "orders" in listing.content.decode()
    assert page.status_code == 200
    assert trigger.token in page.content.decode()
    assert 'name="token"' not in page.content.decode()
