"""A cursor whose statements PostgreSQL parses and plans once per connection.

Django turns psycopg's prepared statements off (for connection poolers) and binds
parameters on the client, so PostgreSQL parses, analyses and plans every statement it is
sent. For the few fixed statements every execution runs (its INSERT, the claim, the
checkpoint, the finish, the dispatch call) that was about a quarter of the CPU PostgreSQL
spent on an execution (bench/RESULTS.md, session 7). ``prepared_cursor`` binds on the
server and prepares each statement on first use; psycopg keeps the last hundred per
connection and the pool keeps the connections.

Only for SQL whose text is fixed (values as parameters): each distinct text is a
prepared statement of its own. Behind a pooler in transaction mode that does not track
prepared statements, set LINKFLOW_DB_PREPARED=false.
"""

from typing import Any, cast

import psycopg
from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper


class _PreparingCursor(psycopg.Cursor[Any]):
    # Django's CursorWrapper calls execute(sql, params) with no way to ask for preparing.
    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        return super().execute(query, params, prepare=True, binary=options.get("binary"))

    def _get_prepared(self, pgq: Any, prepare: bool | None = None) -> Any:
        # Django's query log (DEBUG, assertNumQueries, the benches' counters) reads the
        # text from ``_query``, which psycopg (3.3, pinned) leaves unset when it runs a
        # statement already prepared; this hook sees every execution's query first.
        self._query = pgq
        return super()._get_prepared(pgq, prepare)


def prepared_cursor() -> CursorWrapper:
    """``connection.cursor()``, preparing its statements on PostgreSQL. The wrapper is
    Django's own, so query logging, execute wrappers and error translation apply."""
    if connection.vendor != "postgresql" or not settings.LINKFLOW_DB_PREPARED:
        return connection.cursor()
    # What connection.cursor() does around the cursor it creates.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = _PreparingCursor(connection.connection)
    connection.validate_thread_sharing()
    # (django-stubs types these as taking a CursorWrapper; they take the driver's cursor.)
    if connection.queries_logged:
        return connection.make_debug_cursor(cast(Any, cursor))
    return connection.make_cursor(cast(Any, cursor))
