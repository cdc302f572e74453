"""Writing NodeRuns from plain column values, in one multi-row statement.

The recorder writes every NodeRun of a checkpoint at once. Building model instances and
going through ``bulk_create`` for that cost more than the statement itself, so the rows
arrive as dicts of column values and become one ``INSERT ... ON CONFLICT DO UPDATE``
(PostgreSQL and SQLite): a waiting node finishing later, or a worker that took over
after a stall, records the same attempt again, and the newer record wins.

On PostgreSQL the rows travel as one JSON document read by ``jsonb_to_recordset``: the
statement's text is the same for any number of rows (the driver converts it once and
caches it), and its one parameter is a single ``json.dumps`` instead of a field
conversion and an adaptation per value; the finish puts that same SELECT inside its one
statement (``noderuns_upsert_sql``).
"""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from django.db import connection
from django.db.models import Field
from django.utils import timezone

from executions.models import NodeRun
from linkflow.core.prepared import prepared_cursor

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
_MOMENTS = ("execution_created_at", "started_at", "finished_at", "resume_at")


def _field(name: str) -> "Field[Any, Any]":
    return cast("Field[Any, Any]", NodeRun._meta.get_field(name))


def _column(name: str) -> str:
    field = NodeRun._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise LookupError(f"NodeRun.{name} is not a column")  # renamed without this module
    return field.column


def _quoted(name: str) -> str:
    return connection.ops.quote_name(_column(name))


@cache
def _conflict_clause(vendor: str) -> str:
    conflict = ", ".join(_quoted(name) for name in CONFLICT_FIELDS)
    updates = ", ".join(f"{_quoted(name)} = excluded.{_quoted(name)}" for name in UPSERT_FIELDS)
    return f" ON CONFLICT ({conflict}) DO UPDATE SET {updates}"


@cache
def _statement_parts(vendor: str) -> tuple[str, str, str]:
    names = ("id", "created_at", "updated_at", *ROW_FIELDS)
    columns = ", ".join(_quoted(name) for name in names)
    one_row = "(" + ", ".join(["%s"] * len(names)) + ")"
    head = f"INSERT INTO {connection.ops.quote_name(NodeRun._meta.db_table)} ({columns}) VALUES "
    return head, one_row, _conflict_clause(vendor)


@cache
def _fields() -> tuple[Any, ...]:
    meta = NodeRun._meta
    return tuple(meta.get_field(name) for name in ("id", "created_at", "updated_at", *ROW_FIELDS))


@cache
def _recordset_statement(only_if: str, table: str | None = None) -> str:
    """PostgreSQL: the upsert of the rows in the JSON array parameter (two parameters:
    the moment of the write, then the array) into ``table`` (default: NodeRun's, else one
    of its partitions), only when ``only_if`` (SQL) holds."""
    meta = NodeRun._meta
    record = ", ".join(f"{_quoted(name)} {_field(name).db_type(connection)}" for name in ROW_FIELDS)
    picked = ", ".join(_quoted(name) for name in ROW_FIELDS)
    columns = ", ".join(_quoted(name) for name in ("id", "created_at", "updated_at", *ROW_FIELDS))
    return (
        f"INSERT INTO {connection.ops.quote_name(table or meta.db_table)} ({columns}) "
        f"SELECT gen_random_uuid(), w.at, w.at, {picked} "
        "FROM (SELECT %s::timestamptz AS at) AS w, "
        f"jsonb_to_recordset(%s::jsonb) AS r({record})"
        + (f" WHERE {only_if}" if only_if else "")
        + _conflict_clause(connection.vendor)
    )


def noderuns_upsert_sql(
    rows: Sequence[dict[str, Any]], *, only_if: str = "", table: str | None = None
) -> tuple[str, list[Any]]:
    """PostgreSQL: the statement ``noderuns_upsert`` runs and its parameters, for a caller
    that runs it as part of a larger statement (a data-modifying WITH), where ``only_if``
    may make the write conditional; ``table`` names the rows' month partition, if known."""
    return _recordset_statement(only_if, table), [timezone.now(), _rows_document(rows)]


def _rows_document(rows: Sequence[dict[str, Any]]) -> str:
    # The columns' own names; moments as ISO text, which timestamptz reads exactly. The
    # JSON values are dumped as the JSONField would (no encoder: a value it would refuse
    # is refused here too).
    documents = []
    for row in rows:
        document = {name: row[name] for name in ROW_FIELDS}
        document["execution_id"] = str(row["execution_id"])
        for name in _MOMENTS:
            moment: datetime | None = row[name]
            document[name] = None if moment is None else moment.isoformat()
        documents.append({_column(name): value for name, value in document.items()})
    return json.dumps(documents)


def noderuns_upsert(rows: Sequence[dict[str, Any]]) -> None:
    """Insert the NodeRuns (dicts with every name of ROW_FIELDS), or update the attempts
    already recorded, in one statement. Call it inside the run's fenced transaction."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        statement, document = noderuns_upsert_sql(rows)
        with prepared_cursor() as cursor:
            cursor.execute(statement, document)
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
