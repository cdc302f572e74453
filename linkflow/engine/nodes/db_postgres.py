"""db.postgres: queries and batched writes against a PostgreSQL database.

psycopg connects to the address the policy checked (``hostaddr``) while ``host`` keeps
the name for TLS verification; the statement timeout is set at connection start and the
node's deadline cancels a statement that outlives it anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.db_sql import SqlNode
from linkflow.engine.nodes.servers import server

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext
    from linkflow.engine.nodes.db_sql import DriverErrors


class Postgres(SqlNode):
    """Runs SQL on PostgreSQL, or inserts, updates and upserts items in batches."""

    type = "db.postgres"
    credential_types = ("postgres",)
    label = "PostgreSQL"
    description = (
        "Runs a parameterised query per item and emits the rows, or inserts, updates or "
        "upserts the items into a table in batches (postgres credential)."
    )

    def connect(self, ctx: NodeContext, *, read_only: bool) -> tuple[Any, Callable[[], None]]:
        """A psycopg connection to the credential's database, in a transaction."""
        target = server(ctx, kind="postgres", default_port=5432)
        milliseconds = max(1, int(target.timeout * 1000))
        options = f"-c statement_timeout={milliseconds}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        try:
            connection = psycopg.connect(
                host=target.host,
                hostaddr=target.address,
                port=target.port,
                dbname=str(target.fields.get("database") or ""),
                user=str(target.fields.get("username") or ""),
                password=str(target.fields.get("password") or ""),
                sslmode=str(target.fields.get("security") or "prefer"),
                connect_timeout=max(1, math.ceil(target.timeout)),
                options=options,
                # The server's own settings must not be read from the worker's environment.
                passfile="/dev/null",
            )
        except psycopg.Error as error:
            raise NodeError(f"Could not connect: {error}", param="credential") from None
        connection.read_only = read_only
        return connection, connection.cancel_safe

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def upsert_sql(self, table: str, columns: list[str], keys: list[str]) -> str:
        updates = [c for c in columns if c not in keys]
        conflict = ", ".join(self.quote(k) for k in keys)
        action = (
            "DO UPDATE SET "
            + ", ".join(f"{self.quote(c)} = EXCLUDED.{self.quote(c)}" for c in updates)
            if updates
            else "DO NOTHING"
        )
        return f"{self.insert_sql(table, columns)} ON CONFLICT ({conflict}) {action}"

    def errors(self) -> DriverErrors:
        return (psycopg.Error,)
