"""db.mysql against the local MariaDB (127.0.0.1:3306, root, database ``test``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from linkflow.engine import NodeError
from linkflow.engine.net import AddressPolicy

from ..conftest import require_server
from .conftest import node_run

TABLE = f"lf_people_{os.getpid()}"


@pytest.fixture(scope="module")
def mariadb() -> dict[str, Any]:
    port = require_server("mariadb")
    return {
        "type": "mysql",
        "host": "127.0.0.1",
        "port": port,
        "username": "root",
        "database": "test",
    }


@pytest.fixture
def table(mariadb: dict[str, Any]) -> Iterator[str]:
    create = f"CREATE TABLE {TABLE} (id int PRIMARY KEY, name varchar(50), tags json)"
    node_run("db.mysql", {"query": f"DROP TABLE IF EXISTS {TABLE}"}, [{}], credential=mariadb)
    node_run("db.mysql", {"query": create}, [{}], credential=mariadb)
    yield TABLE
    node_run("db.mysql", {"query": f"DROP TABLE IF EXISTS {TABLE}"}, [{}], credential=mariadb)


def rows(mariadb: dict[str, Any]) -> list[dict[str, Any]]:
    query = {"query": f"SELECT id, name FROM {TABLE} ORDER BY id"}
    return node_run("db.mysql", query, [{}], credential=mariadb)["main"]


def test_query_binds_parameters_from_expressions_per_item(mariadb: dict[str, Any]) -> None:
    params = {
        "query": "SELECT %s AS name, %s * 2 AS twice",
        "parameters": ["{{ json.n }}", "{{ json.v }}"],
    }
    items = [{"n": "a'; DROP TABLE x; --", "v": 2}, {"n": "b", "v": 5}]

    output = node_run("db.mysql", params, items, credential=mariadb)

    assert output["main"] == [
        {"name": "a'; DROP TABLE x; --", "twice": 4},
        {"name": "b", "twice": 10},
    ]


def test_insert_update_and_upsert_write_the_items(mariadb: dict[str, Any], table: str) -> None:
    items = [{"id": n, "name": f"p{n}", "tags": ["x"]} for n in range(1, 6)]
    write = {"table": table, "columns": ["id", "name"], "key_columns": ["id"]}

    node_run(
        "db.mysql",
        {"operation": "insert", "table": table, "batch_size": 2},
        items,
        credential=mariadb,
    )
    node_run(
        "db.mysql", {"operation": "update", **write}, [{"id": 2, "name": "two"}], credential=mariadb
    )
    upserts = [{"id": 3, "name": "three"}, {"id": 9, "name": "nine"}]
    node_run("db.mysql", {"operation": "upsert", **write}, upserts, credential=mariadb)

    assert [(r["id"], r["name"]) for r in rows(mariadb)] == [
        (1, "p1"),
        (2, "two"),
        (3, "three"),
        (4, "p4"),
        (5, "p5"),
        (9, "nine"),
    ]


def test_read_only_refuses_a_write(mariadb: dict[str, Any], table: str) -> None:
    params = {"query": f"INSERT INTO {table} (id) VALUES (1)", "read_only": True}

    with pytest.raises(NodeError, match="READ ONLY"):
        node_run("db.mysql", params, [{}], credential=mariadb)

    assert rows(mariadb) == []


def test_a_failing_batch_rolls_back_the_whole_run(mariadb: dict[str, Any], table: str) -> None:
    items = [{"id": 1, "name": "a"}, {"id": 1, "name": "dup"}]

    with pytest.raises(NodeError, match="Duplicate"):
        node_run(
            "db.mysql",
            {"operation": "insert", "table": table, "batch_size": 1},
            items,
            credential=mariadb,
        )

    assert rows(mariadb) == []


def test_a_statement_past_its_time_is_stopped(mariadb: dict[str, Any]) -> None:
    with pytest.raises(NodeError):
        node_run(
            "db.mysql", {"query": "SELECT SLEEP(30)"}, [{}], credential=mariadb, timeout_seconds=1
        )


def test_more_rows_than_max_rows_fails(mariadb: dict[str, Any]) -> None:
    params = {"query": "SELECT seq FROM seq_1_to_11", "max_rows": 10}

    with pytest.raises(NodeError, match="more than 10 rows"):
        node_run("db.mysql", params, [{}], credential=mariadb)


def test_a_loopback_server_is_refused_by_the_default_policy(mariadb: dict[str, Any]) -> None:
    with pytest.raises(NodeError, match="loopback"):
        node_run(
            "db.mysql", {"query": "SELECT 1"}, [{}], credential=mariadb, policy=AddressPolicy()
        )
