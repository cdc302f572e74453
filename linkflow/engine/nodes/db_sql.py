"""What db.postgres and db.mysql share: the parameters, the statements for insert, update
and upsert, and the bounded reading of result rows.

SQL is never built from values: ``query`` is a literal (the schema refuses ``{{`` in
it) with ``%s`` or ``%(name)s`` placeholders, and ``parameters`` fill them through the
driver. Insert, update and upsert name a table and columns, which must be plain
identifiers and are quoted by the driver's rules; values always travel as parameters.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.data import ABSENT, get_path
from linkflow.engine.nodes.servers import COLUMN_SCHEMA, TABLE_SCHEMA, json_value
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

MAX_ROWS = 100_000
DEFAULT_MAX_ROWS = 1_000
# The JSON size of all rows one node run may read: results are stored as run output.
MAX_RESULT_BYTES = 10_000_000
DEFAULT_BATCH = 500
OPERATIONS = ("query", "insert", "update", "upsert")
# The error classes a driver raises. An alias because in a node class's body `type` is
# the node's type name, not the builtin.
DriverErrors = tuple[type[Exception], ...]

SQL_PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": list(OPERATIONS), "default": "query"},
        "query": {
            "description": "SQL with %s or %(name)s placeholders; values go in 'parameters'.",
            "type": "string",
            "minLength": 1,
            "maxLength": 100_000,
            "pattern": r"^(?![\s\S]*\{\{)",
        },
        "parameters": {
            "description": "Placeholder values: a list (for %s) or an object (for %(name)s).",
            "anyOf": [{"type": "array"}, {"type": "object"}, {"type": "string"}],
        },
        "table": TABLE_SCHEMA,
        "columns": {
            "description": "Columns to write, taken from the item fields of the same name.",
            "type": "array",
            "items": COLUMN_SCHEMA,
            "minItems": 1,
            "maxItems": 500,
            "uniqueItems": True,
        },
        "key_columns": {
            "description": "update/upsert: the columns that identify a row.",
            "type": "array",
            "items": COLUMN_SCHEMA,
            "minItems": 1,
            "maxItems": 20,
            "uniqueItems": True,
        },
        "read_only": {
            "description": "Run in a read-only transaction.",
            **or_expression({"type": "boolean"}),
            "default": False,
        },
        "max_rows": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_ROWS,
            "default": DEFAULT_MAX_ROWS,
        },
        "batch_size": {
            "type": "integer",
            "minimum": 1,
            "maximum": 10_000,
            "default": DEFAULT_BATCH,
        },
    },
    "additionalProperties": False,
}


def check_sql_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    """query needs ``query``; writes need ``table`` and columns, update/upsert keys."""
    operation = params.get("operation", "query")
    if operation == "query":
        return [] if params.get("query") else [("params.query", "A query needs 'query'.")]
    problems = [] if params.get("table") else [("params.table", f"'{operation}' needs 'table'.")]
    if operation != "insert" and not params.get("key_columns"):
        problems.append(("params.key_columns", f"'{operation}' needs 'key_columns'."))
    if params.get("read_only") is True:
        problems.append(("params.read_only", "A read-only run cannot write."))
    return problems


class SqlNode(NodeType):
    """Base of the SQL database nodes; subclasses connect and quote for their server."""

    params_schema: ClassVar[dict[str, Any]] = SQL_PARAMS_SCHEMA
    placeholder: ClassVar[str] = "%s"

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """See check_sql_params."""
        return check_sql_params(params)

    # --- hooks of the subclasses ---------------------------------------------------

    def connect(self, ctx: NodeContext, *, read_only: bool) -> tuple[Any, Callable[[], None]]:
        """An open DB-API connection in a transaction (read only when asked), and a
        function that aborts its running statement from another thread."""
        raise NotImplementedError

    def quote(self, identifier: str) -> str:
        """``identifier`` (already checked against IDENTIFIER_PATTERN) quoted."""
        raise NotImplementedError

    def upsert_sql(self, table: str, columns: list[str], keys: list[str]) -> str:
        raise NotImplementedError

    def errors(self) -> DriverErrors:
        """The driver's error classes, turned into NodeErrors."""
        raise NotImplementedError

    # --- the run -------------------------------------------------------------------

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """query: the rows of each item's query as items (in item order). insert/update/
        upsert: the input items, written in batches of ``batch_size``. One transaction
        for the whole run, rolled back on any failure. Raises NodeError for a refused
        address, a database error, a statement past the node's time, or more than
        ``max_rows`` rows or MAX_RESULT_BYTES of them."""
        read_only = ctx.param("read_only", default=False) is True
        connection, cancel = self.connect(ctx, read_only=read_only)
        try:
            with _cancel_at(ctx, cancel):
                self._cursor = connection.cursor()
                self._budget = _RowBudget(int(ctx.params.get("max_rows", DEFAULT_MAX_ROWS)))
                if ctx.params.get("operation", "query") == "query":
                    out = [row for i, item in enumerate(items) for row in self._one(ctx, item, i)]
                else:
                    self._write(ctx, items)
                    out = list(items)
            connection.commit()
        except self.errors() as error:
            _rollback(connection)
            raise NodeError(f"{type(error).__name__}: {error}") from None
        except BaseException:
            _rollback(connection)
            raise
        finally:
            connection.close()
        return {"main": out}

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        parameters = ctx.param("parameters", item_index=index, default=None)
        if parameters is not None and not isinstance(parameters, list | dict):
            raise NodeError("'parameters' must be a list or an object.", param="params.parameters")
        values = _bound(parameters)
        self._cursor.execute(ctx.params["query"], values)
        if self._cursor.description is None:
            return [{"affected_rows": self._cursor.rowcount}]
        names = [str(column[0]) for column in self._cursor.description]
        rows = []
        while batch := self._cursor.fetchmany(500):
            for row in batch:
                rows.append(
                    self._budget.take({n: json_value(v) for n, v in zip(names, row, strict=True)})
                )
        return rows

    def _write(self, ctx: NodeContext, items: Items) -> None:
        operation = ctx.params["operation"]
        columns = list(ctx.params.get("columns") or _fields(items))
        keys = list(ctx.params.get("key_columns") or [])
        table = ".".join(self.quote(part) for part in ctx.params["table"].split("."))
        if operation == "update":
            setting = [c for c in columns if c not in keys]
            statement = (
                f"UPDATE {table} SET "
                + ", ".join(f"{self.quote(c)} = {self.placeholder}" for c in setting)
                + " WHERE "
                + " AND ".join(f"{self.quote(k)} = {self.placeholder}" for k in keys)
            )
            order = setting + keys
        else:
            for column in (*columns, *keys):
                if column not in columns:
                    columns.append(column)
            statement = (
                self.upsert_sql(table, columns, keys)
                if operation == "upsert"
                else self.insert_sql(table, columns)
            )
            order = columns
        size = int(ctx.params.get("batch_size", DEFAULT_BATCH))
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            self._cursor.executemany(statement, [[_column(i, c) for c in order] for i in batch])

    def insert_sql(self, table: str, columns: list[str]) -> str:
        quoted = ", ".join(self.quote(c) for c in columns)
        marks = ", ".join([self.placeholder] * len(columns))
        return f"INSERT INTO {table} ({quoted}) VALUES ({marks})"


class _RowBudget:
    """Counts rows and their JSON size against the node's bounds."""

    def __init__(self, max_rows: int) -> None:
        self.rows_left = max_rows
        self.max_rows = max_rows
        self.bytes_left = MAX_RESULT_BYTES

    def take(self, row: dict[str, Any]) -> dict[str, Any]:
        self.rows_left -= 1
        self.bytes_left -= len(json.dumps(row, default=str))
        if self.rows_left < 0:
            raise NodeError(
                f"The query returned more than {self.max_rows} rows: add a LIMIT or a higher "
                "max_rows.",
                param="params.max_rows",
            )
        if self.bytes_left < 0:
            raise NodeError(f"The rows are larger than {MAX_RESULT_BYTES} bytes.")
        return row


def _bound(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        return {k: _sql_value(v) for k, v in parameters.items()}
    if isinstance(parameters, list):
        return [_sql_value(v) for v in parameters]
    return None


def _sql_value(value: Any) -> Any:
    # Objects and lists travel as JSON text: json/jsonb columns take it as it is.
    return json.dumps(value) if isinstance(value, dict | list) else value


def _column(item: dict[str, Any], column: str) -> Any:
    value = get_path(item, column)
    return None if value is ABSENT else _sql_value(value)


def _fields(items: Items) -> list[str]:
    names = list(dict.fromkeys(name for item in items for name in item))
    bad = [n for n in names if not _is_identifier(n)]
    if bad:
        raise NodeError(
            f"Field {bad[0]!r} is not a column name: list 'columns'.", param="params.columns"
        )
    return names


def _is_identifier(name: str) -> bool:
    return (
        name.replace("_", "a").replace("$", "a").isalnum()
        and not name[:1].isdigit()
        and len(name) < 64
    )


def _rollback(connection: Any) -> None:
    # The connection may be gone already; closing it follows anyway.
    with contextlib.suppress(Exception):
        connection.rollback()


@contextmanager
def _cancel_at(ctx: NodeContext, cancel: Callable[[], None]) -> Iterator[None]:
    """Abort the running statement when the node's time is up: the server's own statement
    timeout may be changed by the SQL itself, this one cannot."""
    left = ctx.time_left(default=30.0) or 30.0
    timer = threading.Timer(left, cancel)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
