"""Celery tasks of the executions app: thin wrappers that take ids and call a service."""

import logging
import os
from datetime import datetime

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections

from executions.maintenance.recovery import executions_requeue_stale, executions_resume_due
from executions.running.reconnect import run_reconnecting
from executions.running.worker import execution_fail_time_limit
from executions.services import execution_run
from executions.sources.cron_fires import schedule_fire_due
from executions.starting.sending import RUN_TASK

# Celery ships no types: each shared_task below ignores untyped-decorator (a stubs package
# would let them go; warn_unused_ignores then names them).
logger = logging.getLogger(__name__)


def _did(count: int, message: str) -> int:
    # Periodic maintenance speaks at INFO only when it changed something: a quiet install
    # logs nothing every second.
    if count:
        logger.info(message, count)
    return count


# RunRequest: on the hard time limit the worker's main process fails the execution.
@shared_task(name=RUN_TASK, Request="executions.running.worker:RunRequest")  # type: ignore[untyped-decorator]
def run_execution(execution_id: str) -> None:
    """Run one execution. Safe to deliver twice: the claim lets only one delivery run it.

    Past the soft time limit (prefork only) the execution fails as timed out, unless a
    node caught the signal first (then the node failed with it)."""
    close_old_connections()  # drops a connection whose last statement failed
    try:
        run_reconnecting(execution_run, execution_id=execution_id)
    except SoftTimeLimitExceeded:
        execution_fail_time_limit(
            execution_id=execution_id,
            pid=os.getpid(),
            seconds=settings.LINKFLOW_WORKER_SOFT_TIME_LIMIT_SECONDS,
        )


@shared_task(name="executions.resume_due")  # type: ignore[untyped-decorator]
def resume_due() -> int:
    """Beat: wake executions parked by a wait or a retry back-off whose time has come."""
    return _did(executions_resume_due(), "resumed %d parked executions whose time came")


@shared_task(name="executions.dispatch_sweep")  # type: ignore[untyped-decorator]
def dispatch_sweep() -> int:
    """Beat: dispatch pending executions into free slots nobody handed on (a crash)."""
    from executions.starting.dispatch import dispatch_sweep as sweep

    return sweep()


@shared_task(name="executions.requeue_stale")  # type: ignore[untyped-decorator]
def requeue_stale() -> int:
    """Beat: resume executions whose worker died or whose message was lost."""
    return _did(executions_requeue_stale(), "sent %d stale executions again")


@shared_task(name="executions.fire_schedule")  # type: ignore[untyped-decorator]
def fire_schedule(workflow_id: str, node_id: str, fired_at: str | None = None) -> str | None:
    """Beat: a cron tick of a schedule trigger. ``fired_at`` (ISO) is when the beat sent it;
    every copy of one fire maps to one slot and so to one execution."""
    moment = datetime.fromisoformat(fired_at) if fired_at else None
    execution = schedule_fire_due(workflow_id=workflow_id, node_id=node_id, fired_at=moment)
    return str(execution.pk) if execution is not None else None


@shared_task(name="executions.cleanup")  # type: ignore[untyped-decorator]
def cleanup() -> int:
    """Beat: delete finished executions past retention or their workflow's save policy."""
    from executions.maintenance.cleanup import executions_cleanup

    return _did(executions_cleanup(), "cleanup removed or stripped %d finished executions")


@shared_task(name="executions.ensure_partitions")  # type: ignore[untyped-decorator]
def ensure_partitions() -> list[str]:
    """Beat: create the coming months' partitions ahead of time (nothing on SQLite)."""
    from executions.maintenance.partitions import partitions_ensure

    created = partitions_ensure()
    _did(len(created), "created %d execution partitions")
    return created
