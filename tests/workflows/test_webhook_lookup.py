"""The per-process cache of webhook triggers (workflows/webhook_lookup.py): a change made
in this process is seen by the next call, one URL's entry never answers another, and a
change it is not told of is seen once the entry's seconds are up."""

from typing import Any

import pytest

from executions.models import Execution
from linkflow.accounts.services import workspace_ensure_personal
from workflows import webhook_lookup
from workflows.models import WebhookTrigger, Workflow
from workflows.services import workflow_delete, workflow_update
from workflows.webhook_calls import webhook_trigger_by_token
from workflows.webhook_rows import webhook_token_rotate

from .test_webhooks import call, webhook


def _graph(**hook_params: Any) -> dict[str, Any]:
    return {"nodes": [{"id": "hook", "type": "trigger.webhook", "params": hook_params}]}


@pytest.mark.django_db
def test_a_deactivated_workflow_answers_409_on_the_next_call(client, owner):
    trigger = webhook(owner)
    assert call(client, trigger, b"{}").status_code == 202  # now cached

    workflow_update(user=owner, workflow=trigger.workflow, changes={"active": False})
    response = call(client, trigger, b"{}")

    assert response.status_code == 409
    assert Execution.objects.filter(workflow=trigger.workflow).count() == 1


@pytest.mark.django_db
def test_a_rotated_token_stops_answering_on_the_next_call(client, owner):
    trigger = webhook(owner)
    old_token = trigger.token
    assert call(client, trigger, b"{}").status_code == 202

    webhook_token_rotate(trigger=trigger)
    old = client.post(f"/webhooks/{old_token}", b"{}", "application/json")
    new = client.post(f"/webhooks/{trigger.token}", b"{}", "application/json")

    assert (old.status_code, new.status_code) == (404, 202)


@pytest.mark.django_db
def test_a_node_disabled_by_a_graph_save_answers_404_on_the_next_call(client, owner):
    trigger = webhook(owner)
    assert call(client, trigger, b"{}").status_code == 202
    graph = _graph()
    graph["nodes"][0]["disabled"] = True

    workflow_update(user=owner, workflow=trigger.workflow, changes={"graph": graph})

    assert call(client, trigger, b"{}").status_code == 404


@pytest.mark.django_db
def test_a_method_changed_by_a_graph_save_applies_on_the_next_call(client, owner):
    trigger = webhook(owner)
    assert call(client, trigger, b"{}").status_code == 202

    workflow_update(user=owner, workflow=trigger.workflow, changes={"graph": _graph(method="PUT")})

    assert call(client, trigger, b"{}").status_code == 405
    assert call(client, trigger, b"{}", method="PUT").status_code == 202


@pytest.mark.django_db
def test_a_deleted_workflow_answers_404_on_the_next_call(client, owner):
    trigger = webhook(owner)
    assert call(client, trigger, b"{}").status_code == 202

    workflow_delete(user=owner, workflow=trigger.workflow)

    assert call(client, trigger, b"{}").status_code == 404


@pytest.mark.django_db
def test_the_same_path_in_two_workspaces_starts_each_workspace_s_own_workflow(
    client, owner, outsider
):
    ours = webhook(owner, {"path": "orders"})
    theirs = webhook(outsider, {"path": "orders"})

    for trigger in (ours, theirs, ours, theirs):  # the second round from the cache
        url = f"/webhooks/w/{trigger.workspace_id}/orders"
        assert client.post(url, b"{}", "application/json").status_code == 202

    started = Execution.objects.values_list("workflow_id", "workspace_id")
    assert sorted(map(tuple, started)) == sorted(
        [(ours.workflow_id, ours.workspace_id)] * 2
        + [(theirs.workflow_id, theirs.workspace_id)] * 2
    )


@pytest.mark.django_db
def test_a_path_of_one_workspace_does_not_answer_under_another(client, owner, outsider):
    ours = webhook(owner, {"path": "orders"})
    assert client.post(f"/webhooks/w/{ours.workspace_id}/orders", b"{}", "application/json")
    elsewhere = workspace_ensure_personal(user=outsider).pk

    response = client.post(f"/webhooks/w/{elsewhere}/orders", b"{}", "application/json")

    assert response.status_code == 404


@pytest.mark.django_db
def test_an_unannounced_change_is_seen_once_the_entry_expires(client, owner, monkeypatch):
    # Another process's change sends no signal here: only the entry's age bounds it.
    trigger = webhook(owner)
    clock = [1000.0]
    monkeypatch.setattr(webhook_lookup.recent, "clock", lambda: clock[0])
    assert call(client, trigger, b"{}").status_code == 202
    Workflow.objects.filter(pk=trigger.workflow_id).update(active=False)  # no signal

    within = call(client, trigger, b"{}").status_code
    clock[0] += webhook_lookup.TRIGGER_CACHE_SECONDS + 0.1
    after = call(client, trigger, b"{}").status_code

    assert (within, after) == (202, 409)


@pytest.mark.django_db
def test_each_cached_lookup_builds_its_own_instances(owner):
    trigger = webhook(owner)

    first = webhook_trigger_by_token(token=trigger.token, cached=True)
    second = webhook_trigger_by_token(token=trigger.token, cached=True)

    assert first is not second and first.workflow is not second.workflow
    assert (second.pk, second.workflow_id, second.workflow.workspace_id) == (
        trigger.pk,
        trigger.workflow_id,
        trigger.workspace_id,
    )
    assert second.workflow.active and second.workflow.current_version_id is not None
    assert WebhookTrigger.objects.get(pk=trigger.pk).token == second.token


@pytest.mark.django_db
def test_a_cached_trigger_loads_a_field_it_did_not_keep_when_asked(owner):
    trigger = webhook(owner)
    webhook_trigger_by_token(token=trigger.token, cached=True)

    cached = webhook_trigger_by_token(token=trigger.token, cached=True)

    assert cached.workflow.layout == Workflow.objects.get(pk=trigger.workflow_id).layout
