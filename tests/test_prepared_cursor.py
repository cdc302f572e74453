"""The hot paths' cursor (linkflow/core/prepared.py): PostgreSQL prepares its statements
once per connection, and it is still Django's cursor in every other way."""

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from linkflow.core.prepared import prepared_cursor

pytestmark = pytest.mark.django_db

_PROBE = "SELECT %s::integer + 1 AS linkflow_prepared_probe"


@pytest.fixture(autouse=True)
def _postgres():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")


def _prepared_texts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_on_the_server_and_reused():
    for value in (1, 2, 3):
        with prepared_cursor() as cursor:
            cursor.execute(_PROBE, [value])
            assert cursor.fetchone() == (value + 1,)

    probes = [text for text in _prepared_texts() if "linkflow_prepared_probe" in text]
    # One prepared statement for the three runs, its parameter bound on the server.
    assert probes == ["SELECT $1::integer + 1 AS linkflow_prepared_probe"]


def test_switched_off_it_is_the_ordinary_cursor(settings):
    settings.LINKFLOW_DB_PREPARED = False
    # A text of its own: a statement the test above prepared outlives its transaction.
    unprepared = "SELECT %s::integer + 1 AS linkflow_unprepared_probe"
    for value in (41, 42):
        with prepared_cursor() as cursor:
            cursor.execute(unprepared, [value])
            assert cursor.fetchone() == (value + 1,)

    assert not [text for text in _prepared_texts() if "linkflow_unprepared_probe" in text]


def test_it_is_logged_and_its_errors_are_djangos():
    """Query capture (assertNumQueries, the benches' counters) sees its statements, and a
    constraint violation is Django's IntegrityError, which the dedupe path catches."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE prepared_probe (k integer PRIMARY KEY)")
    with CaptureQueriesContext(connection) as captured, prepared_cursor() as cursor:
        cursor.execute("INSERT INTO prepared_probe (k) VALUES (%s)", [7])
        # Run again, already prepared: psycopg keeps no text of it unless told.
        cursor.execute("INSERT INTO prepared_probe (k) VALUES (%s)", [8])
        with pytest.raises(IntegrityError):
            cursor.execute("INSERT INTO prepared_probe (k) VALUES (%s)", [7])

    assert len(captured) == 3
    assert [query["sql"] for query in captured[:2]] == [
        "INSERT INTO prepared_probe (k) VALUES ($1)"
    ] * 2


def test_the_held_slot_count_keeps_its_plans():
    """Migration 0016: a SQL function called from plpgsql is planned again on every call;
    the held-slot count must be plpgsql, whose statements keep their plans."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
            "WHERE p.proname = 'linkflow_dispatch_held'"
        )
        assert cursor.fetchall() == [("plpgsql",)]
