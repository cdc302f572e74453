"""Ending an execution whose worker was lost: killed by the hard time limit, or lost too often.

An execution that kills its worker (an expression or node holding the GIL in C, a memory
blow-up) must not be handed to the next worker to kill it again: it ends ``failed`` with
a reason that says what happened, its feed hears so, and a waiting webhook caller gets
the outcome instead of its own timeout.
"""

import logging
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from executions.feeds import publisher, vocabulary
from executions.feeds.completion import completion_publish
from executions.models import Execution, ExecutionStatus
from executions.starting.error_workflows import error_handoff

logger = logging.getLogger(__name__)

WORKER_TIME_LIMIT = "worker_time_limit"
WORKER_LOST = "worker_lost"


def execution_fail_lost(*, execution_id: str, lease: Q, code: str, message: str) -> bool:
    """Fail the running execution if ``lease`` (a filter on its lease columns) still matches.

    The conditional UPDATE is the fence: an execution finished, cancelled or taken over by
    another worker meanwhile is left alone. Returns True when this call failed it. Never
    waits long on a row lock (PostgreSQL ``lock_timeout``): the caller may be a worker's
    main process, which must keep serving its other children; on a timeout it returns
    False and the lost-lease count (lease.py) ends the execution later instead.
    """
    now = timezone.now()
    error: dict[str, Any] = {"message": message, "code": code, "node_id": None}
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
            rows = Execution.objects.filter(lease, pk=execution_id, status=ExecutionStatus.RUNNING)
            if not rows.update(
                status=ExecutionStatus.FAILED,
                error=error,
                finished_at=now,
                lease_owner="",
                lease_expires_at=None,
                resume_at=None,
            ):
                return False
            execution = Execution.objects.only(
                "workspace_id", "workflow_id", "mode", "created_at"
            ).get(pk=execution_id)
            error_handoff(execution=execution, error=error)
            publisher.events_publish_on_commit([_finished_event(execution, error, now)])
            outcome: dict[str, Any] = {
                "status": "failed",
                "response": None,
                "last_items": [],
                "error": error,
            }
            transaction.on_commit(
                lambda: completion_publish(execution_id=execution_id, outcome=outcome)
            )
    except Exception:  # a lock timeout or an outage: never take the caller down with it
        logger.exception("could not fail lost execution %s", execution_id)
        return False
    logger.warning("execution %s failed: %s", execution_id, message)
    return True


def _finished_event(
    execution: Execution, error: dict[str, Any], finished_at: Any
) -> dict[str, Any]:
    return vocabulary.event_build(
        type=vocabulary.EXECUTION_FINISHED,
        execution_id=execution.pk,
        workspace_id=execution.workspace_id,
        workflow_id=execution.workflow_id,
        status=ExecutionStatus.FAILED,
        error=error,
        finished_at=finished_at.isoformat(),
    )
