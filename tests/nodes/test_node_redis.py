"""redis.command against a private redis-server (not LinkFlow's own), and the refusal of
LinkFlow's own Redis to every node."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from executions.running.host import address_policy
from linkflow.engine import NodeError

from ..executions.test_flushall_recovery import private_redis  # noqa: F401 - a fixture
from .conftest import node_run


@pytest.fixture
def server(private_redis: str) -> dict[str, Any]:  # noqa: F811
    parts = urlsplit(private_redis)
    redis.Redis.from_url(private_redis).flushall()
    return {"type": "redis", "host": parts.hostname, "port": parts.port, "database": "3"}


def run(
    command: str, server: dict[str, Any], items: list[dict[str, Any]] | None = None, **params: Any
) -> Any:
    output = node_run(
        "redis.command", {"command": command, **params}, items or [{}], credential=server
    )
    return [item.get("redis") for item in output["main"]]


def test_set_with_ttl_get_incr_and_delete(server: dict[str, Any], private_redis: str) -> None:  # noqa: F811
    assert run("set", server, key="greeting", value={"hi": 1}, ttl_seconds=60) == [True]
    assert run("get", server, key="greeting", parse_json=True) == [{"hi": 1}]
    assert 0 < redis.Redis.from_url(private_redis.replace("/0", "/3")).ttl("greeting") <= 60
    assert run("incr", server, [{}, {}], key="n", amount=5) == [5, 10]
    assert run("delete", server, key="greeting") == [1]
    assert run("get", server, key="greeting") == [None]


def test_push_pop_and_range_per_item(server: dict[str, Any]) -> None:
    items = [{"v": "a"}, {"v": "b"}, {"v": "c"}]

    assert run("rpush", server, items, key="q", value="{{ json.v }}") == [1, 2, 3]
    assert run("lrange", server, key="q") == [["a", "b", "c"]]
    assert run("lpop", server, key="q") == ["a"]
    assert run("llen", server, key="q") == [2]


def test_publish_reaches_a_subscriber(server: dict[str, Any], private_redis: str) -> None:  # noqa: F811
    subscriber = redis.Redis.from_url(private_redis.replace("/0", "/3")).pubsub()
    subscriber.subscribe("news")
    assert subscriber.get_message(timeout=5)["type"] == "subscribe"

    assert run("publish", server, key="news", value="hello") == [1]

    message = subscriber.get_message(timeout=5)
    assert message is not None and message["data"] == b"hello"
    subscriber.close()


def test_linkflow_own_redis_is_refused_even_with_private_addresses_allowed(settings: Any) -> None:
    settings.REDIS_URL = settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    settings.LINKFLOW_HTTP_ALLOW_PRIVATE = True
    own = urlsplit(settings.REDIS_URL)
    for host in (own.hostname, "localhost", "127.0.0.2"):
        credential = {"type": "redis", "host": host, "port": own.port or 6379}
        with pytest.raises(NodeError, match="LinkFlow's own service"):
            node_run(
                "redis.command",
                {"command": "get", "key": "x"},
                [{}],
                credential=credential,
                policy=address_policy(),
            )


def test_a_tls_connection_is_refused_by_the_address_policy_like_a_plain_one(
    server: dict[str, Any],
) -> None:
    # The private server listens on loopback: a TLS connection that opened its own socket
    # would reach it (and fail the handshake) instead of being refused before connecting.
    for security in ("none", "tls"):
        with pytest.raises(NodeError, match="loopback address"):
            node_run(
                "redis.command",
                {"command": "get", "key": "x"},
                [{}],
                credential={**server, "security": security},
                policy=address_policy(),
            )
