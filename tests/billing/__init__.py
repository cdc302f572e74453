"""Billing tests. ``on_plan`` puts a user's personal workspace on a plan made for the test."""

import itertools

from billing.models import Plan, Subscription
from billing.selectors import month_bounds, plan_cache_clear
from linkflow.accounts.models import User, Workspace
from linkflow.accounts.services import workspace_ensure_personal

_plans = itertools.count()


def on_plan(user: User, **limits: int | None) -> Workspace:
    """Subscribe the user's personal workspace to a new plan: no limits but ``limits``."""
    values: dict[str, int | None] = {
        "executions_per_month": None,
        "concurrent_executions": None,
        "active_workflows": None,
        "api_requests_per_minute": None,
        "retention_days": 7,
        **limits,
    }
    plan_cache_clear()
    n = next(_plans)
    plan = Plan.objects.create(name=f"Test {n}", slug=f"test-{n}", **values)
    workspace = workspace_ensure_personal(user=user)
    start, end = month_bounds()
    Subscription.objects.update_or_create(
        workspace=workspace,
        defaults={"plan": plan, "current_period_start": start, "current_period_end": end},
    )
    return workspace
