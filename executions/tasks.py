"""Celery tasks of the executions app: thin wrappers that take ids and call a service."""

from datetime import datetime

from celery import shared_task
from django.db import close_old_connections

from .recovery import executions_requeue_stale, executions_resume_due
from .schedules import schedule_fire_due
from .services import execution_run


@shared_task(name="executions.run")
def run_execution(execution_id: str) -> None:
    """Run one execution. Safe to deliver twice: the claim lets only one delivery run it."""
    close_old_connections()  # a kept connection that broke (database restart) is replaced
    execution_run(execution_id=execution_id)


@shared_task(name="executions.resume_due")
def resume_due() -> int:
    """Beat: wake executions parked by a wait or a retry back-off whose time has come."""
    return executions_resume_due()


@shared_task(name="executions.dispatch_sweep")
def dispatch_sweep() -> int:
    """Beat: dispatch pending executions into free slots nobody handed on (a crash)."""
    from .dispatch import dispatch_sweep as sweep

    return sweep()


@shared_task(name="executions.requeue_stale")
def requeue_stale() -> int:
    """Beat: resume executions whose worker died or whose message was lost."""
    return executions_requeue_stale()


@shared_task(name="executions.fire_schedule")
def fire_schedule(workflow_id: str, node_id: str, fired_at: str | None = None) -> str | None:
    """Beat: a cron tick of a schedule trigger. ``fired_at`` (ISO) is when the beat sent it;
    every copy of one fire maps to one slot and so to one execution."""
    moment = datetime.fromisoformat(fired_at) if fired_at else None
    execution = schedule_fire_due(workflow_id=workflow_id, node_id=node_id, fired_at=moment)
    return str(execution.pk) if execution is not None else None


@shared_task(name="executions.cleanup")
def cleanup() -> int:
    """Beat: delete finished executions older than their workspace's retention."""
    from .cleanup import executions_cleanup

    return executions_cleanup()


@shared_task(name="executions.ensure_partitions")
def ensure_partitions() -> list[str]:
    """Beat: create the coming months' partitions ahead of time (nothing on SQLite)."""
    from .partitions import partitions_ensure

    return partitions_ensure()
