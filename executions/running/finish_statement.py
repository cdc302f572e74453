"""PostgreSQL: a finishing run's writes in one statement.

The fenced status UPDATE and the NodeRuns' INSERT are one data-modifying WITH, addressed
to the execution's month partitions by name (or, where they do not exist, to the
partitioned tables with the partition key). The freed slot is handed on after this commits
(executions/starting/dispatch.py, ``dispatch_after_commit``), so a finish never waits for
the workspace's lock, and never holds it while it writes.

The NodeRuns are conditional on the status UPDATE: when the fence does not match (the run
was cancelled or lost its lease) the statement writes nothing and the caller takes the slow
path of recorder.finish.
"""

import json
from datetime import datetime
from typing import Any

from django.db import connection

from executions.models import Execution, ExecutionStatus
from executions.months import month_partitions
from executions.running.noderun_rows import noderuns_upsert_sql
from linkflow.core.prepared import prepared_cursor


def _finish_sql(*, with_rows: str, table: str | None = None) -> str:
    execution = connection.ops.quote_name(table or Execution._meta.db_table)
    return (
        "WITH done AS ("
        f"UPDATE {execution} SET status = %s, error = %s::jsonb, resume_at = %s, "
        "finished_at = %s, lease_owner = '', lease_expires_at = NULL "
        "WHERE id = %s AND created_at = %s AND lease_owner = %s AND status = %s "
        "RETURNING workspace_id)"
        f"{with_rows} SELECT count(*) FROM done"
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
) -> bool:
    """End ``execution`` with ``status`` if the lease ``owner`` still holds it running, and
    write ``rows`` (NodeRun column values) with it; whether the fence matched."""
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
    # Its month's partitions by name where they exist: the statement then costs the same
    # however many months are kept (executions/months.py).
    executions, node_runs = month_partitions(execution.created_at) or (None, None)
    with_rows = ""
    if rows:
        insert, row_params = noderuns_upsert_sql(
            rows, only_if="EXISTS (SELECT 1 FROM done)", table=node_runs
        )
        with_rows = f", written AS ({insert})"
        params.extend(row_params)
    with prepared_cursor() as cursor:
        cursor.execute(_finish_sql(with_rows=with_rows, table=executions), params)
        (updated,) = cursor.fetchone()
    return bool(updated)
