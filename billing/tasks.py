"""Celery tasks of the billing app: thin wrappers over the usage services."""

from celery import shared_task

from .usage import usage_aggregate_recent


# Celery ships no types (see executions/tasks.py).
@shared_task(name="billing.aggregate_usage")  # type: ignore[untyped-decorator]
def aggregate_usage() -> int:
    """Beat: rebuild today's and yesterday's UsageDaily rows (idempotent)."""
    return usage_aggregate_recent()
