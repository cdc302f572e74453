"""The operator check that PostgreSQL's autovacuum runs (linkflow/core/checks.py)."""

import pytest
from django.core.management import call_command
from django.db import connection

from linkflow.core.checks import check_postgres_autovacuum

pytestmark = pytest.mark.django_db


def _autovacuum() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return str(cursor.fetchone()[0])


def test_the_warning_says_what_the_server_says():
    """CI's PostgreSQL runs with autovacuum off, a production one with it on: either way
    the check must follow the server, not a guess."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL server setting")
    found = check_postgres_autovacuum(databases=["default"])

    if _autovacuum() == "on":
        assert found == []
    else:
        assert [message.id for message in found] == ["linkflow.W002"]
        assert "'default'" in found[0].msg


def test_migrate_reports_it_with_the_other_checks(capsys):
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL server setting")
    if _autovacuum() == "on":
        pytest.skip("this server vacuums: nothing to report")
    call_command("check", "--database", "default", "--tag", "database")

    assert "linkflow.W002" in capsys.readouterr().err


def test_sqlite_and_checks_without_a_database_are_left_alone():
    assert check_postgres_autovacuum(databases=None) == []
    if connection.vendor == "sqlite":
        assert check_postgres_autovacuum(databases=["default"]) == []
