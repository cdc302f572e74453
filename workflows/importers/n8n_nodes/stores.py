"""n8n's database and queue nodes: Postgres and MySQL (execute query), Redis, RabbitMQ and
MQTT (send). Credentials are never imported: each mapped node names the one it needs."""

from __future__ import annotations

import re
from typing import Any

from workflows.importers.n8n_expressions import literal

from .base import WARNINGS, Context, Mapped, NotMapped, Source, version_check

_PG_VERSIONS = (1, 2, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6)
_MYSQL_VERSIONS = (1, 2, 2.1, 2.2, 2.3, 2.4, 2.5)
_DOLLAR = re.compile(r"\$(\d+)")


def postgres(source: Source, ctx: Context) -> Mapped:
    """Postgres v1 to v2.6, execute query, as db.postgres."""
    version_check(source, _PG_VERSIONS)
    return _query(source, ctx, "db.postgres", "postgres credential (n8n postgres)")


def my_sql(source: Source, ctx: Context) -> Mapped:
    """MySQL v1 to v2.5, execute query, as db.mysql."""
    version_check(source, _MYSQL_VERSIONS)
    return _query(source, ctx, "db.mysql", "mysql credential (n8n mySql)")


def _query(source: Source, ctx: Context, node_type: str, credential: str) -> Mapped:
    """An n8n query with its ``queryReplacement`` values as a parameterised query. A query
    whose text is built by expressions is not mapped: LinkFlow never builds SQL from
    strings (values travel as parameters), so it is rewritten by hand with placeholders."""
    default = "insert" if source.version == 1 else "executeQuery"
    operation = source.param("operation", default)
    if operation != "executeQuery":
        raise NotMapped(f"operation '{operation}' (only execute query)")
    query = source.param("query", "")
    if not isinstance(query, str) or not query.strip():
        raise NotMapped("no query")
    if query.startswith("="):
        if "{{" in query:
            raise NotMapped(
                "the SQL is built from expressions; rewrite it with placeholders and "
                "parameters (LinkFlow never builds SQL from strings)"
            )
        query = query[1:]
    replacement = (source.param("options") or {}).get("queryReplacement")
    params: dict[str, Any] = {"operation": "query"}
    if replacement:
        values = [ctx.value(v, "options.queryReplacement") for v in _split_values(replacement)]
        # n8n's $1, $2 become named placeholders (one value may be used twice); with
        # parameters the drivers read % as a placeholder, so a literal % is doubled
        used = [int(n) for n in _DOLLAR.findall(query)]
        if not used or max(used) > len(values):
            raise NotMapped("the query's $n placeholders do not match its values")
        query = _DOLLAR.sub(lambda m: f"%(p{m.group(1)})s", query.replace("%", "%%"))
        params["parameters"] = {f"p{i}": v for i, v in enumerate(values, start=1)}
    params["query"] = query
    mapped = Mapped([{"id": ctx.node_id, "type": node_type, "params": params}])
    mapped.credentials.append(credential)
    return mapped


def _split_values(raw: Any) -> list[Any]:
    """n8n's query values: a list, or text with one value per comma (commas inside an
    expression's braces do not split)."""
    if isinstance(raw, list):
        return raw
    text = str(raw)
    prefix = "=" if text.startswith("=") else ""
    body = text[len(prefix) :]
    parts, current, depth, index = [], "", 0, 0
    while index < len(body):
        pair = body[index : index + 2]
        if pair in ("{{", "}}"):
            depth += 1 if pair == "{{" else -1 if depth else 0
            current, index = current + pair, index + 2
            continue
        if body[index] == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += body[index]
        index += 1
    parts.append(current)
    return [prefix + part.strip() for part in parts if part.strip()]


def redis(source: Source, ctx: Context) -> Mapped:
    """Redis v1: get, set, incr, delete, push, pop and publish as redis.command."""
    version_check(source, (1,))
    operation = source.param("operation", "info")
    params: dict[str, Any]
    if operation in ("get", "set", "incr", "delete"):
        params = {"command": operation, "key": ctx.value(source.param("key", ""), "key")}
        if operation == "get":
            params["output_field"] = str(source.param("propertyName", "propertyName"))
            if source.param("keyType", "automatic") not in ("automatic", "string"):
                raise NotMapped(f"get of a {source.param('keyType')} key")
        if operation == "set":
            if source.param("keyType", "automatic") not in ("automatic", "string"):
                raise NotMapped(f"set of a {source.param('keyType')} key")
            params["value"] = ctx.value(source.param("value", ""), "value")
        if operation in ("set", "incr") and source.param("expire", False):
            params["ttl_seconds"] = ctx.value(source.param("ttl", 60), "ttl")
    elif operation in ("push", "pop"):
        end = "r" if source.param("tail", False) else "l"
        params = {
            "command": f"{end}{operation}",
            "key": ctx.value(source.param("list", ""), "list"),
        }
        if operation == "push":
            params["value"] = ctx.value(source.param("messageData", ""), "messageData")
        else:
            params["output_field"] = str(source.param("propertyName", "propertyName"))
    elif operation == "publish":
        params = {
            "command": "publish",
            "key": ctx.value(source.param("channel", ""), "channel"),
            "value": ctx.value(source.param("messageData", ""), "messageData"),
        }
    else:
        raise NotMapped(f"operation '{operation}'")
    if operation == "incr":
        params["output_field"] = _REPLY
    mapped = _redis_item(ctx, params, operation, source.param("key", ""))
    mapped.credentials.append("redis credential (n8n redis)")
    return mapped


_REPLY = "__reply"


def _redis_item(ctx: Context, params: dict[str, Any], operation: str, key: Any) -> Mapped:
    """n8n's item after a get or pop holds only the value read, after an incr only
    ``{<key>: <count>}``; the others pass the input on. A data.set after the command
    keeps what n8n's item holds."""
    command = {"id": ctx.node_id, "type": "redis.command", "params": params}
    if operation in ("get", "pop"):
        name = params["output_field"].split(".")[0]
        kept = {name: f"{{{{ json[{literal(name)}] }}}}"}
    elif operation == "incr":
        if not isinstance(key, str) or key.startswith("=") or "." in key:
            ctx.warn("the count is in the item's '__reply' field (n8n: a field named as the key)")
            return Mapped([command])
        kept = {key: f"{{{{ json[{literal(_REPLY)}] }}}}"}
    else:
        return Mapped([command])
    command["id"] = f"{ctx.node_id}__redis"
    only = {"id": ctx.node_id, "type": "data.set", "params": {"keep_only": True, "fields": kept}}
    return Mapped([command, only], edges=[{"source": command["id"], "target": only["id"]}])


def rabbitmq(source: Source, ctx: Context) -> Mapped:
    """RabbitMQ v1/v1.1 send message (to a queue, or an exchange with a routing key) as
    amqp.publish; the item is the message unless a message is given."""
    version_check(source, (1, 1.1))
    if source.param("operation", "sendMessage") != "sendMessage":
        raise NotMapped(f"operation '{source.param('operation')}'")
    mode = source.param("mode", "queue")
    if mode == "queue":
        params: dict[str, Any] = {
            "exchange": "",
            "routing_key": ctx.value(source.param("queue", ""), "queue"),
        }
        ctx.warn("the queue is expected to exist: n8n declares it, LinkFlow does not")
    elif mode == "exchange":
        params = {
            "exchange": ctx.value(source.param("exchange", ""), "exchange"),
            "routing_key": ctx.value(source.param("routingKey", ""), "routingKey"),
        }
        ctx.warn("the exchange is expected to exist: n8n declares it, LinkFlow does not")
    else:
        raise NotMapped(f"mode '{mode}'")
    if not source.param("sendInputData", True):
        params["body"] = ctx.value(source.param("message", ""), "message")
    mapped = Mapped(
        [{"id": f"{ctx.node_id}__send", "type": "amqp.publish", "params": params}, success(ctx)],
        edges=[{"source": f"{ctx.node_id}__send", "target": ctx.node_id}],
    )
    if mode == "exchange":
        mapped.status = WARNINGS
    mapped.credentials.append("amqp credential (n8n rabbitmq)")
    return mapped


def success(ctx: Context) -> dict[str, Any]:
    """The node after a send that answers n8n's item for it: ``{"success": true}``."""
    params = {"keep_only": True, "fields": {"success": "{{ true }}"}}
    return {"id": ctx.node_id, "type": "data.set", "params": params}


def mqtt(source: Source, ctx: Context) -> Mapped:
    """MQTT v1 publish as mqtt.publish (QoS 2 is sent as 1: at least once)."""
    version_check(source, (1,))
    params: dict[str, Any] = {"topic": ctx.value(source.param("topic", ""), "topic")}
    if not source.param("sendInputData", True):
        params["body"] = ctx.value(source.param("message", ""), "message")
    options = source.param("options") or {}
    qos = int(options.get("qos", 0) or 0)
    if qos > 1:
        ctx.warn("QoS 2 (exactly once) is sent as QoS 1 (at least once)")
    params["qos"] = min(qos, 1)
    if options.get("retain"):
        params["retain"] = True
    mapped = Mapped([{"id": ctx.node_id, "type": "mqtt.publish", "params": params}])
    mapped.credentials.append("mqtt credential (n8n mqtt)")
    return mapped
