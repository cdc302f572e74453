"""SQLite, with this process's writers taking turns on a lock of its own.

SQLite lets one writer in at a time; a connection that finds the database locked sleeps
in SQLite's busy handler (1, 2, 5, 10 … 100 ms) and tries again, however soon the lock
was free. In the embedded mode every writer is a thread of one process (the web's, the
worker's, the scheduler's), so those sleeps were most of its latency tail under load.
Here a writer first takes a process-wide lock, held for one write statement outside a
transaction or from BEGIN to COMMIT/ROLLBACK of a transaction, so the next writer starts
the moment the last one ends. Another process (a management command beside ``make run``)
still meets SQLite's own lock and busy timeout; a writer that waits here longer than that
timeout goes on without the lock and leaves it to SQLite, so a mistake here can slow a
write down but never block it for good.

A write with ``RETURNING`` keeps SQLite's lock until its last row is fetched, not when
``execute`` returns: outside a transaction its rows are read while the lock is held and
served from memory, so the next writer never finds SQLite still locked by it.
"""

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from django.db.backends.sqlite3 import base

_WRITER = threading.Lock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "WITH")


def _is_write(query: str) -> bool:
    return query.lstrip()[:7].upper().startswith(_WRITES)


def _returns_rows(query: str) -> bool:
    return "RETURNING" in query.upper()


if TYPE_CHECKING:
    # The transaction hooks overridden below are private to Django: django-stubs lacks them.
    class _SQLiteWrapper(base.DatabaseWrapper):
        def _start_transaction_under_autocommit(self) -> None: ...
        def _commit(self) -> None: ...
        def _rollback(self) -> None: ...
        def _close(self) -> None: ...

else:
    _SQLiteWrapper = base.DatabaseWrapper


class DatabaseWrapper(_SQLiteWrapper):
    _holds_writer = False

    def take_writer(self) -> bool:
        """Take the process's writer lock for this connection; whether it was taken."""
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        self._holds_writer = _WRITER.acquire(timeout=timeout)
        return self._holds_writer

    def give_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
            _WRITER.release()

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=_Cursor)
        cursor.wrapper = self
        return cursor

    def _start_transaction_under_autocommit(self) -> None:
        self.take_writer()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self.give_writer()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            self.give_writer()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self.give_writer()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self.give_writer()


class _Cursor(base.SQLiteCursorWrapper):
    wrapper: DatabaseWrapper
    # The rows of a RETURNING write, read while the writer lock was held (see the module).
    _buffered: Iterator[Any] | None = None

    def execute(self, query: str, params: Any = None) -> Any:
        self._buffered = None
        return self._in_turn(query, super().execute, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        self._buffered = None
        return self._in_turn(query, super().executemany, param_list)

    def _in_turn(self, query: str, run: Callable[[str, Any], Any], params: Any) -> Any:
        # Inside a transaction the lock is held already (or SQLite's own lock decides).
        if self.connection.in_transaction or not _is_write(query):
            return run(query, params)
        taken = self.wrapper.take_writer()
        try:
            result = run(query, params)
            if _returns_rows(query):
                self._buffered = iter(super().fetchall())  # the statement ends here
            return result
        finally:
            if taken:
                self.wrapper.give_writer()

    def fetchone(self) -> Any:
        if self._buffered is None:
            return super().fetchone()
        return next(self._buffered, None)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._buffered is None:
            return super().fetchmany(self.arraysize if size is None else size)
        return list(itertools.islice(self._buffered, self.arraysize if size is None else size))

    def fetchall(self) -> list[Any]:
        if self._buffered is None:
            return super().fetchall()
        return list(self._buffered)

    def __next__(self) -> Any:
        if self._buffered is None:
            return super().__next__()
        return next(self._buffered)
