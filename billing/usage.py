"""Usage metering: the daily rollup of finished executions, and a workspace's usage report."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from django.utils import timezone

from . import meters
from .limits import active_workflows, concurrent_executions, executions_this_month, plan_limits
from .models import UsageDaily
from .selectors import month_bounds, plan_effective

_COUNTED = ("succeeded", "failed", "cancelled", "node_runs", "execution_seconds")
REPORT_DAYS = 30


def usage_aggregate(*, day: date) -> int:
    """Write the UsageDaily row of every workspace with an execution that finished on ``day``
    (UTC): executions by final status, their node runs, and their run time in seconds.

    Idempotent: each row is rebuilt from the executions, never added to, so running it again
    (or twice at once) gives the same rows. Returns how many rows were written. Executions
    still unfinished are counted on the day they finish.
    """
    start = datetime.combine(day, time.min, tzinfo=UTC)
    totals = meters.executions_finished()(start=start, end=start + timedelta(days=1))
    rows = [
        UsageDaily(
            workspace_id=workspace.workspace_id,
            day=day,
            succeeded=workspace.succeeded,
            failed=workspace.failed,
            cancelled=workspace.cancelled,
            node_runs=workspace.node_runs,
            execution_seconds=workspace.execution_seconds,
        )
        for workspace in totals
    ]
    UsageDaily.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["workspace", "day"],
        update_fields=[*_COUNTED, "updated_at"],
    )
    return len(rows)


def usage_aggregate_recent() -> int:
    """Rebuild yesterday's and today's rows (yesterday's last executions finish after
    midnight's first run). Returns the rows written."""
    today = timezone.now().astimezone(UTC).date()
    return usage_aggregate(day=today - timedelta(days=1)) + usage_aggregate(day=today)


def usage_report(*, workspace_id: UUID | str) -> dict[str, Any]:
    """The workspace's plan (and why it applies: billing off, the default plan, or its
    subscription), its limits against current use, and the last REPORT_DAYS days of
    UsageDaily (oldest first, days without a row as zeros)."""
    effective = plan_effective(workspace_id)
    plan, subscription = effective.plan, effective.subscription
    limits = plan_limits(plan)
    current = {
        "executions_per_month": executions_this_month(workspace_id=workspace_id),
        "concurrent_executions": concurrent_executions(workspace_id=workspace_id),
        "active_workflows": active_workflows(workspace_id=workspace_id),
    }
    start, end = month_bounds()
    return {
        "workspace": str(workspace_id),
        "billing": effective.source != "billing_off",
        "plan": {
            "slug": plan.slug,
            "name": plan.name,
            "source": effective.source,
            "reason": effective.reason,
        },
        "subscription": None
        if subscription is None
        else {
            "status": subscription.status,
            "plan": subscription.plan.slug,
            "current_period_start": subscription.current_period_start,
            "current_period_end": subscription.current_period_end,
        },
        "month": {"start": start, "end": end},
        "limits": {
            name: {"allowed": limits[name], "current": used} for name, used in current.items()
        },
        "retention_days": plan.retention_days,
        "api_requests_per_minute": plan.api_requests_per_minute,
        "daily": _daily(workspace_id),
        "refused_fires": meters.workflows_refused()(workspace_id=workspace_id, since=start),
    }


def _daily(workspace_id: UUID | str) -> list[dict[str, Any]]:
    today = timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=REPORT_DAYS - 1)
    stored = {
        row["day"]: row
        for row in UsageDaily.objects.filter(workspace_id=workspace_id, day__gte=first).values(
            "day", *_COUNTED
        )
    }
    empty = dict.fromkeys(_COUNTED, 0)
    days = (first + timedelta(days=n) for n in range(REPORT_DAYS))
    return [{**empty, **stored.get(day, {}), "day": day} for day in days]
