"""redis.command: get, set, increment, push, pop and publish on a Redis server.

redis-py's connection class is replaced by one whose sockets come from
``open_guarded_socket``: every connection, including any the client opens later
(reconnects, a server's maintenance hand-over to another endpoint), passes the address
policy, which refuses LinkFlow's own Redis always. Cluster redirects are not followed:
this is the plain client, and a MOVED reply is an error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

import redis

from linkflow.engine.errors import NodeError
from linkflow.engine.net import AddressPolicy, open_guarded_socket
from linkflow.engine.nodes.data import FIELD_NAME_SCHEMA, set_path
from linkflow.engine.nodes.servers import node_timeout, policy
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from collections.abc import Callable

    from linkflow.engine.context import NodeContext

COMMANDS = (
    "get", "set", "delete", "exists", "incr", "expire", "ttl",
    "lpush", "rpush", "lpop", "rpop", "llen", "lrange", "hset", "hget", "hgetall", "publish",
)  # fmt: skip
# The most one value, list range or hash this node reads: results are stored as output.
MAX_VALUE_BYTES = 10_000_000
MAX_RANGE = 10_000


def _connection_class(address_policy: AddressPolicy, *, tls: bool) -> type[redis.Connection]:
    class GuardedConnection(redis.Connection):
        def _connect(self) -> Any:
            return _guarded_socket(self, address_policy)

    if not tls:
        return GuardedConnection

    class GuardedSSLConnection(redis.SSLConnection, GuardedConnection):
        """SSLConnection._connect wraps in TLS what its super()._connect returns: here the
        guarded socket (the MRO puts GuardedConnection between SSLConnection and Connection)."""

    return GuardedSSLConnection


def _guarded_socket(connection: redis.Connection, address_policy: AddressPolicy) -> Any:
    timeout = connection.socket_connect_timeout or 10.0
    sock = open_guarded_socket(
        connection.host, connection.port, timeout=timeout, policy=address_policy
    )
    sock.settimeout(connection.socket_timeout)
    return sock


class RedisCommand(NodeType):
    """Runs one Redis command per item."""

    type = "redis.command"
    credential_types = ("redis",)
    label = "Redis"
    description = (
        "Runs a Redis command per item: get/set (with TTL), delete, incr, expire, list "
        "push/pop/range, hash get/set, or publish to a channel (redis credential)."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "command": {"enum": list(COMMANDS)},
            "key": {
                "description": "The key (the channel for publish).",
                "type": "string",
                "minLength": 1,
            },
            "value": {"description": "Value to set, push or publish; non-text is sent as JSON."},
            "field": {"description": "Hash field (hset, hget).", "type": "string"},
            "ttl_seconds": {
                **or_expression({"type": "integer", "minimum": 1}),
                "description": "Expiry.",
            },
            "amount": {**or_expression({"type": "integer"}), "default": 1},
            "start": {"type": "integer", "default": 0},
            "stop": {"type": "integer", "default": -1},
            "parse_json": {
                "description": "Decode values read as JSON when they are.",
                "type": "boolean",
                "default": False,
            },
            "output_field": {**FIELD_NAME_SCHEMA, "default": "redis"},
        },
        "required": ["command", "key"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Every item with ``output_field`` set to the command's reply. Raises NodeError
        for a refused or unreachable server, a Redis error, or a value over the bounds."""
        fields = ctx.credential()
        timeout = node_timeout(ctx)
        pool = redis.ConnectionPool(
            connection_class=_connection_class(policy(ctx), tls=fields.get("security") == "tls"),
            host=str(fields.get("host") or ""),
            port=int(fields.get("port") or 6379),
            db=int(fields.get("database") or 0),
            username=fields.get("username") or None,
            password=fields.get("password") or None,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
            max_connections=1,
        )
        self._client = redis.Redis(connection_pool=pool, protocol=2)
        try:
            return {
                "main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]
            }
        except redis.RedisError as error:
            raise NodeError(f"Redis: {error}") from None
        finally:
            pool.disconnect()

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        command = ctx.params["command"]
        key = str(ctx.param("key", item_index=index))
        result = _run(self._client, command, key, ctx, index)
        if ctx.params.get("parse_json"):
            result = _decoded(result)
        out = dict(item)
        set_path(out, ctx.params.get("output_field", "redis"), result)
        return [out]


def _run(client: redis.Redis, command: str, key: str, ctx: NodeContext, index: int) -> Any:
    def param(name: str, default: Any = None) -> Any:
        return ctx.param(name, item_index=index, default=default)

    if command == "get":
        return _bounded_get(client, key)
    if command == "set":
        return bool(client.set(key, _text(param("value", "")), ex=param("ttl_seconds")))
    if command in ("lpush", "rpush"):
        length = getattr(client, command)(key, _text(param("value", "")))
        if param("ttl_seconds"):
            client.expire(key, param("ttl_seconds"))
        return length
    if command == "hset":
        return client.hset(key, str(param("field", "")), _text(param("value", "")))
    if command == "lrange":
        start, stop = int(param("start", 0)), int(param("stop", -1))
        if stop < 0 or stop - start >= MAX_RANGE:
            length = int(client.llen(key))
            stop = min(length - 1 if stop < 0 else stop, start + MAX_RANGE - 1)
        return client.lrange(key, start, stop)
    if command == "hgetall":
        if int(client.hlen(key)) > MAX_RANGE:
            raise NodeError(f"The hash has more than {MAX_RANGE} fields.", item=index)
        return client.hgetall(key)
    if command == "incr":
        return client.incrby(key, int(param("amount", 1)))
    if command == "expire":
        return bool(client.expire(key, int(param("ttl_seconds", 1))))
    if command == "publish":
        return client.publish(key, _text(param("value", "")))
    simple: dict[str, Callable[[str], Any]] = {
        "delete": client.delete,
        "exists": client.exists,
        "ttl": client.ttl,
    }
    simple |= {"lpop": client.lpop, "rpop": client.rpop, "llen": client.llen}
    if command == "hget":
        return client.hget(key, str(param("field", "")))
    return simple[command](key)


def _bounded_get(client: redis.Redis, key: str) -> str | None:
    # GETRANGE reads at most one byte past the bound, so a huge value never arrives whole.
    pipeline = client.pipeline()
    pipeline.exists(key)
    pipeline.getrange(key, 0, MAX_VALUE_BYTES)
    exists, text = pipeline.execute()
    if not exists:
        return None
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise NodeError(f"The value is larger than {MAX_VALUE_BYTES} bytes.")
    return str(text)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    return value
