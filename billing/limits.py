"""Plan limit checks and counts: the monthly quota (through billing/admission.py, before an
execution is created) and active workflows (before a workflow goes live).

A breach raises ``plan_limit_exceeded`` (402) with details ``{"limit", "allowed",
"current"}``. The checks are soft at the edge: two requests racing for the last unit of
quota may both pass (the cost of not serialising every execute of a workspace on one lock).

Monthly executions are counted in PostgreSQL (the (workspace, -created_at) index, and never
past the allowance: ``LIMIT allowed``), and that count is kept in the cache for a minute and
incremented on every admitted execution, so the hot path costs one cache read and one
increment, not a scan of up to a month of rows. A cached count can run ahead of the truth
(an admitted execution that then failed to insert) by a few units for at most a minute;
never behind, except for executions created without this check (retries, sub-workflows).

The counting itself is done by the apps that own the rows, through ``billing.meters``.
"""

import contextlib
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import transaction

from linkflow.accounts.models import Workspace
from linkflow.core.errors import LinkflowError

from . import meters
from .error_codes import BillingErrorCode
from .models import Plan
from .selectors import month_bounds, plan_for

_COUNT_RESYNC_SECONDS = 60


def check_activation_allowed(*, workspace_id: UUID | str) -> None:
    """Allow one more active workflow or raise ``plan_limit_exceeded`` (402, limit
    ``active_workflows``). Call it inside the transaction that activates: the workspace row
    is locked until it ends, so concurrent activations cannot both take the last slot.
    With billing off (or a plan without the limit) it allows at once and locks nothing."""
    plan = plan_for(workspace_id)
    if plan.active_workflows is None:
        return
    with transaction.atomic():
        Workspace.objects.select_for_update().filter(pk=workspace_id).first()
        active = active_workflows(workspace_id=workspace_id)
        _refuse_at(limit="active_workflows", allowed=plan.active_workflows, current=active)


def retention_days(workspace_id: UUID | str) -> int:
    """How many days of executions the workspace keeps (the cleanup job's input): the plan's
    with billing on, LINKFLOW_RETENTION_DAYS with billing off."""
    return plan_for(workspace_id).retention_days


def executions_this_month(*, workspace_id: UUID | str, cap: int | None = None) -> int:
    """Executions created in the workspace this calendar month (UTC), counting at most ``cap``."""
    start, _ = month_bounds()
    return meters.executions_created()(workspace_id=workspace_id, since=start, cap=cap)


def concurrent_executions(*, workspace_id: UUID | str, cap: int | None = None) -> int:
    """The workspace's queued plus running executions, counting at most ``cap``."""
    return meters.executions_live()(workspace_id=workspace_id, cap=cap)


def active_workflows(*, workspace_id: UUID | str) -> int:
    """The workspace's active workflows."""
    return meters.workflows_active()(workspace_id=workspace_id)


def plan_limits(plan: Plan) -> dict[str, Any]:
    """The plan's limits by name (None: no limit)."""
    return {
        "executions_per_month": plan.executions_per_month,
        "concurrent_executions": plan.concurrent_executions,
        "active_workflows": plan.active_workflows,
        "retention_days": plan.retention_days,
        "api_requests_per_minute": plan.api_requests_per_minute,
    }


def _refuse_at(*, limit: str, allowed: int, current: int) -> None:
    if current >= allowed:
        raise LinkflowError(
            BillingErrorCode.PLAN_LIMIT_EXCEEDED,
            f"The workspace's plan allows {allowed} {limit.replace('_', ' ')}.",
            details={"limit": limit, "allowed": allowed, "current": current},
            status_code=402,
        )


def _month_key(workspace_id: UUID | str) -> str:
    start, _ = month_bounds()
    return f"billing:executions:{workspace_id}:{start:%Y%m}"


def _month_count(workspace_id: UUID | str, *, key: str, allowed: int) -> int:
    used = cache.get(key)
    if used is None:
        used = executions_this_month(workspace_id=workspace_id, cap=allowed)
        cache.add(key, used, timeout=_COUNT_RESYNC_SECONDS)
        used = cache.get(key, used)
    return int(used)


def _month_admit(key: str) -> None:
    # A key that expired since it was read is simply recounted from the database next time.
    with contextlib.suppress(ValueError):
        cache.incr(key)
