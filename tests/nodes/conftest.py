"""Fixtures for the database, queue and storage node tests: a node runner with an
address policy and a credential, and a throwaway PostgreSQL cluster of the tests' own.

These servers are not LinkFlow's own (that one is refused to every node): a second
PostgreSQL cluster on a free port, the private Redis, and the local MariaDB, RabbitMQ,
Mosquitto and NATS servers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from linkflow.engine import NodeContext, RunContext
from linkflow.engine.net import AddressPolicy, guarded_client
from linkflow.engine.registry import Items, get_node_type

from ..conftest import IN_CI, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Loopback servers are private addresses: the tests open them as an operator would.
OPEN_POLICY = AddressPolicy(allow_private=True)

Runner = Callable[..., dict[str, Items]]


def node_run(
    type_name: str,
    params: dict[str, Any],
    items: Items,
    *,
    credential: dict[str, Any] | None = None,
    policy: AddressPolicy = OPEN_POLICY,
    timeout_seconds: float | None = 20,
    attempt: int = 1,
    files: Any = None,
) -> dict[str, Items]:
    """Run the node ``type_name`` once on ``items`` with ``credential`` and ``policy``."""
    node_type = get_node_type(type_name)
    assert node_type is not None
    with guarded_client(policy=policy) as client:
        run = RunContext(
            execution={"id": "e1", "mode": "manual"},
            trigger_input={},
            http_client=client,
            credentials=lambda _id: dict(credential or {}),
            address_policy=policy,
            files=files,
        )
        ctx = NodeContext(
            node_id="node",
            params=params,
            run=run,
            items=items,
            node_views={},
            credential_id="cred" if credential is not None else None,
            timeout_seconds=timeout_seconds,
            attempt=attempt,
        )
        return node_type().execute(ctx, items)


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[dict[str, Any]]:
    """A PostgreSQL 15 cluster of this module's own on a free port (trust auth), as a
    postgres credential's fields."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None or os.geteuid():
        _unavailable("needs PostgreSQL 15 binaries and root (runuser) for a private cluster")
    data = Path(tempfile.mkdtemp(prefix="linkflow-pg-"))
    shutil.chown(data, "postgres")
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "initdb"),
            "-D",
            str(data / "db"),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off"
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data / "db"),
            "-o",
            options,
            "-l",
            str(data / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield {
            "type": "postgres",
            "host": "127.0.0.1",
            "port": port,
            "database": "postgres",
            "username": "postgres",
            "security": "disable",
        }
    finally:
        subprocess.run(
            [
                *as_postgres,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data / "db"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)
