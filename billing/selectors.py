"""Reads on plans and subscriptions: which plan applies to a workspace, and why.

Billing off (``LINKFLOW_BILLING``, the default): no plan limits at all, and retention is
``LINKFLOW_RETENTION_DAYS``; the plan is an unsaved, limitless ``Plan``, so every check
reads the same attributes either way. Billing on: an active subscription's plan, else the
plan named by ``LINKFLOW_DEFAULT_PLAN`` (read from the settings on every lookup, never
copied into a row, so changing it and restarting applies to every such workspace).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from .models import PLAN_DEFAULTS, Plan, Subscription, SubscriptionStatus

PlanSource = Literal["billing_off", "default_plan", "subscription"]

_REASONS: dict[PlanSource, str] = {
    "billing_off": "Billing is off (LINKFLOW_BILLING): no plan limits apply.",
    "default_plan": "Default plan from LINKFLOW_DEFAULT_PLAN (the workspace has no active "
    "subscription).",
    "subscription": "The workspace's subscription.",
}


@dataclass(frozen=True)
class EffectivePlan:
    """The plan whose limits apply to a workspace, where it came from, and in words why."""

    plan: Plan
    source: PlanSource
    subscription: Subscription | None

    @property
    def reason(self) -> str:
        return _REASONS[self.source]


def month_bounds(moment: datetime | None = None) -> tuple[datetime, datetime]:
    """The calendar month (UTC) holding ``moment`` (default now): [start, end)."""
    moment = (moment or timezone.now()).astimezone(UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def billing_enabled() -> bool:
    """Whether plan limits apply at all (``LINKFLOW_BILLING``)."""
    return bool(settings.LINKFLOW_BILLING)


def plan_self_hosted() -> Plan:
    """The limitless plan of billing off (not a row: nothing to edit, nothing to go stale)."""
    return Plan(
        name="Self-hosted (billing off)",
        slug="self-hosted",
        executions_per_month=None,
        concurrent_executions=None,
        active_workflows=None,
        retention_days=settings.LINKFLOW_RETENTION_DAYS,
        api_requests_per_minute=None,
    )


def plan_default() -> Plan:
    """The plan named by LINKFLOW_DEFAULT_PLAN, made from PLAN_DEFAULTS if the row is gone
    (a flushed test database; an operator who deleted it)."""
    slug = settings.LINKFLOW_DEFAULT_PLAN
    defaults = PLAN_DEFAULTS.get(slug, {**PLAN_DEFAULTS["free"], "name": slug})
    plan, _ = Plan.objects.get_or_create(slug=slug, defaults=defaults)
    return plan


def subscription_get(workspace_id: object) -> Subscription | None:
    """The workspace's subscription with its plan, or None: none is made on first use (a
    workspace without one follows LINKFLOW_DEFAULT_PLAN)."""
    if not isinstance(workspace_id, UUID | str):  # e.g. None: no workspace, no subscription
        return None
    return Subscription.objects.select_related("plan").filter(workspace_id=workspace_id).first()


def plan_effective(workspace_id: object) -> EffectivePlan:
    """Which plan applies to the workspace and why (uncached; the usage page and API).

    A lapsed (past due, cancelled) subscription falls back to the default plan, never to
    no limits.
    """
    if not billing_enabled():
        return EffectivePlan(plan=plan_self_hosted(), source="billing_off", subscription=None)
    subscription = subscription_get(workspace_id)
    if subscription is not None and subscription.status == SubscriptionStatus.ACTIVE:
        return EffectivePlan(
            plan=subscription.plan, source="subscription", subscription=subscription
        )
    return EffectivePlan(plan=plan_default(), source="default_plan", subscription=subscription)


# Plans are read on every execute and webhook call but change rarely: each process keeps
# a workspace's plan for a short while (a plan change applies within this many seconds).
PLAN_CACHE_SECONDS = 30.0
_plan_cache: dict[str, tuple[float, Plan]] = {}


def plan_for(workspace_id: object) -> Plan:
    """The plan whose limits apply (see ``plan_effective``), cached per process briefly."""
    if not billing_enabled():
        return plan_self_hosted()
    key = str(workspace_id)
    now = time.monotonic()
    cached = _plan_cache.get(key)
    if cached is not None and now - cached[0] < PLAN_CACHE_SECONDS:
        return cached[1]
    plan = plan_effective(workspace_id).plan
    _plan_cache[key] = (now, plan)
    return plan


def plan_cache_clear() -> None:
    """Forget cached plans (tests, and an operator changing a plan in admin)."""
    _plan_cache.clear()
