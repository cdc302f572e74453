"""db.postgres against a real PostgreSQL cluster of the tests' own."""

from __future__ import annotations

from typing import Any

import pytest

from linkflow.engine import NodeError
from linkflow.engine.net import AddressPolicy

from .conftest import node_run


@pytest.fixture
def table(pg_server: dict[str, Any]) -> str:
    node_run(
        "db.postgres",
        {
            "query": "DROP TABLE IF EXISTS people; "
            "CREATE TABLE people (id int PRIMARY KEY, name text, tags jsonb)"
        },
        [{}],
        credential=pg_server,
    )
    return "people"


def rows(pg_server: dict[str, Any]) -> list[dict[str, Any]]:
    output = node_run(
        "db.postgres", {"query": "SELECT * FROM people ORDER BY id"}, [{}], credential=pg_server
    )
    return output["main"]


def test_query_binds_parameters_from_expressions_per_item(pg_server: dict[str, Any]) -> None:
    params = {
        "query": "SELECT %s::text AS name, %s::int * 2 AS twice",
        "parameters": ["{{ json.n }}", "{{ json.v }}"],
    }

    output = node_run(
        "db.postgres",
        params,
        [{"n": "a'; DROP TABLE x; --", "v": 2}, {"n": "b", "v": 5}],
        credential=pg_server,
    )

    assert output["main"] == [
        {"name": "a'; DROP TABLE x; --", "twice": 4},
        {"name": "b", "twice": 10},
    ]


def test_insert_update_and_upsert_write_the_items(pg_server: dict[str, Any], table: str) -> None:
    items = [{"id": n, "name": f"p{n}", "tags": ["x"]} for n in range(1, 8)]
    node_run(
        "db.postgres",
        {"operation": "insert", "table": table, "batch_size": 3},
        items,
        credential=pg_server,
    )
    node_run(
        "db.postgres",
        {"operation": "update", "table": table, "columns": ["id", "name"], "key_columns": ["id"]},
        [{"id": 2, "name": "two"}],
        credential=pg_server,
    )
    node_run(
        "db.postgres",
        {"operation": "upsert", "table": table, "columns": ["id", "name"], "key_columns": ["id"]},
        [{"id": 3, "name": "three"}, {"id": 9, "name": "nine"}],
        credential=pg_server,
    )

    found = rows(pg_server)

    assert [(r["id"], r["name"]) for r in found] == [
        (1, "p1"),
        (2, "two"),
        (3, "three"),
        (4, "p4"),
        (5, "p5"),
        (6, "p6"),
        (7, "p7"),
        (9, "nine"),
    ]
    assert found[0]["tags"] == ["x"]


def test_read_only_refuses_a_write(pg_server: dict[str, Any], table: str) -> None:
    params = {"query": "INSERT INTO people (id) VALUES (1)", "read_only": True}

    with pytest.raises(NodeError, match="read-only"):
        node_run("db.postgres", params, [{}], credential=pg_server)

    assert rows(pg_server) == []


def test_a_failing_item_rolls_back_the_whole_run(pg_server: dict[str, Any], table: str) -> None:
    items = [{"id": 1, "name": "a"}, {"id": 1, "name": "dup"}]

    with pytest.raises(NodeError, match="UniqueViolation"):
        node_run(
            "db.postgres",
            {"operation": "insert", "table": table, "batch_size": 1},
            items,
            credential=pg_server,
        )

    assert rows(pg_server) == []


def test_more_rows_than_max_rows_fails(pg_server: dict[str, Any]) -> None:
    params = {"query": "SELECT generate_series(1, 11) AS n", "max_rows": 10}

    with pytest.raises(NodeError, match="more than 10 rows"):
        node_run("db.postgres", params, [{}], credential=pg_server)


def test_a_statement_past_the_node_timeout_is_cancelled(pg_server: dict[str, Any]) -> None:
    # The SQL even lifts the server-side statement_timeout: the node's deadline still holds.
    params = {"query": "SET statement_timeout = 0; SELECT pg_sleep(30)"}

    with pytest.raises(NodeError, match="cancel"):
        node_run("db.postgres", params, [{}], credential=pg_server, timeout_seconds=1)


def test_a_loopback_server_is_refused_by_the_default_policy(pg_server: dict[str, Any]) -> None:
    with pytest.raises(NodeError, match="loopback"):
        node_run(
            "db.postgres", {"query": "SELECT 1"}, [{}], credential=pg_server, policy=AddressPolicy()
        )


def test_a_query_with_an_expression_in_the_sql_is_refused_on_save() -> None:
    from ..engine.test_engine_data_nodes import problems_for

    problems = problems_for("db.postgres", {"query": "SELECT * FROM t WHERE id = {{ json.id }}"})

    assert ("node_params_invalid", "node", "params.query") in problems
