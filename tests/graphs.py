"""Workflow graphs shared by the tests."""

from typing import Any


def branching_graph(url: str) -> dict[str, Any]:
    """manual trigger -> HTTP GET -> if total > 100 -> tag gold / tag standard."""
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "fetch",
                "type": "http.request",
                "params": {"method": "GET", "url": url, "query": {"user": "{{ json.user_id }}"}},
            },
            {
                "id": "big",
                "type": "flow.if",
                "params": {"condition": "{{ json.body.total > 100 }}"},
            },
            {
                "id": "gold",
                "type": "data.set",
                "params": {"fields": {"tier": "gold", "user": "{{ nodes.start.json.user_id }}"}},
            },
            {"id": "standard", "type": "data.set", "params": {"fields": {"tier": "standard"}}},
        ],
        "edges": [
            {"source": "start", "target": "fetch"},
            {"source": "fetch", "target": "big"},
            {"source": "big", "target": "gold", "output": "true"},
            {"source": "big", "target": "standard", "output": "false"},
        ],
    }


def pure_graph() -> dict[str, Any]:
    """Four nodes with no outside calls: manual -> set -> if -> set."""
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "double", "type": "data.set", "params": {"fields": {"n2": "{{ json.n * 2 }}"}}},
            {"id": "big", "type": "flow.if", "params": {"condition": "{{ json.n2 > 10 }}"}},
            {"id": "tag", "type": "data.set", "params": {"fields": {"big": True}}},
        ],
        "edges": [
            {"source": "start", "target": "double"},
            {"source": "double", "target": "big"},
            {"source": "big", "target": "tag", "output": "true"},
        ],
    }
