"""A disabled trigger node starts nothing, whichever kind it is (docs/nodes.md).

Every trigger reader goes through the engine's Graph; these tests fail when one of them
reads a disabled node as enabled again (the copies of the graph reading used to differ).
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from executions.models import Execution
from executions.sources.cron_fires import schedule_fire
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from workflows.listening import listen_open
from workflows.models import ListenerTrigger, WebhookTrigger, Workflow
from workflows.services import workflow_create, workflow_update

pytestmark = pytest.mark.django_db


def active_workflow(user: User, *triggers: dict[str, Any]) -> Workflow:
    """The triggers, each feeding one flow.noop node, saved and activated."""
    noop = {"id": "noop", "type": "flow.noop"}
    graph = {
        "nodes": [*triggers, noop],
        "edges": [{"source": t["id"], "target": "noop"} for t in triggers],
    }
    workspace = workspace_ensure_personal(user=user)
    workflow = workflow_create(user=user, workspace=workspace, name="triggers", graph=graph)
    return workflow_update(user=user, workflow=workflow, changes={"active": True})


def disabled(node: dict[str, Any]) -> dict[str, Any]:
    return {**node, "disabled": True}


def hook(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "trigger.webhook", "params": {}}


def every_minute(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "trigger.schedule", "params": {"cron": "* * * * *"}}


def test_a_disabled_webhook_answers_neither_its_url_nor_its_test_url(owner):
    workflow = active_workflow(owner, hook("on"), disabled(hook("off")))
    off = WebhookTrigger.objects.get(workflow=workflow, node_id="off")
    listen_open(user=owner, workflow=workflow)  # the enabled node lets the editor listen

    production = Client().post(f"/webhooks/{off.token}", {}, content_type="application/json")
    test = Client().post(f"/webhooks/test/{off.token}", {}, content_type="application/json")

    assert (production.status_code, test.status_code) == (404, 404)
    assert Execution.objects.count() == 0


def test_enabling_a_disabled_webhook_again_answers_at_the_url_it_had(owner):
    workflow = active_workflow(owner, disabled(hook("off")))
    token = WebhookTrigger.objects.get(workflow=workflow).token
    graph = workflow.current_version.graph
    graph["nodes"][0]["disabled"] = False

    workflow_update(user=owner, workflow=workflow, changes={"graph": graph})
    response = Client().post(f"/webhooks/{token}", {}, content_type="application/json")

    assert response.status_code == 202
    assert Execution.objects.get().trigger_node_id == "off"


def test_a_disabled_listening_trigger_holds_no_subscription(owner):
    redis_list = {"type": "trigger.redis", "params": {"mode": "list", "key": "jobs"}}

    workflow = active_workflow(
        owner, {"id": "on", **redis_list}, disabled({"id": "off", **redis_list})
    )

    assert list(
        ListenerTrigger.objects.filter(workflow=workflow).values_list("node_id", flat=True)
    ) == ["on"]


def test_a_fire_sent_for_a_node_disabled_since_starts_nothing(owner):
    workflow = active_workflow(owner, every_minute("tick"))
    assert PeriodicTask.objects.filter(name__endswith=":tick").exists()
    graph = workflow.current_version.graph
    graph["nodes"][0]["disabled"] = True
    workflow_update(user=owner, workflow=workflow, changes={"graph": graph})

    fired = schedule_fire(
        workflow_id=workflow.pk, node_id="tick", slot=datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    )

    assert fired is None
    assert Execution.objects.count() == 0
    assert not PeriodicTask.objects.filter(name__endswith=":tick").exists()
