"""The embedded mode's SQLite backend (linkflow/core/sqlite_writer): this process's
writers take turns on a lock of its own, held for a write or a whole transaction, and a
writer that cannot get it in time still writes."""

import threading
from pathlib import Path

import pytest

from linkflow.core.sqlite_writer.base import _WRITER, DatabaseWrapper


def _wrapper(path: Path, timeout: float = 5) -> DatabaseWrapper:
    settings = {
        "ENGINE": "linkflow.core.sqlite_writer",
        "NAME": str(path),
        "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE"},
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
    }
    return DatabaseWrapper(settings, alias=f"writer-{path.name}")


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    # Connections of these tests' own files, not the test database.
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "w.sqlite3"
    setup = _wrapper(path)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    setup.close()
    assert not _WRITER.locked()
    return path


def test_a_transaction_holds_the_lock_until_it_ends(db_file):
    for end in ("commit", "rollback", "close"):
        db = _wrapper(db_file)
        db.ensure_connection()
        db._start_transaction_under_autocommit()
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO t (v) VALUES (%s)", [end])
        assert _WRITER.locked()
        getattr(db, "_" + end)()
        assert not _WRITER.locked(), f"{end} left the writer lock held"
        db.close()


@pytest.mark.parametrize("many", [False, True], ids=["execute", "executemany"])
def test_a_write_outside_a_transaction_waits_for_the_lock(db_file, many):
    """While another writer of this process holds the lock (SQLite itself not locked),
    an autocommit INSERT waits for it instead of going ahead."""
    assert _WRITER.acquire()
    written = threading.Event()

    def write() -> None:
        writer = _wrapper(db_file)  # a connection belongs to its thread
        with writer.cursor() as cursor:
            if many:
                cursor.executemany("INSERT INTO t (v) VALUES (%s)", [["second"], ["third"]])
            else:
                cursor.execute("INSERT INTO t (v) VALUES (%s)", ["second"])
        written.set()
        writer.close()

    thread = threading.Thread(target=write)
    try:
        thread.start()
        assert not written.wait(0.3), "the write went ahead while the lock was held"
    finally:
        _WRITER.release()
    thread.join(5)
    assert written.is_set()
    reader = _wrapper(db_file)
    with reader.cursor() as cursor:
        cursor.execute("SELECT v FROM t")
        assert cursor.fetchall() == ([("second",), ("third",)] if many else [("second",)])
    reader.close()
    assert not _WRITER.locked()


def test_a_writer_that_cannot_get_the_lock_in_time_still_writes(db_file):
    db = _wrapper(db_file, timeout=0.2)
    assert _WRITER.acquire()
    try:
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO t (v) VALUES (%s)", ["anyway"])
            cursor.execute("SELECT count(*) FROM t")
            assert cursor.fetchone() == (1,)
    finally:
        _WRITER.release()
        db.close()
    assert not _WRITER.locked()


def test_a_returning_write_lets_sqlite_go_before_its_rows_are_read(db_file):
    """SQLite keeps its lock until a RETURNING statement's last row is fetched: the next
    writer of this process, let in by the lock here, met SQLite still locked and failed
    (or slept in SQLite's busy handler) while the first had not read its rows yet."""
    first = _wrapper(db_file)
    with first.cursor() as cursor:
        cursor.execute("INSERT INTO t (v) VALUES (%s), (%s)", ["a", "b"])
        cursor.execute("UPDATE t SET v = v || %s RETURNING k, v", ["!"])
        wrote: list[Exception | None] = []

        def write() -> None:
            second = _wrapper(db_file, timeout=0.2)  # SQLite's own wait, and this lock's
            try:
                with second.cursor() as other:
                    other.execute("INSERT INTO t (v) VALUES (%s)", ["c"])
                wrote.append(None)
            except Exception as error:  # reported by the assertion below
                wrote.append(error)
            finally:
                second.close()

        thread = threading.Thread(target=write)
        thread.start()
        thread.join(5)
        assert wrote == [None], f"the second write failed: {wrote}"
        assert sorted(cursor.fetchall()) == [(1, "a!"), (2, "b!")]  # the rows, read later
        cursor.execute("UPDATE t SET v = %s WHERE k = 1 RETURNING v", ["x"])
        assert cursor.fetchone() == ("x",) and cursor.fetchone() is None
        # Every way Django reads rows gets the ones read under the lock, each once.
        cursor.execute("UPDATE t SET v = v RETURNING k")  # three rows
        assert len(cursor.fetchmany(1)) == 1
        assert len([row for row in cursor]) == 2 and cursor.fetchall() == []
        cursor.execute("SELECT v FROM t ORDER BY k")  # a read: SQLite's own cursor again
        assert [row[0] for row in cursor] == ["x", "b!", "c"]
    first.close()
    assert not _WRITER.locked()
