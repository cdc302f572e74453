"""Celery tasks of the billing app: thin wrappers over the usage services."""

from celery import shared_task

from .usage import usage_aggregate_recent


@shared_task(name="billing.aggregate_usage")
def aggregate_usage() -> int:
    """Beat: rebuild today's and yesterday's UsageDaily rows (idempotent)."""
    return usage_aggregate_recent()
