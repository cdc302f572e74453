"""Plan limits: executions a month, concurrent executions and active workflows answer 402."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.limits import retention_days
from billing.models import Subscription, SubscriptionStatus
from billing.selectors import month_bounds, plan_cache_clear, plan_effective
from executions.models import Execution
from executions.starting.dispatch import dispatch_promote
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import WebhookTrigger, Workflow

from ..executing import chain, create_workflow
from . import on_plan

pytestmark = pytest.mark.django_db

NOOP = {"id": "noop", "type": "flow.noop"}


def refusal(limit: str, allowed: int, current: int, message: str) -> dict:
    return {
        "error": {
            "code": "plan_limit_exceeded",
            "message": message,
            "details": {"limit": limit, "allowed": allowed, "current": current},
        }
    }


def post_execute(api, workflow_id: str):  # type: ignore[no-untyped-def]
    return api.post(f"/api/v1/workflows/{workflow_id}/execute", {"input": {}}, format="json")


def test_executing_past_the_monthly_quota_answers_402_and_queues_nothing(owner, api):
    on_plan(owner, executions_per_month=2)
    workflow_id = create_workflow(api, chain(NOOP))
    assert [post_execute(api, workflow_id).status_code for _ in range(2)] == [202, 202]

    response = post_execute(api, workflow_id)

    assert response.status_code == 402
    assert response.json() == refusal(
        "executions_per_month", 2, 2, "The workspace's plan allows 2 executions per month."
    )
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 2


def test_executions_of_earlier_months_do_not_count_against_this_one(owner, api):
    on_plan(owner, executions_per_month=1)
    workflow = Workflow.objects.get(pk=create_workflow(api, chain(NOOP)))
    old = Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version_id=workflow.current_version_id,
        mode="api",
        status="succeeded",
        queued_at=timezone.now(),
    )
    Execution.objects.filter(pk=old.pk).update(created_at=month_bounds()[0] - timedelta(seconds=1))

    assert post_execute(api, str(workflow.pk)).status_code == 202
    assert post_execute(api, str(workflow.pk)).status_code == 402


def test_executing_past_the_concurrent_executions_waits_pending_until_one_finishes(owner, api):
    on_plan(owner, concurrent_executions=1)
    workflow_id = create_workflow(api, chain(NOOP))
    first = post_execute(api, workflow_id)
    assert first.status_code == 202
    assert first.json()["status"] == "queued"

    second = post_execute(api, workflow_id)

    assert second.status_code == 202
    assert second.json()["status"] == "pending"
    assert Execution.objects.get(pk=second.json()["id"]).dispatched_at is None
    # The slot frees when the first one ends; whoever ended it hands the slot on.
    Execution.objects.filter(pk=first.json()["id"]).update(status="succeeded")
    assert (
        dispatch_promote(workspace_id=Execution.objects.get(pk=first.json()["id"]).workspace_id)
        == 1
    )
    assert Execution.objects.get(pk=second.json()["id"]).status == "queued"


def test_waiting_executions_do_not_count_as_concurrent(owner, api):
    on_plan(owner, concurrent_executions=1)
    workflow_id = create_workflow(api, chain(NOOP))
    first = post_execute(api, workflow_id).json()["id"]
    Execution.objects.filter(pk=first).update(status="waiting")

    assert post_execute(api, workflow_id).status_code == 202


def test_creating_an_active_workflow_past_the_plan_answers_402_and_stores_nothing(owner, api):
    on_plan(owner, active_workflows=1)
    body = {"name": "w", "graph": chain(NOOP), "active": True}
    assert api.post("/api/v1/workflows/", body, format="json").status_code == 201

    response = api.post("/api/v1/workflows/", {**body, "name": "second"}, format="json")

    assert response.status_code == 402
    assert response.json() == refusal(
        "active_workflows", 1, 1, "The workspace's plan allows 1 active workflows."
    )
    assert list(Workflow.objects.values_list("name", flat=True)) == ["w"]


def activate(api, workflow_id: str, active: bool = True) -> int:  # type: ignore[no-untyped-def]
    return api.patch(
        f"/api/v1/workflows/{workflow_id}/", {"active": active}, format="json"
    ).status_code


def test_activating_past_the_plan_answers_402_and_the_workflow_stays_inactive(owner, api):
    on_plan(owner, active_workflows=1)
    live = create_workflow(api, chain(NOOP), name="live")
    idle = create_workflow(api, chain(NOOP), name="idle")
    assert activate(api, live) == 200

    response = api.patch(f"/api/v1/workflows/{idle}/", {"active": True}, format="json")

    assert response.status_code == 402
    assert response.json()["error"]["details"] == {
        "limit": "active_workflows",
        "allowed": 1,
        "current": 1,
    }
    assert Workflow.objects.get(pk=idle).active is False
    # Editing an already active workflow, or freeing the slot, is never refused.
    assert activate(api, live) == 200
    assert activate(api, live, active=False) == 200
    assert activate(api, idle) == 200


def test_a_webhook_call_past_the_monthly_quota_answers_402_in_the_error_shape(owner, api):
    on_plan(owner, executions_per_month=1)
    hook = {"id": "hook", "type": "trigger.webhook", "params": {}}
    body = {"name": "hook", "graph": {"nodes": [hook], "edges": []}, "active": True}
    workflow_id = api.post("/api/v1/workflows/", body, format="json").json()["id"]
    token = WebhookTrigger.objects.get(workflow_id=workflow_id).token
    client = Client()
    assert client.post(f"/webhooks/{token}", {}, content_type="application/json").status_code == 202

    response = client.post(f"/webhooks/{token}", {}, content_type="application/json")

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "plan_limit_exceeded"
    # The anonymous caller learns the workspace's plan figures no more than its errors
    # (docs/api.md): a reference the operator finds in the log, nothing else.
    details = response.json()["error"]["details"]
    assert set(details) == {"reference"}
    assert "executions_per_month" not in response.content.decode()
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 1


def test_a_workspace_without_a_subscription_follows_the_default_plan_and_no_row_is_written(
    owner, settings
):
    settings.LINKFLOW_DEFAULT_PLAN = "free"
    workspace = workspace_ensure_personal(user=owner)

    effective = plan_effective(workspace.pk)

    assert (effective.plan.slug, effective.source, effective.subscription) == (
        "free",
        "default_plan",
        None,
    )
    assert (
        effective.plan.executions_per_month,
        effective.plan.concurrent_executions,
        effective.plan.active_workflows,
        effective.plan.api_requests_per_minute,
    ) == (1000, 5, 5, 60)
    assert retention_days(workspace.pk) == 7
    assert not Subscription.objects.filter(workspace=workspace).exists()


def test_changing_the_default_plan_reaches_a_workspace_that_was_already_used(owner, api, settings):
    settings.LINKFLOW_DEFAULT_PLAN = "free"
    workflow_id = create_workflow(api, chain(NOOP))
    assert post_execute(api, workflow_id).status_code == 202  # first use: limits checked

    settings.LINKFLOW_DEFAULT_PLAN = "unlimited"  # the operator changes it and restarts
    plan_cache_clear()

    workspace = workspace_ensure_personal(user=owner)
    assert plan_effective(workspace.pk).plan.slug == "unlimited"
    assert not Subscription.objects.filter(workspace=workspace).exists()
    assert [post_execute(api, workflow_id).status_code for _ in range(6)] == [202] * 6


def test_retention_days_follow_the_plan_and_a_lapsed_plan_falls_back_to_the_default(
    owner, settings
):
    settings.LINKFLOW_DEFAULT_PLAN = "free"
    workspace = on_plan(owner, retention_days=90)
    assert retention_days(workspace.pk) == 90

    Subscription.objects.filter(workspace=workspace).update(status=SubscriptionStatus.CANCELLED)
    plan_cache_clear()  # plans are cached per process for PLAN_CACHE_SECONDS

    assert retention_days(workspace.pk) == 7


def test_retry_and_rerun_count_against_the_plan(owner, api):
    on_plan(owner, executions_per_month=1)
    workflow_id = create_workflow(api, chain(NOOP))
    first = post_execute(api, workflow_id).json()["id"]
    Execution.objects.filter(pk=first).update(status="failed")

    retry = api.post(f"/api/v1/executions/{first}/retry")
    rerun = api.post(f"/api/v1/executions/{first}/rerun", {"from_node": "noop"}, format="json")

    assert retry.status_code == 402
    assert rerun.status_code == 402
    assert retry.json()["error"]["details"]["limit"] == "executions_per_month"
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 1


def test_a_cron_fire_past_the_quota_is_skipped(owner, api):
    from executions.sources.cron_fires import schedule_fire

    on_plan(owner, executions_per_month=0)
    graph = {
        "nodes": [{"id": "tick", "type": "trigger.schedule", "params": {"cron": "* * * * *"}}],
        "edges": [],
    }
    workflow_id = create_workflow(api, graph)
    Workflow.objects.filter(pk=workflow_id).update(active=True)
    slot = timezone.now().replace(second=0, microsecond=0)

    assert schedule_fire(workflow_id=workflow_id, node_id="tick", slot=slot) is None
    assert not Execution.objects.filter(workflow_id=workflow_id).exists()
