"""LINKFLOW_BILLING: off (the default) means no plan limits and LINKFLOW_RETENTION_DAYS; on,
LINKFLOW_DEFAULT_PLAN or the subscription decides, and the usage API and page say which."""

import importlib
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from billing.limits import retention_days
from billing.models import Plan, Subscription
from billing.selectors import month_bounds
from executions.maintenance.cleanup import executions_cleanup
from executions.models import Execution
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow

from ..conftest import ROOT, signed_in_client
from ..executing import chain, create_workflow
from ..factories import UserFactory
from . import on_plan

pytestmark = pytest.mark.django_db

NOOP = {"id": "noop", "type": "flow.noop"}


def post_execute(api, workflow_id: str):  # type: ignore[no-untyped-def]
    return api.post(f"/api/v1/workflows/{workflow_id}/execute", {"input": {}}, format="json")


def test_billing_off_applies_no_plan_limit_even_to_a_workspace_on_a_tiny_plan(owner, api, settings):
    settings.LINKFLOW_BILLING = False
    on_plan(owner, executions_per_month=1, concurrent_executions=1, active_workflows=1)
    workflow_id = create_workflow(api, chain(NOOP))

    executes = [post_execute(api, workflow_id).status_code for _ in range(3)]
    body = {"name": "live", "graph": chain(NOOP), "active": True}
    creates = [api.post("/api/v1/workflows/", body, format="json").status_code for _ in range(2)]

    assert executes == [202, 202, 202]
    assert creates == [201, 201]
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 3
    assert Workflow.objects.filter(active=True).count() == 2


def test_billing_off_keeps_executions_for_linkflow_retention_days(owner, api, settings):
    settings.LINKFLOW_BILLING = False
    settings.LINKFLOW_RETENTION_DAYS = 12
    workspace = on_plan(owner, retention_days=90)  # ignored with billing off
    workflow = Workflow.objects.get(pk=create_workflow(api, chain(NOOP)))
    old, young = (_finished(workflow, days_ago=days) for days in (13, 11))

    deleted = executions_cleanup()

    assert retention_days(workspace.pk) == 12
    assert deleted == 1
    assert list(Execution.objects.values_list("pk", flat=True)) == [young.pk]
    assert not Execution.objects.filter(pk=old.pk).exists()


def _finished(workflow: Workflow, *, days_ago: int) -> Execution:
    moment = timezone.now() - timedelta(days=days_ago)
    execution = Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version_id=workflow.current_version_id,
        mode="api",
        status="succeeded",
        queued_at=moment,
        finished_at=moment,
    )
    Execution.objects.filter(pk=execution.pk).update(created_at=moment)
    return execution


def usage(api, workspace) -> dict:  # type: ignore[no-untyped-def]
    response = api.get(f"/api/v1/workspaces/{workspace.pk}/usage/")
    assert response.status_code == 200
    return response.json()


def test_the_usage_api_says_which_plan_applies_and_why(owner, api, settings):
    workspace = workspace_ensure_personal(user=owner)
    settings.LINKFLOW_DEFAULT_PLAN = "free"

    settings.LINKFLOW_BILLING = False
    off = usage(api, workspace)
    settings.LINKFLOW_BILLING = True
    default = usage(api, workspace)
    on_plan(owner, executions_per_month=10)
    subscribed = usage(api, workspace)

    assert (off["billing"], off["plan"]["source"], off["plan"]["slug"]) == (
        False,
        "billing_off",
        "self-hosted",
    )
    assert off["plan"]["reason"] == "Billing is off (LINKFLOW_BILLING): no plan limits apply."
    assert {name: limit["allowed"] for name, limit in off["limits"].items()} == {
        "executions_per_month": None,
        "concurrent_executions": None,
        "active_workflows": None,
    }
    assert off["subscription"] is None
    assert (default["billing"], default["plan"]["source"], default["plan"]["slug"]) == (
        True,
        "default_plan",
        "free",
    )
    assert default["plan"]["reason"].startswith("Default plan from LINKFLOW_DEFAULT_PLAN")
    assert default["limits"]["executions_per_month"]["allowed"] == 1000
    assert default["subscription"] is None
    assert subscribed["plan"]["source"] == "subscription"
    assert subscribed["limits"]["executions_per_month"]["allowed"] == 10
    assert subscribed["subscription"]["status"] == "active"


def test_the_usage_page_says_why_the_plan_applies(owner, settings):
    settings.LINKFLOW_BILLING = False
    client = signed_in_client(owner)

    off = client.get("/usage/").content.decode()
    settings.LINKFLOW_BILLING = True
    settings.LINKFLOW_DEFAULT_PLAN = "pro"
    on = client.get("/usage/").content.decode()

    assert 'data-plan-source="billing_off"' in off
    assert "Billing is off (LINKFLOW_BILLING): no plan limits apply." in off
    assert "Self-hosted (billing off)" in off
    assert 'data-plan-source="default_plan"' in on
    assert "Default plan from LINKFLOW_DEFAULT_PLAN" in on
    assert "<strong data-plan>Pro</strong>" in on


@pytest.mark.parametrize("value", ["maybe", "of"])
def test_a_malformed_linkflow_billing_stops_start_up_naming_the_variable(value):
    env = {**os.environ, "LINKFLOW_BILLING": value, "DJANGO_SETTINGS_MODULE": "linkflow.settings"}

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    message = f"LINKFLOW_BILLING must be one of on/off, true/false, yes/no, 1/0, not '{value}'"
    assert message in result.stderr


def test_the_migration_removes_only_subscriptions_linkflow_made_on_first_use():
    migration = importlib.import_module("billing.migrations.0003_remove_auto_subscriptions")
    free, pro = Plan.objects.get(slug="free"), Plan.objects.get(slug="pro")
    start, end = month_bounds()
    auto, edited, on_pro, custom = (
        workspace_ensure_personal(user=UserFactory.create()) for _ in range(4)
    )
    month = {"current_period_start": start, "current_period_end": end}
    for workspace, plan, period in [
        (auto, free, month),
        (edited, free, month),
        (on_pro, pro, month),
        (
            custom,
            free,
            {"current_period_start": start, "current_period_end": end + timedelta(days=30)},
        ),
    ]:
        Subscription.objects.create(workspace=workspace, plan=plan, **period)
    Subscription.objects.filter(workspace=edited).update(
        updated_at=timezone.now() + timedelta(minutes=5)
    )

    migration.remove_auto_subscriptions(apps, None)

    kept = set(Subscription.objects.values_list("workspace_id", flat=True))
    assert kept == {edited.pk, on_pro.pk, custom.pk}
