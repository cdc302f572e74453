"""Writing NodeRuns from plain column values, in one multi-row statement.

The recorder writes every NodeRun of a checkpoint at once. Building model instances and
going through ``bulk_create`` for that cost more than the statement itself, so the rows
arrive as dicts of column values and become one ``INSERT ... ON CONFLICT DO UPDATE``
(PostgreSQL and SQLite): a waiting node finishing later, or a worker that took over
after a stall, records the same attempt again, and the newer record wins.
"""

import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field
from django.utils import timezone

from .models import NodeRun

# What a re-recorded attempt may change (the rest is the attempt's identity).
UPSERT_FIELDS = (
    *("status", "input", "output", "error", "finished_at", "resume_at", "item_meta"),
    "updated_at",
)
CONFLICT_FIELDS = ("execution_id", "node_id", "iteration", "attempt", "execution_created_at")
# Every column a row gives, besides id, created_at and updated_at (set here).
ROW_FIELDS = (
    *("execution_id", "execution_created_at", "node_id", "node_type", "status", "attempt"),
    *("sequence", "input", "output", "error", "started_at", "finished_at", "resume_at"),
    *("item_meta", "iteration"),
)


def _column(name: str) -> str:
    field = NodeRun._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise LookupError(f"NodeRun.{name} is not a column")  # renamed without this module
    return field.column


@cache
def _statement_parts(vendor: str) -> tuple[str, str, str]:
    quote = connection.ops.quote_name
    names = ("id", "created_at", "updated_at", *ROW_FIELDS)
    columns = ", ".join(quote(_column(name)) for name in names)
    one_row = "(" + ", ".join(["%s"] * len(names)) + ")"
    conflict = ", ".join(quote(_column(name)) for name in CONFLICT_FIELDS)
    updates = ", ".join(
        f"{quote(_column(name))} = excluded.{quote(_column(name))}" for name in UPSERT_FIELDS
    )
    head = f"INSERT INTO {quote(NodeRun._meta.db_table)} ({columns}) VALUES "
    tail = f" ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    return head, one_row, tail


@cache
def _fields() -> tuple[Any, ...]:
    meta = NodeRun._meta
    return tuple(meta.get_field(name) for name in ("id", "created_at", "updated_at", *ROW_FIELDS))


def noderuns_upsert(rows: Sequence[dict[str, Any]]) -> None:
    """Insert the NodeRuns (dicts with every name of ROW_FIELDS), or update the attempts
    already recorded, in one statement. Call it inside the run's fenced transaction."""
    if not rows:
        return
    head, one_row, tail = _statement_parts(connection.vendor)
    fields = _fields()
    now = timezone.now()
    params: list[Any] = []
    for row in rows:
        values = (uuid.uuid4(), now, now, *(row[name] for name in ROW_FIELDS))
        params.extend(
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, values, strict=True)
        )
    sql = head + ", ".join([one_row] * len(rows)) + tail
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
