"""PostgreSQL: a finishing run's writes in one statement.

A finish used to be, inside its transaction: the fenced status UPDATE, the NodeRuns'
INSERT, the lock on the workspace row and the promotion, each a round trip, the lock taken
by every finish of the workspace even with nothing waiting for a slot. One data-modifying
WITH now does the first three, and takes the lock only when the workspace has pending
executions (an EXISTS on the ``(workspace, status, queued_at)`` index): the caller then
promotes, in the same transaction, under the lock that statement took. The promotion is a
statement of its own because only a statement started after the lock is held sees every
promotion committed before it.

An execution admitted pending while this runs, after its snapshot, is not seen by it: if
the admission's own promotion still counted this run's slot as held, the execution waits
for the next finish of the workspace or the beat's ``dispatch_sweep``, whichever comes
first (tests/executions/test_finish_statement.py).

The NodeRuns and the lock are conditional on the status UPDATE: when the fence does not
match (the run was cancelled or lost its lease) the statement writes nothing and the
caller takes the slow path of recorder.finish.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from executions.models import Execution, ExecutionStatus
from executions.running.noderun_rows import noderuns_upsert_sql
from linkflow.accounts.models import Workspace


@dataclass(frozen=True)
class FinishWritten:
    # The fence matched: the status, and the NodeRuns given, are written.
    updated: bool
    # The workspace has pending executions and this transaction now holds its row lock.
    promote: bool


def _finish_sql(*, with_rows: str) -> str:
    execution = connection.ops.quote_name(Execution._meta.db_table)
    workspace = connection.ops.quote_name(Workspace._meta.db_table)
    return (
        "WITH done AS ("
        f"UPDATE {execution} SET status = %s, error = %s::jsonb, resume_at = %s, "
        "finished_at = %s, lease_owner = '', lease_expires_at = NULL "
        "WHERE id = %s AND created_at = %s AND lease_owner = %s AND status = %s "
        "RETURNING workspace_id)"
        f"{with_rows}, held AS ("
        f"SELECT w.id FROM {workspace} AS w WHERE w.id = (SELECT workspace_id FROM done) "
        f"AND EXISTS (SELECT 1 FROM {execution} AS p "
        "WHERE p.workspace_id = w.id AND p.status = %s) FOR NO KEY UPDATE OF w) "
        "SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM held)"
    )


def finish_write(
    *,
    execution: Execution,
    owner: str,
    status: str,
    error: dict[str, Any] | None,
    resume_at: datetime | None,
    finished_at: datetime | None,
    rows: list[dict[str, Any]],
) -> FinishWritten:
    """Inside the caller's transaction: end ``execution`` with ``status`` if the lease
    ``owner`` still holds it running, write ``rows`` (NodeRun column values) with it, and
    lock the workspace row if executions are pending there."""
    params: list[Any] = [
        status,
        None if error is None else json.dumps(error),
        resume_at,
        finished_at,
        execution.pk,
        execution.created_at,  # the partition key: only this month's partition is read
        owner,
        ExecutionStatus.RUNNING.value,
    ]
    with_rows = ""
    if rows:
        insert, row_params = noderuns_upsert_sql(rows, only_if="EXISTS (SELECT 1 FROM done)")
        with_rows = f", written AS ({insert})"
        params.extend(row_params)
    params.append(ExecutionStatus.PENDING.value)
    with connection.cursor() as cursor:
        cursor.execute(_finish_sql(with_rows=with_rows), params)
        updated, held = cursor.fetchone()
    return FinishWritten(updated=bool(updated), promote=bool(held))
