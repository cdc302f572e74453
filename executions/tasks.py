"""Celery tasks of the executions app: thin wrappers that take ids and call a service."""

from celery import shared_task
from django.db import close_old_connections

from .recovery import executions_requeue_stale, executions_resume_due
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


@shared_task(name="executions.requeue_stale")
def requeue_stale() -> int:
    """Beat: resume executions whose worker died or whose message was lost."""
    return executions_requeue_stale()
