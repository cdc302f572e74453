"""PostgreSQL: a checkpoint (the fence and the pending NodeRuns) in one statement.

A checkpoint runs before and after every node with outside effects. As a transaction of
its own (BEGIN, the fence's UPDATE, the INSERT, COMMIT) it cost four round trips and a new
version of the execution's row, whose indexed ``lease_expires_at`` changed: every index of
the table got a new entry, twice per outside call. Here it is one statement that commits
by itself, and the fence only locks the row (FOR UPDATE) while the lease has more than
half its length left: the heartbeat renews it every third of its length, so a fence that
finds less than half left renews it too, as lease_fence always does.

The lock lasts until the statement commits, so a takeover (a conditional UPDATE of the
same row) waits for the checkpoint and then finds this owner's rows written; the NodeRuns
are conditional on the fence, so a run that lost its lease writes nothing.
"""

from typing import Any

from django.db import connection
from django.utils import timezone

from executions.models import Execution
from executions.months import month_partitions
from executions.running.lease import Lease, lease_length
from executions.running.noderun_rows import noderuns_upsert_sql
from linkflow.core.prepared import prepared_cursor


def _held_sql(*, renew: bool, table: str | None = None) -> str:
    execution = connection.ops.quote_name(table or Execution._meta.db_table)
    where = "WHERE id = %s AND created_at = %s AND lease_owner = %s"
    if renew:
        return f"UPDATE {execution} SET lease_expires_at = %s {where} RETURNING 1"
    return f"SELECT 1 FROM {execution} {where} FOR UPDATE"


def checkpoint_write(*, execution: Execution, lease: Lease, rows: list[dict[str, Any]]) -> bool:
    """Write ``rows`` (NodeRun column values) if ``lease`` still holds ``execution``, locking
    its row until this commits; whether it held. Renews the lease when it is running short."""
    now = timezone.now()
    expires_at = now + lease_length()
    renew = lease.expires_at - now < lease_length() / 2
    params: list[Any] = [expires_at] if renew else []
    # The partition key with the id: only this month's partition is read (by name where
    # it exists: executions/months.py).
    params += [execution.pk, execution.created_at, lease.owner]
    executions, node_runs = month_partitions(execution.created_at) or (None, None)
    statement = f"WITH held AS ({_held_sql(renew=renew, table=executions)})"
    if rows:
        insert, row_params = noderuns_upsert_sql(
            rows, only_if="EXISTS (SELECT 1 FROM held)", table=node_runs
        )
        statement += f", written AS ({insert})"
        params.extend(row_params)
    with prepared_cursor() as cursor:
        cursor.execute(statement + " SELECT count(*) FROM held", params)
        (held,) = cursor.fetchone()
    if held and renew:
        lease.expires_at = expires_at
    return bool(held)
