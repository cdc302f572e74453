"""Reads on plans and subscriptions. Every workspace has a subscription, made on first need."""

import time
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from .models import PLAN_DEFAULTS, Plan, Subscription, SubscriptionStatus


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


def plan_default() -> Plan:
    """The plan named by LINKFLOW_DEFAULT_PLAN, made from PLAN_DEFAULTS if the row is gone
    (a flushed test database; an operator who deleted it)."""
    slug = settings.LINKFLOW_DEFAULT_PLAN
    defaults = PLAN_DEFAULTS.get(slug, {**PLAN_DEFAULTS["free"], "name": slug})
    plan, _ = Plan.objects.get_or_create(slug=slug, defaults=defaults)
    return plan


def subscription_for(workspace_id: object) -> Subscription:
    """The workspace's subscription (with its plan), created on the default plan for the
    current calendar month when it has none. Safe under concurrent first calls."""
    found = Subscription.objects.select_related("plan").filter(workspace_id=workspace_id).first()
    if found is not None:
        return found
    start, end = month_bounds()
    subscription, _ = Subscription.objects.select_related("plan").get_or_create(
        workspace_id=workspace_id,
        defaults={"plan": plan_default(), "current_period_start": start, "current_period_end": end},
    )
    return subscription


# Plans are read on every execute and webhook call but change rarely: each process keeps
# a workspace's plan for a short while (a plan change applies within this many seconds).
PLAN_CACHE_SECONDS = 30.0
_plan_cache: dict[str, tuple[float, Plan]] = {}


def plan_for(workspace_id: object) -> Plan:
    """The plan whose limits apply: the subscription's while it is active, else the default
    plan (a lapsed paid plan falls back to the free limits, never to no limits)."""
    key = str(workspace_id)
    now = time.monotonic()
    cached = _plan_cache.get(key)
    if cached is not None and now - cached[0] < PLAN_CACHE_SECONDS:
        return cached[1]
    subscription = subscription_for(workspace_id)
    plan = subscription.plan if subscription.status == SubscriptionStatus.ACTIVE else plan_default()
    _plan_cache[key] = (now, plan)
    return plan


def plan_cache_clear() -> None:
    """Forget cached plans (tests, and an operator changing a plan in admin)."""
    _plan_cache.clear()
