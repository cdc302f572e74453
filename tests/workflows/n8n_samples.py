"""Small n8n exports shared by the import tests (written here, in n8n's export shape)."""

import itertools
from typing import Any


def node(
    name: str, kind: str, version: float, parameters: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": f"id-{name}",
        "name": name,
        "type": kind if "." in kind else f"n8n-nodes-base.{kind}",
        "typeVersion": version,
        "position": [100, 200],
        "parameters": parameters or {},
        **extra,
    }


def chain(*names: str) -> dict[str, Any]:
    return {
        a: {"main": [[{"node": b, "type": "main", "index": 0}]]}
        for a, b in itertools.pairwise(names)
    }


def workflow(
    nodes: list[dict[str, Any]], connections: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"name": "From n8n", "nodes": nodes, "connections": connections or {}, **extra}


def webhook(path: str = "orders", mode: str = "lastNode") -> dict[str, Any]:
    return node("Webhook", "webhook", 2, {"httpMethod": "POST", "path": path, "responseMode": mode})
