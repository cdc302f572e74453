"""Monthly partitions of executions and NodeRuns on PostgreSQL.

``executions_execution`` is range-partitioned on ``created_at`` and ``executions_noderun``
on ``execution_created_at`` (its execution's ``created_at``), both by calendar month in
UTC, one partition per month named ``<table>_yYYYYmMM`` plus a ``<table>_default``
partition that catches rows of a month nobody created a partition for (a beat that was
down for months, a row back-dated by hand). An execution and its NodeRuns therefore always
share a month, and a whole month past every workspace's retention is removed by dropping
both partitions in one statement (cleanup.py) instead of deleting rows.

``partitions_ensure`` (a daily beat task) creates the coming months ahead of time and moves
rows the default partition caught into a partition of their own month. On SQLite (the
embedded default) the tables are plain and everything here does nothing.
"""

from datetime import datetime

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

# The month arithmetic and the hot path's lookup live below the runner (months.py).
from executions.months import EXECUTIONS, TABLES, Month, month_partitions_forget

DEDUPE = "executions_dedupe"
# Held (per transaction) by whatever creates, fills or drops partitions, so two beats or a
# beat and a cleanup never race on the catalog.
_LOCK_KEY = 0x4C4650  # "LFP"


def partitioning_enabled() -> bool:
    """True when the executions table is partitioned (PostgreSQL after migration 0004)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))",
            [EXECUTIONS],
        )
        return bool(cursor.fetchone()[0])


def partition_months() -> list[Month]:
    """The months that have an executions partition, oldest first ([] when unpartitioned)."""
    if not partitioning_enabled():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s)",
            [EXECUTIONS],
        )
        names = [row[0] for row in cursor.fetchall()]
    months = []
    prefix = f"{EXECUTIONS}_y"
    for name in names:
        if name.startswith(prefix) and len(name) == len(prefix) + 7:
            year, month = name[len(prefix) : len(prefix) + 4], name[-2:]
            months.append(Month(int(year), int(month)))
    return sorted(months, key=lambda m: (m.year, m.month))


def partitions_ensure(*, now: datetime | None = None, ahead: int = 2) -> list[str]:
    """Make sure this month and the next ``ahead`` months have partitions, and give every
    month the default partition holds rows of a partition of its own (moving the rows).

    Idempotent and safe to run concurrently; returns the partitions it created (none on
    SQLite or when all exist).
    """
    if not partitioning_enabled():
        return []
    current = Month.of(now or timezone.now())
    wanted = [current.plus(n) for n in range(ahead + 1)]
    created: list[str] = []
    for month in sorted({*wanted, *_months_in_default()}, key=lambda m: (m.year, m.month)):
        created += partition_create(month=month)
    return created


def partition_create(*, month: Month) -> list[str]:
    """Create the month's executions and NodeRun partitions unless they exist; rows of the
    month in the default partitions move into them. Returns the tables it created."""
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        partition_lock(cursor)
        for table, key in TABLES:
            name = month.partition(table)
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if cursor.fetchone()[0]:
                continue
            bounds = f"FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"
            default = f"{table}_default"
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {key} >= %s AND {key} < %s)",
                [month.start, month.end],
            )
            if cursor.fetchone()[0]:
                _move_out_of_default(cursor, table, key, name, bounds, month)
            else:
                cursor.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES {bounds}")
            created.append(name)
    month_partitions_forget()
    return created


def _move_out_of_default(
    cursor: CursorWrapper, table: str, key: str, name: str, bounds: str, month: Month
) -> None:
    # A new partition cannot be attached while the default one holds rows of its range:
    # the rows move to a detached table first, which is then attached (one transaction,
    # so readers see them in one place or the other).
    columns = ", ".join(_columns(cursor, table))
    cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {table}_default WHERE {key} >= %s AND {key} < %s"
        f" RETURNING {columns}) INSERT INTO {name} ({columns}) SELECT {columns} FROM moved",
        [month.start, month.end],
    )
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES {bounds}")
    if table == EXECUTIONS:
        # Deleting from the default partition released the rows' dedupe keys.
        cursor.execute(
            f"INSERT INTO {DEDUPE} (workflow_id, dedupe_key, execution_id)"
            f" SELECT workflow_id, dedupe_key, id FROM {name} WHERE dedupe_key IS NOT NULL"
            " ON CONFLICT DO NOTHING"
        )


def _columns(cursor: CursorWrapper, table: str) -> list[str]:
    cursor.execute(
        "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = to_regclass(%s)"
        " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _months_in_default() -> list[Month]:
    months = set()
    with connection.cursor() as cursor:
        for table, key in TABLES:
            cursor.execute(
                f"SELECT DISTINCT date_trunc('month', {key} AT TIME ZONE 'UTC')"
                f" FROM {table}_default"
            )
            months |= {Month.of(row[0]) for row in cursor.fetchall()}
    return list(months)


def partition_lock(cursor: CursorWrapper) -> None:
    """Take the partition maintenance lock for the current transaction."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
