"""The built-in node types, run through run_graph; http.request against a real local server."""

from __future__ import annotations

from typing import Any

import httpx
from jsonschema import Draft202012Validator

from linkflow.engine import (
    Graph,
    NullObserver,
    RunContext,
    RunResult,
    get_node_type,
    node_types,
    run_graph,
)


def run_after_trigger(
    node: dict[str, Any],
    *,
    trigger_input: dict[str, Any] | None = None,
    trigger_type: str = "trigger.manual",
    trigger_params: dict[str, Any] | None = None,
    http_client: httpx.Client | None = None,
) -> RunResult:
    """Run the graph trigger -> node (node id "node")."""
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": trigger_type, "params": trigger_params or {}},
                {"id": "node", **node},
            ],
            "edges": [{"source": "start", "target": "node"}],
        }
    )
    run = RunContext(
        execution={"id": "ex-1", "mode": "manual"},
        trigger_input=trigger_input or {},
        http_client=http_client,
    )
    return run_graph(graph, context=run, observer=NullObserver())


def http_node(**params: Any) -> dict[str, Any]:
    return {"type": "http.request", "params": params}


# registry


def test_node_types_lists_the_builtin_types_sorted_by_name() -> None:
    assert [cls.type for cls in node_types()] == [
        "amqp.publish",
        "code.python",
        "data.aggregate",
        "data.compare",
        "data.crypto",
        "data.datetime",
        "data.dedupe",
        "data.filter",
        "data.html",
        "data.limit",
        "data.rename",
        "data.set",
        "data.sort",
        "data.split",
        "data.summarize",
        "data.xml",
        "db.mysql",
        "db.postgres",
        "flow.batch",
        "flow.if",
        "flow.merge",
        "flow.noop",
        "flow.stop",
        "flow.switch",
        "flow.wait",
        "http.request",
        "mqtt.publish",
        "nats.publish",
        "notify.email",
        "notify.slack",
        "notify.webhook",
        "redis.command",
        "s3.object",
        "trigger.amqp",
        "trigger.error",
        "trigger.manual",
        "trigger.mqtt",
        "trigger.nats",
        "trigger.poll",
        "trigger.redis",
        "trigger.schedule",
        "trigger.webhook",
        "webhook.respond",
        "workflow.execute",
    ]


def test_every_builtin_params_schema_is_valid_draft_2020_12() -> None:
    for cls in node_types():
        Draft202012Validator.check_schema(cls.params_schema)
        assert cls.params_schema["additionalProperties"] is False


def test_unknown_node_type_is_none() -> None:
    assert get_node_type("nope.never") is None


# trigger.manual and flow.noop


def test_manual_trigger_emits_its_input_as_one_item() -> None:
    result = run_after_trigger({"type": "flow.noop"}, trigger_input={"order": 7})

    assert result.outcomes["start"].output == {"main": [{"order": 7}]}
    assert result.outcomes["node"].output == {"main": [{"order": 7}]}


def test_manual_trigger_with_empty_input_emits_one_empty_item() -> None:
    result = run_after_trigger({"type": "flow.noop"})

    assert result.last_items == [{}]


# data.set


def test_set_adds_fields_from_literals_and_expressions() -> None:
    node = {
        "type": "data.set",
        "params": {"fields": {"tier": "gold", "double": "{{ json.n * 2 }}"}},
    }

    result = run_after_trigger(node, trigger_input={"n": 4, "keep": True})

    assert result.last_items == [{"n": 4, "keep": True, "tier": "gold", "double": 8}]


def test_set_with_keep_only_drops_other_fields() -> None:
    node = {
        "type": "data.set",
        "params": {"fields": {"name": "{{ json.name }}"}, "keep_only": True},
    }

    result = run_after_trigger(node, trigger_input={"name": "Ada", "secret": "x"})

    assert result.last_items == [{"name": "Ada"}]


def test_set_with_dotted_names_nests_without_touching_the_input() -> None:
    node = {"type": "data.set", "params": {"fields": {"address.city": "Oslo", "a.b.c": 1}}}
    trigger_input = {"address": {"street": "Main"}, "a": "scalar"}

    result = run_after_trigger(node, trigger_input=trigger_input)

    assert result.last_items == [
        {"address": {"street": "Main", "city": "Oslo"}, "a": {"b": {"c": 1}}}
    ]
    assert result.outcomes["start"].output == {
        "main": [{"address": {"street": "Main"}, "a": "scalar"}]
    }


# flow.if


def test_if_routes_each_item_and_always_emits_both_ports(items_trigger: str) -> None:
    items = [{"ok": True}, {"ok": 0}, {"ok": "yes"}]
    node = {"type": "flow.if", "params": {"condition": "{{ json.ok }}"}}

    result = run_after_trigger(node, trigger_type=items_trigger, trigger_params={"items": items})

    assert result.outcomes["node"].output == {
        "true": [{"ok": True}, {"ok": "yes"}],
        "false": [{"ok": 0}],
    }


def test_if_with_literal_false_sends_everything_to_false() -> None:
    result = run_after_trigger({"type": "flow.if", "params": {"condition": False}})

    assert result.outcomes["node"].output == {"true": [], "false": [{}]}


# http.request (the rest, against a guarded client, is in test_engine_http_node.py)


def test_http_uses_the_client_the_host_injects(http_server: str) -> None:
    with httpx.Client(headers={"X-Host-Client": "yes"}) as client:
        result = run_after_trigger(http_node(url=f"{http_server}/echo"), http_client=client)

    assert result.last_items[0]["body"]["headers"]["x-host-client"] == "yes"


def test_http_invalid_method_from_expression_fails_on_the_param(http_server: str) -> None:
    node = http_node(url=f"{http_server}/echo", method="{{ json.verb }}")

    result = run_after_trigger(node, trigger_input={"verb": "brew"})

    assert result.error == {
        "message": "Unsupported HTTP method 'BREW'.",
        "node_id": "node",
        "param": "params.method",
        "item": 0,
    }
