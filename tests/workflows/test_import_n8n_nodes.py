"""Each n8n node mapping: the LinkFlow graph it makes, run by LinkFlow's engine where the
node is pure, and the report entry (mapped / with warnings / not mapped)."""

from typing import Any

import pytest

from linkflow.engine import Graph, validate_graph
from linkflow.engine.context import RunContext
from linkflow.engine.observer import NullObserver
from linkflow.engine.runner import run_graph
from linkflow.engine.versions import versions_stamped
from workflows.importers.n8n import DocumentError, convert, looks_like_n8n

from .n8n_samples import chain, node, webhook, workflow


def converted(nodes, connections=None, **extra):
    conversion = convert(workflow(nodes, connections, **extra))
    # as the import saves it: new nodes get their type's current version
    assert validate_graph(versions_stamped(conversion.graph)) == []
    return conversion


def entry(conversion, name):
    return next(n for n in conversion.report["nodes"] if n["name"] == name)


def graph_node(conversion, node_id):
    return next(n for n in conversion.graph["nodes"] if n["id"] == node_id)


def run(conversion, trigger_input: dict[str, Any]):
    result = run_graph(
        Graph.from_dict(versions_stamped(conversion.graph)),
        context=RunContext(execution={"id": "e"}, trigger_input=trigger_input),
        observer=NullObserver(),
    )
    assert result.status == "succeeded", result.error
    return result


def outputs(result, node_id, port="main"):
    return result.outcomes[node_id].output.get(port, [])


MANUAL = node("Start", "manualTrigger", 1)


def test_document_shape_is_checked_with_the_field_named():
    for bad, field in [
        ([], "document"),
        ({"nodes": {}}, "nodes"),
        ({"nodes": [{"type": "n8n-nodes-base.noOp"}], "connections": {}}, "nodes[0].name"),
        ({"nodes": [{"name": "a"}], "connections": {}}, "nodes[0].type"),
        ({"nodes": [MANUAL, MANUAL], "connections": {}}, "nodes[1].name"),
        ({"nodes": [], "connections": []}, "connections"),
        ({"nodes": [{**MANUAL, "typeVersion": "1"}], "connections": {}}, "nodes[0].typeVersion"),
    ]:
        with pytest.raises(DocumentError) as error:
            convert(bad)
        assert error.value.field == field


def test_an_n8n_export_is_told_from_a_linkflow_one():
    assert looks_like_n8n(workflow([MANUAL]))
    assert not looks_like_n8n({"name": "x", "graph": {"nodes": []}})


def test_names_become_stable_unique_ids_positions_and_settings_are_kept():
    conversion = converted(
        [
            MANUAL,
            node("Do it!", "noOp", 1, position=[5, 6]),
            node(
                "Do it?",
                "noOp",
                1,
                disabled=True,
                onError="continueRegularOutput",
                retryOnFail=True,
                maxTries=4,
                waitBetweenTries=2000,
            ),
        ],
        chain("Start", "Do it!", "Do it?"),
    )
    first, second = graph_node(conversion, "Do_it"), graph_node(conversion, "Do_it_2")
    assert first["position"] == {"x": 5, "y": 6} and conversion.layout["Do_it"] == {"x": 5, "y": 6}
    assert second["disabled"] is True and second["on_error"] == "continue"
    assert second["retry"] == {"max_attempts": 4, "backoff_seconds": 2.0}
    assert first["name"] == "Do it!"
    assert conversion.graph["edges"] == [
        {"source": "Start", "target": "Do_it"},
        {"source": "Do_it", "target": "Do_it_2"},
    ]


def test_execute_once_becomes_the_node_setting_and_always_output_data_is_reported():
    split = node("Split", "splitOut", 1, {"fieldToSplitOut": "rows"})
    once = node(
        "Once",
        "set",
        3.4,
        {"assignments": {"assignments": [{"name": "seen", "value": "={{ $json.n }}"}]}},
        executeOnce=True,
    )
    always = node("Always", "noOp", 1, alwaysOutputData=True)
    conversion = converted([MANUAL, split, once, always], chain("Start", "Split", "Once", "Always"))
    assert graph_node(conversion, "Once")["execute_once"] is True
    assert "execute_once" not in graph_node(conversion, "Split")
    assert entry(conversion, "Once")["status"] == "mapped"
    assert entry(conversion, "Always")["status"] == "mapped_with_warnings"
    result = run(conversion, {"rows": [{"n": 1}, {"n": 2}, {"n": 3}]})
    # n8n's Execute Once: the first item only, the others are not passed on
    assert outputs(result, "Once") == [{"seen": "1"}]


def test_webhook_method_path_modes_and_authentication():
    conversion = converted([webhook("Orders/New")])
    params = graph_node(conversion, "Webhook")["params"]
    assert params == {"method": "POST", "path": "orders/new", "mode": "sync"}
    assert entry(conversion, "Webhook")["status"] == "mapped_with_warnings"
    header = converted(
        [
            node(
                "Webhook",
                "webhook",
                2.1,
                {"authentication": "headerAuth", "path": "p", "responseMode": "onReceived"},
            )
        ]
    )
    assert graph_node(header, "Webhook")["params"]["auth"] == "header"
    assert graph_node(header, "Webhook")["params"]["mode"] == "async"
    assert entry(header, "Webhook")["credentials"]
    basic = converted([node("Webhook", "webhook", 1, {"authentication": "basicAuth", "path": "p"})])
    # an endpoint that asked for a password must not be imported open to anyone
    assert graph_node(basic, "Webhook")["disabled"] is True


@pytest.mark.parametrize(
    ("rule", "cron"),
    [
        ({"field": "minutes", "minutesInterval": 15}, "*/15 * * * *"),
        ({"field": "hours", "hoursInterval": 2, "triggerAtMinute": 5}, "5 */2 * * *"),
        ({"field": "days", "triggerAtHour": 9, "triggerAtMinute": 30}, "30 9 * * *"),
        ({"field": "weeks", "triggerAtDay": [1, 5], "triggerAtHour": 8}, "0 8 * * 1,5"),
        ({"field": "months", "triggerAtDayOfMonth": 15, "triggerAtHour": 6}, "0 6 15 * *"),
        ({"field": "cronExpression", "expression": "0 */5 * * * *"}, "*/5 * * * *"),
    ],
)
def test_schedule_trigger_interval_and_cron_forms(rule, cron):
    conversion = converted(
        [node("Every", "scheduleTrigger", 1.2, {"rule": {"interval": [rule]}})],
        settings={"timezone": "Europe/Berlin"},
    )
    assert graph_node(conversion, "Every")["params"] == {"cron": cron, "timezone": "Europe/Berlin"}


def test_set_v3_assignments_types_and_include_other_fields():
    set_node = node(
        "Set",
        "set",
        3.4,
        {
            "assignments": {
                "assignments": [
                    {"name": "total", "value": "={{ $json.a * 2 }}", "type": "number"},
                    {"name": "label", "value": "={{ $json.a }}", "type": "string"},
                    {"name": "flag", "value": "true", "type": "boolean"},
                    {"name": "deep.x", "value": "7", "type": "number"},
                ]
            },
            "includeOtherFields": True,
        },
    )
    conversion = converted([MANUAL, set_node], chain("Start", "Set"))
    result = run(conversion, {"a": "21", "keep": 1})
    assert outputs(result, "Set") == [
        {"a": "21", "keep": 1, "total": 42, "label": "21", "flag": True, "deep": {"x": 7}}
    ]


def test_set_v3_without_other_fields_json_mode_and_v1():
    only = node(
        "Only",
        "set",
        3.3,
        {
            "assignments": {
                "assignments": [{"name": "n", "value": "={{ $json.a }}", "type": "number"}]
            }
        },
    )
    raw = node("Raw", "set", 3.4, {"mode": "raw", "jsonOutput": '={\n "b": {{ $json.n + 1 }} }'})
    old = node(
        "Old",
        "set",
        2,
        {"values": {"string": [{"name": "s", "value": "={{ $json.b }}"}]}, "keepOnlySet": True},
    )
    conversion = converted([MANUAL, only, raw, old], chain("Start", "Only", "Raw", "Old"))
    result = run(conversion, {"a": 5, "other": 1})
    assert outputs(result, "Only") == [{"n": 5}]
    assert outputs(result, "Raw") == [{"b": 6}]  # JSON mode without other fields
    assert outputs(result, "Old") == [{"s": 6}]


def test_set_v3_selected_and_except_fields():
    selected = node(
        "Sel",
        "set",
        3.4,
        {
            "includeOtherFields": True,
            "include": "selected",
            "includeFields": "a, b.c",
            "assignments": {"assignments": []},
        },
    )
    excepted = node(
        "Exc",
        "set",
        3.4,
        {
            "includeOtherFields": True,
            "include": "except",
            "excludeFields": "a",
            "assignments": {"assignments": []},
        },
    )
    conversion = converted([MANUAL, selected, excepted], chain("Start", "Sel", "Exc"))
    result = run(conversion, {"a": 1, "b": {"c": 2}, "d": 3})
    assert outputs(result, "Sel") == [{"a": 1, "c": 2}]
    assert outputs(result, "Exc") == [{"c": 2}]


def _if(version, conditions, **parameters):
    return node("If", "if", version, {"conditions": conditions, **parameters})


def _operator(kind, operation):
    """The operator as n8n's editor writes it (with rightType where it sets one)."""
    operator = {"type": kind, "operation": operation}
    if kind == "array" and operation in ("contains", "notContains"):
        operator["rightType"] = "any"
    elif kind == "array" and operation.startswith("length"):
        operator["rightType"] = "number"
    return operator


def _conditions(*entries, combinator="and", **options):
    return {
        "options": {"caseSensitive": True, "typeValidation": "strict", **options},
        "conditions": [
            {"leftValue": left, "rightValue": right, "operator": _operator(t, o)}
            for t, o, left, right in entries
        ],
        "combinator": combinator,
    }


@pytest.mark.parametrize(
    ("kind", "operation", "left", "right", "expected"),
    [
        ("string", "equals", "={{ $json.s }}", "abc", True),
        ("string", "notEquals", "={{ $json.s }}", "abc", False),
        ("string", "contains", "={{ $json.s }}", "b", True),
        ("string", "notContains", "={{ $json.s }}", "z", True),
        ("string", "startsWith", "={{ $json.s }}", "ab", True),
        ("string", "notStartsWith", "={{ $json.s }}", "ab", False),
        ("string", "endsWith", "={{ $json.s }}", "bc", True),
        ("string", "notEndsWith", "={{ $json.s }}", "bc", False),
        ("string", "regex", "={{ $json.s }}", "/^A/i", True),
        ("string", "notRegex", "={{ $json.s }}", "^b", True),
        ("string", "empty", "={{ $json.e }}", "", True),
        ("string", "notEmpty", "={{ $json.s }}", "", True),
        ("string", "exists", "={{ $json.missing }}", "", False),
        ("string", "notExists", "={{ $json.missing }}", "", True),
        ("number", "equals", "={{ $json.n }}", 5, True),
        ("number", "notEquals", "={{ $json.n }}", 5, False),
        ("number", "gt", "={{ $json.n }}", 4, True),
        ("number", "lt", "={{ $json.n }}", 4, False),
        ("number", "gte", "={{ $json.n }}", 5, True),
        ("number", "lte", "={{ $json.n }}", 4.5, False),
        ("number", "empty", "={{ $json.missing }}", "", True),
        ("number", "notEmpty", "={{ $json.n }}", "", True),
        ("boolean", "true", "={{ $json.t }}", "", True),
        ("boolean", "false", "={{ $json.t }}", "", False),
        ("boolean", "equals", "={{ $json.t }}", True, True),
        ("boolean", "notEquals", "={{ $json.t }}", True, False),
        ("dateTime", "after", "={{ $json.d }}", "2024-01-01T00:00:00Z", True),
        ("dateTime", "before", "={{ $json.d }}", "2024-01-01T00:00:00Z", False),
        ("dateTime", "afterOrEquals", "={{ $json.d }}", "2024-03-10T06:30:00Z", True),
        ("dateTime", "beforeOrEquals", "={{ $json.d }}", "2024-03-10T06:30:00Z", True),
        ("dateTime", "equals", "={{ $json.d }}", "2024-03-10T06:30:00Z", True),
        ("array", "contains", "={{ $json.l }}", "b", True),
        ("array", "notContains", "={{ $json.l }}", "z", True),
        ("array", "lengthEquals", "={{ $json.l }}", 2, True),
        ("array", "lengthNotEquals", "={{ $json.l }}", 2, False),
        ("array", "lengthGt", "={{ $json.l }}", 1, True),
        ("array", "lengthLt", "={{ $json.l }}", 2, False),
        ("array", "lengthGte", "={{ $json.l }}", 2, True),
        ("array", "lengthLte", "={{ $json.l }}", 1, False),
        ("array", "empty", "={{ $json.l }}", "", False),
        ("array", "notEmpty", "={{ $json.l }}", "", True),
        ("object", "empty", "={{ $json.o }}", "", True),
        ("object", "notEmpty", "={{ $json.o }}", "", False),
    ],
)
def test_if_v2_every_operator(kind, operation, left, right, expected):
    conversion = converted(
        [MANUAL, _if(2.2, _conditions((kind, operation, left, right)))], chain("Start", "If")
    )
    item = {
        "s": "abc",
        "e": "",
        "n": 5,
        "t": True,
        "d": "2024-03-10T01:30:00-05:00",
        "l": ["a", "b"],
        "o": {},
    }
    result = run(conversion, item)
    assert bool(outputs(result, "If", "true")) is expected


def test_if_combinator_or_case_insensitivity_and_loose_types():
    conditions = _conditions(
        ("string", "equals", "={{ $json.s }}", "ABC"),
        ("number", "gt", "={{ $json.n }}", 10),
        combinator="or",
    )
    ignore = _if(2.2, conditions, options={"ignoreCase": True})
    conversion = converted([MANUAL, ignore], chain("Start", "If"))
    assert outputs(run(conversion, {"s": "abc", "n": 1}), "If", "true")
    loose = _if(2.2, _conditions(("number", "gt", "={{ $json.n }}", 10)), looseTypeValidation=True)
    conversion = converted([MANUAL, loose], chain("Start", "If"))
    assert outputs(run(conversion, {"n": "12"}), "If", "true")
    strict = _if(2.2, _conditions(("number", "gt", "={{ $json.n }}", 10)))
    conversion = converted([MANUAL, strict], chain("Start", "If"))
    failed = run_graph(
        Graph.from_dict(conversion.graph),
        context=RunContext(execution={"id": "e"}, trigger_input={"n": "12"}),
        observer=NullObserver(),
    )
    assert failed.status == "failed" and "Wrong type" in failed.error["message"]


def test_a_right_value_is_checked_against_the_operators_type_without_right_type():
    # n8n fails "array contains 'vip'" when the operator carries no rightType "any"
    bare = {
        "options": {"typeValidation": "strict"},
        "combinator": "and",
        "conditions": [
            {
                "leftValue": "={{ $json.l }}",
                "rightValue": "vip",
                "operator": {"type": "array", "operation": "contains"},
            }
        ],
    }
    conversion = converted([MANUAL, _if(2.2, bare)], chain("Start", "If"))
    failed = run_graph(
        Graph.from_dict(conversion.graph),
        context=RunContext(execution={"id": "e"}, trigger_input={"l": []}),
        observer=NullObserver(),
    )
    assert failed.status == "failed" and "Wrong type" in failed.error["message"]


def test_if_v1_conditions_by_type():
    v1 = node(
        "If",
        "if",
        1,
        {
            "conditions": {
                "number": [{"value1": "={{ $json.n }}", "operation": "larger", "value2": 3}],
                "string": [{"value1": "={{ $json.s }}", "operation": "contains", "value2": "b"}],
            },
            "combineOperation": "all",
        },
    )
    conversion = converted([MANUAL, v1], chain("Start", "If"))
    assert outputs(run(conversion, {"n": 5, "s": "abc"}), "If", "true")
    assert outputs(run(conversion, {"n": 2, "s": "abc"}), "If", "false")


def test_filter_keeps_matching_items():
    filt = node(
        "Filter", "filter", 2, {"conditions": _conditions(("number", "gte", "={{ $json.n }}", 2))}
    )
    conversion = converted(
        [MANUAL, node("Split", "splitOut", 1, {"fieldToSplitOut": "rows"}), filt],
        chain("Start", "Split", "Filter"),
    )
    result = run(conversion, {"rows": [{"n": 1}, {"n": 2}, {"n": 3}]})
    assert outputs(result, "Filter") == [{"n": 2}, {"n": 3}]


def test_switch_rules_fallback_and_expression_mode():
    rule = lambda value: {  # noqa: E731 (a one-line builder)
        "conditions": _conditions(("string", "equals", "={{ $json.k }}", value)),
        "renameOutput": True,
        "outputKey": value,
    }
    switch = node(
        "Switch",
        "switch",
        3.2,
        {"rules": {"values": [rule("a"), rule("b")]}, "options": {"fallbackOutput": "extra"}},
    )
    after = [node(n, "noOp", 1) for n in ("A", "B", "Other")]
    connections = {
        "Start": {"main": [[{"node": "Switch", "type": "main", "index": 0}]]},
        "Switch": {
            "main": [
                [{"node": "A", "type": "main", "index": 0}],
                [{"node": "B", "type": "main", "index": 0}],
                [{"node": "Other", "type": "main", "index": 0}],
            ]
        },
    }
    conversion = converted([MANUAL, switch, *after], connections)
    assert outputs(run(conversion, {"k": "b"}), "B")
    assert outputs(run(conversion, {"k": "z"}), "Other")
    expression = node(
        "Switch",
        "switch",
        3,
        {"mode": "expression", "numberOutputs": 2, "output": "={{ $json.k === 'b' ? 1 : 0 }}"},
    )
    conversion = converted(
        [MANUAL, expression, *after[:2]],
        {**connections, "Switch": {"main": connections["Switch"]["main"][:2]}},
    )
    assert outputs(run(conversion, {"k": "b"}), "B")


def test_switch_outputs_named_alike_become_numbered_ports_with_a_warning():
    rule = lambda value: {  # noqa: E731 (a one-line builder)
        "conditions": _conditions(("string", "equals", "={{ $json.k }}", value)),
        "renameOutput": True,
        "outputKey": "same",  # n8n's names are labels: two may be alike
    }
    switch = node("Switch", "switch", 3.2, {"rules": {"values": [rule("a"), rule("b")]}})
    after = [node(n, "noOp", 1) for n in ("A", "B")]
    connections = {
        "Start": {"main": [[{"node": "Switch", "type": "main", "index": 0}]]},
        "Switch": {
            "main": [
                [{"node": "A", "type": "main", "index": 0}],
                [{"node": "B", "type": "main", "index": 0}],
            ]
        },
    }

    conversion = converted([MANUAL, switch, *after], connections)

    assert entry(conversion, "Switch")["status"] == "mapped_with_warnings"
    assert all("output" not in r for r in graph_node(conversion, "Switch")["params"]["rules"])
    assert outputs(run(conversion, {"k": "b"}), "B") and not outputs(
        run(conversion, {"k": "b"}), "A"
    )


def test_an_earlier_node_is_read_by_name_beyond_the_direct_parent():
    first = node(
        "First",
        "set",
        3.4,
        {"assignments": {"assignments": [{"name": "x", "value": 1, "type": "number"}]}},
    )
    later = node(
        "Later",
        "set",
        3.4,
        {
            "assignments": {
                "assignments": [
                    {"name": "k", "value": "={{ $('Webhook').item.json.body.key }}"},
                    {"name": "n", "value": "={{ $node['Webhook'].json.body.key }}"},
                ]
            }
        },
    )
    conversion = converted([webhook(), first, later], chain("Webhook", "First", "Later"))

    result = run(conversion, {"body": {"key": "q"}})

    assert outputs(result, "Later") == [{"k": "q", "n": "q"}]


def _merge_flow(merge):
    left = node(
        "Left",
        "set",
        3.4,
        {
            "assignments": {
                "assignments": [
                    {"name": "id", "value": 1, "type": "number"},
                    {"name": "l", "value": "x", "type": "string"},
                ]
            }
        },
    )
    right = node(
        "Right",
        "set",
        3.4,
        {
            "assignments": {
                "assignments": [
                    {"name": "id", "value": 1, "type": "number"},
                    {"name": "r", "value": "y", "type": "string"},
                ]
            }
        },
    )
    connections = {
        "Start": {
            "main": [
                [
                    {"node": "Right", "type": "main", "index": 0},
                    {"node": "Left", "type": "main", "index": 0},
                ]
            ]
        },
        "Left": {"main": [[{"node": "Merge", "type": "main", "index": 0}]]},
        "Right": {"main": [[{"node": "Merge", "type": "main", "index": 1}]]},
    }
    return converted([MANUAL, left, right, merge], connections)


@pytest.mark.parametrize(
    ("parameters", "version", "expected"),
    [
        ({"mode": "append"}, 3, [{"id": 1, "l": "x"}, {"id": 1, "r": "y"}]),
        ({"mode": "combine", "combineBy": "combineByPosition"}, 3, [{"id": 1, "l": "x", "r": "y"}]),
        (
            {"mode": "combine", "combineBy": "combineByFields", "fieldsToMatchString": "id"},
            3.1,
            [{"id": 1, "l": "x", "r": "y"}],
        ),
        (
            {"mode": "mergeByKey", "propertyName1": "id", "propertyName2": "id"},
            2.1,
            [{"id": 1, "l": "x", "r": "y"}],
        ),
        ({"mode": "chooseBranch", "useDataOfInput": 2}, 3, [{"id": 1, "r": "y"}]),
    ],
)
def test_merge_modes(parameters, version, expected):
    conversion = _merge_flow(node("Merge", "merge", version, parameters))
    assert outputs(run(conversion, {}), "Merge") == expected


def test_split_out_and_aggregate():
    split = node("Split", "splitOut", 1, {"fieldToSplitOut": "rows", "include": "allOtherFields"})
    agg = node(
        "Agg",
        "aggregate",
        1,
        {
            "aggregate": "aggregateIndividualFields",
            "fieldsToAggregate": {"fieldToAggregate": [{"fieldToAggregate": "rows"}]},
        },
    )
    every = node("All", "aggregate", 1, {"aggregate": "aggregateAllItemData"})
    conversion = converted([MANUAL, split, agg, every], chain("Start", "Split", "Agg", "All"))
    result = run(conversion, {"rows": [1, 2], "k": "v"})
    assert outputs(result, "Split") == [{"rows": 1, "k": "v"}, {"rows": 2, "k": "v"}]
    assert outputs(result, "Agg") == [{"rows": [1, 2]}]
    assert outputs(result, "All") == [{"data": [{"rows": [1, 2]}]}]


def test_rename_keys_wait_noop_and_respond():
    rename = node(
        "Rename", "renameKeys", 1, {"keys": {"key": [{"currentKey": "a", "newKey": "b"}]}}
    )
    wait = node("Wait", "wait", 1.1, {"amount": 2, "unit": "minutes"})
    respond = node(
        "Respond",
        "respondToWebhook",
        1.1,
        {"respondWith": "allIncomingItems", "options": {"responseCode": 201}},
    )
    conversion = converted(
        [webhook(mode="responseNode"), rename, node("Nothing", "noOp", 1), wait, respond],
        chain("Webhook", "Rename", "Nothing", "Wait", "Respond"),
    )
    assert graph_node(conversion, "Wait")["params"] == {"seconds": 120}
    assert graph_node(conversion, "Respond")["params"]["status"] == 201
    assert graph_node(conversion, "Rename")["params"]["rename"] == {"a": "b"}


def test_http_request_v4_shape_and_body_unwrapping():
    http = node(
        "HTTP",
        "httpRequest",
        4.2,
        {
            "method": "POST",
            "url": "=https://api.example.com/{{ $json.id }}",
            "sendQuery": True,
            "queryParameters": {"parameters": [{"name": "q", "value": "={{ $json.q }}"}]},
            "sendHeaders": True,
            "headerParameters": {"parameters": [{"name": "X-A", "value": "1"}]},
            "sendBody": True,
            "contentType": "json",
            "specifyBody": "json",
            "jsonBody": '{"a": 1}',
            "authentication": "genericCredentialType",
            "genericAuthType": "httpHeaderAuth",
            "options": {"timeout": 5000, "response": {"response": {"neverError": True}}},
        },
        credentials={"httpHeaderAuth": {"id": "7", "name": "My API key"}},
    )
    conversion = converted([MANUAL, http, node("Next", "noOp", 1)], chain("Start", "HTTP", "Next"))
    params = graph_node(conversion, "HTTP")["params"]
    assert params["url"] == "https://api.example.com/{{ js_text(js_get(json, 'id')) }}"
    assert params["query"] == {"q": "{{ js_out(js_get(json, 'q')) }}"}
    assert params["headers"] == {"X-A": "1"} and params["body"] == {"a": 1}
    assert params["timeout_seconds"] == 5 and params["fail_on_status"] is False
    assert {"source": "HTTP__items", "target": "Next"} in conversion.graph["edges"]
    report = entry(conversion, "HTTP")
    assert "httpHeaderAuth: My API key" in report["credentials"]  # named, never imported
    assert "credential" not in graph_node(conversion, "HTTP")


def test_http_body_unwrapping_gives_n8n_items():
    from linkflow.engine.js_compat import http_items

    assert http_items({"body": [{"a": 1}, 2]}) == [{"a": 1}, {"data": 2}]
    assert http_items({"body": {"a": 1}}) == [{"a": 1}]
    assert http_items({"body": "text"}) == [{"data": "text"}]


def test_python_code_node_gets_n8n_api_and_javascript_is_reported():
    code = node(
        "Code",
        "code",
        2,
        {
            "language": "python",
            "pythonCode": "for item in _input.all():\n    item.json.n = item.json.n * 2\n"
            "return _input.all()",
        },
    )
    conversion = converted([MANUAL, code], chain("Start", "Code"))
    assert "_input" in graph_node(conversion, "Code")["params"]["code"]
    js = node("JS", "code", 2, {"jsCode": "return items;"})
    conversion = converted([MANUAL, js], chain("Start", "JS"))
    assert entry(conversion, "JS")["status"] == "not_mapped"
    assert "return items;" in graph_node(conversion, "JS")["params"]["code"]


def test_execute_workflow_points_at_the_child_imported_with_it():
    parent = node(
        "Child",
        "executeWorkflow",
        1.1,
        {"workflowId": {"__rl": True, "value": "n8nChild", "mode": "id"}},
    )
    conversion = convert(
        workflow([MANUAL, parent], chain("Start", "Child")), workflow_ids={"n8nChild": "lf-id"}
    )
    assert graph_node(conversion, "Child")["params"] == {"workflow": "lf-id", "wait": True}


@pytest.mark.parametrize("kind", ["function", "itemLists", "@n8n/n8n-nodes-langchain.agent"])
def test_nodes_without_a_counterpart_are_reported_and_fail_when_run(kind):
    conversion = converted([MANUAL, node("X", kind, 1)], chain("Start", "X"))
    report = entry(conversion, "X")
    assert report["status"] == "not_mapped" and report["reason"]
    assert "NotImplementedError" in graph_node(conversion, "X")["params"]["code"]


def test_unknown_type_versions_are_reported_not_mapped():
    conversion = converted([MANUAL, node("Set", "set", 9)], chain("Start", "Set"))
    assert "typeVersion 9" in entry(conversion, "Set")["reason"]


def test_limit_sort_remove_duplicates_send_email_stop_and_error_map_to_linkflow_nodes():
    conversion = converted(
        [
            MANUAL,
            node("Limit", "limit", 1, {"maxItems": 2}),
            node(
                "Sort",
                "sort",
                1,
                {"sortFieldsUi": {"sortField": [{"fieldName": "n", "order": "descending"}]}},
            ),
            node("Dedupe", "removeDuplicates", 1.1, {}),
            node(
                "Mail",
                "emailSend",
                2.1,
                {
                    "toEmail": "a@example.com",
                    "subject": "Hi",
                    "emailFormat": "text",
                    "text": "={{ $json.n }}",
                },
            ),
            node("Stop", "stopAndError", 1, {"errorMessage": "no"}),
        ],
        chain("Start", "Limit", "Sort", "Dedupe", "Mail", "Stop"),
    )
    assert [
        entry(conversion, n)["linkflow_type"] for n in ("Limit", "Sort", "Dedupe", "Mail", "Stop")
    ] == ["data.limit", "code.python", "code.python", "notify.email", "flow.stop"]
    assert graph_node(conversion, "Limit")["params"] == {"max_items": 2, "keep": "first"}
    assert graph_node(conversion, "Stop")["params"] == {"message": "no"}


def test_limit_keeps_the_last_items_and_stop_fails_the_run_with_the_translated_message():
    split = node("Split", "splitOut", 1, {"fieldToSplitOut": "rows"})
    last = node("Last", "limit", 1, {"maxItems": 2, "keep": "lastItems"})
    stop = node("Stop", "stopAndError", 1, {"errorMessage": "=too many: {{ $json.n }}"})
    conversion = converted([MANUAL, split, last, stop], chain("Start", "Split", "Last", "Stop"))
    result = run_graph(
        Graph.from_dict(versions_stamped(conversion.graph)),
        context=RunContext(
            execution={"id": "e"}, trigger_input={"rows": [{"n": 1}, {"n": 2}, {"n": 3}]}
        ),
        observer=NullObserver(),
    )
    assert outputs(result, "Last") == [{"n": 2}, {"n": 3}]
    assert result.status == "failed"
    assert result.outcomes["Stop"].error["code"] == "flow_stopped"
    assert result.outcomes["Stop"].error["message"] == "too many: 2"


def test_sticky_notes_and_pinned_data_are_kept_in_the_report():
    sticky = node("Note", "stickyNote", 1, {"content": "## Read me"})
    conversion = converted([MANUAL, sticky], pinData={"Start": [{"json": {"a": 1}}]})
    assert conversion.report["notes"][0]["content"] == "## Read me"
    assert conversion.report["pinned_data"] == {"Start": [{"json": {"a": 1}}]}
    assert all(n["type"] != "stickyNote" for n in conversion.graph["nodes"])


def test_a_workflow_without_trigger_gets_a_manual_one():
    conversion = converted([node("Only", "noOp", 1)])
    assert conversion.graph["nodes"][0]["type"] == "trigger.manual"
    assert {"source": "start", "target": "Only"} in conversion.graph["edges"]


def test_error_output_connections_map_to_the_error_port():
    http = node(
        "HTTP",
        "httpRequest",
        4.2,
        {"url": "https://x.example", "options": {"response": {"response": {"fullResponse": True}}}},
        onError="continueErrorOutput",
    )
    connections = {
        "Start": {"main": [[{"node": "HTTP", "type": "main", "index": 0}]]},
        "HTTP": {
            "main": [
                [{"node": "Ok", "type": "main", "index": 0}],
                [{"node": "Bad", "type": "main", "index": 0}],
            ]
        },
    }
    conversion = converted(
        [MANUAL, http, node("Ok", "noOp", 1), node("Bad", "noOp", 1)], connections
    )
    assert {"source": "HTTP", "target": "Bad", "output": "error"} in conversion.graph["edges"]
