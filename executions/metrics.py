"""The executions' fleet gauges on /metrics, read from PostgreSQL at every scrape
(registered with ``linkflow.core.metrics`` by ``ExecutionsConfig.ready``)."""

from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from executions.maintenance.dead_letters import dead_letters_pending_count
from executions.maintenance.recovery import stale_condition
from executions.models import Execution, ExecutionStatus

# Waits this much past their resume time mean the resume beat is not keeping up.
OVERDUE = timedelta(seconds=60)


def execution_gauges() -> Iterable[Metric]:
    """Executions by status, stale ones, overdue waits and pending dead letters."""
    now = timezone.now()
    by_status = dict(
        Execution.objects.order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    executions = GaugeMetricFamily(
        "linkflow_executions", "Executions stored, by status.", labels=["status"]
    )
    for status in ExecutionStatus.values:
        executions.add_metric([status], by_status.get(status, 0))
    overdue = Q(status=ExecutionStatus.WAITING, resume_at__lt=now - OVERDUE)
    return [
        executions,
        GaugeMetricFamily(
            "linkflow_executions_stale",
            "Running executions whose lease expired, and queued ones whose message seems lost.",
            value=Execution.objects.filter(stale_condition(now=now)).count(),
        ),
        GaugeMetricFamily(
            "linkflow_executions_waiting_overdue",
            "Waiting executions more than a minute past their resume time.",
            value=Execution.objects.filter(overdue).count(),
        ),
        GaugeMetricFamily(
            "linkflow_dead_letters_pending",
            "Failed jobs waiting for an operator to replay or discard them.",
            value=dead_letters_pending_count(),
        ),
    ]
