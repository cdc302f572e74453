"""What the executions app asks billing before and while it runs a workspace's work.

Admission has two parts with different answers. The monthly quota refuses (402): work past
it is not owed. The concurrency limit never refuses: it only bounds how many of the
workspace's executions are dispatched at once (see executions/starting/dispatch.py), so work past
it waits its turn. Both read the workspace's plan through ``plan_for``.
"""

from uuid import UUID

from .limits import _month_admit, _month_count, _month_key, _refuse_at
from .selectors import plan_for


def check_monthly_quota(*, workspace_id: UUID | str) -> None:
    """Admit one more execution this month or raise ``plan_limit_exceeded`` (402, limit
    ``executions_per_month``). An admitted execution is counted against the month at once."""
    plan = plan_for(workspace_id)
    if plan.executions_per_month is None:
        return
    key = _month_key(workspace_id)
    used = _month_count(workspace_id, key=key, allowed=plan.executions_per_month)
    _refuse_at(limit="executions_per_month", allowed=plan.executions_per_month, current=used)
    _month_admit(key)


def concurrency_limit(*, workspace_id: UUID | str) -> int | None:
    """The plan's ``concurrent_executions`` (dispatched plus running), or None: no limit."""
    return plan_for(workspace_id).concurrent_executions
