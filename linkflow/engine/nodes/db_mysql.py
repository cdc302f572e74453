"""db.mysql: queries and batched writes against MySQL or MariaDB.

PyMySQL is handed a socket opened by ``open_guarded_socket`` (so it connects only where
the address policy allows); the statement time is bounded by the server
(``max_statement_time`` on MariaDB, ``max_execution_time`` on MySQL), by the socket's
read timeout, and by the node's deadline, which kills the running query.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pymysql

from linkflow.engine.errors import NodeError
from linkflow.engine.net import open_guarded_socket
from linkflow.engine.nodes.db_sql import SqlNode
from linkflow.engine.nodes.servers import node_timeout, policy

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext
    from linkflow.engine.nodes.db_sql import DriverErrors


class MySql(SqlNode):
    """Runs SQL on MySQL or MariaDB, or inserts, updates and upserts items in batches."""

    type = "db.mysql"
    credential_types = ("mysql",)
    label = "MySQL / MariaDB"
    description = (
        "Runs a parameterised query per item and emits the rows, or inserts, updates or "
        "upserts the items into a table in batches (mysql credential)."
    )

    def connect(self, ctx: NodeContext, *, read_only: bool) -> tuple[Any, Callable[[], None]]:
        """A PyMySQL connection over a guarded socket, in a transaction."""
        fields = ctx.credential()
        host, port = str(fields.get("host") or ""), int(fields.get("port") or 3306)
        timeout = node_timeout(ctx)
        connection = pymysql.connect(
            host=host,
            port=port,
            user=str(fields.get("username") or ""),
            password=str(fields.get("password") or ""),
            database=str(fields.get("database") or ""),
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            ssl=ssl.create_default_context() if fields.get("security") == "tls" else None,
            autocommit=False,
            defer_connect=True,
            local_infile=False,
        )
        try:
            connection.connect(
                sock=open_guarded_socket(host, port, timeout=timeout, policy=policy(ctx))
            )
        except (OSError, pymysql.Error) as error:
            raise NodeError(f"Could not connect: {error}", param="credential") from None
        self._bound_statements(connection, timeout=timeout, read_only=read_only)
        return connection, lambda: _kill(connection)

    def _bound_statements(self, connection: Any, *, timeout: float, read_only: bool) -> None:
        with connection.cursor() as cursor:
            if "MariaDB" in connection.get_server_info():
                cursor.execute("SET SESSION max_statement_time = %s", (timeout,))
            else:
                cursor.execute("SET SESSION max_execution_time = %s", (int(timeout * 1000),))
            cursor.execute("START TRANSACTION READ ONLY" if read_only else "START TRANSACTION")

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def upsert_sql(self, table: str, columns: list[str], keys: list[str]) -> str:
        updates = [c for c in columns if c not in keys] or keys[:1]
        action = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in updates)
        return f"{self.insert_sql(table, columns)} ON DUPLICATE KEY UPDATE {action}"

    def errors(self) -> DriverErrors:
        return (pymysql.Error,)


def _kill(connection: Any) -> None:
    """Shut the socket under a statement past its time: the blocked read then fails, and
    the server aborts the query when it notices the client is gone (PyMySQL has no
    cancel of its own)."""
    with contextlib.suppress(OSError, AttributeError):
        connection._sock.shutdown(socket.SHUT_RDWR)
