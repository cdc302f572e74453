"""The n8n nodes mapped since LinkFlow has their counterparts: Error Trigger, Summarize,
Crypto, XML, HTML, Postgres, MySQL, Redis, RabbitMQ and MQTT. The pure ones are run through
the engine on the item n8n would get; the others are checked for the parameters they
become (their nodes are tested against the real servers in tests/nodes/)."""

import hashlib
import hmac

import pytest

from .n8n_samples import chain, node, webhook
from .test_import_n8n_nodes import MANUAL, converted, entry, graph_node, outputs, run


def test_error_trigger_becomes_trigger_error_and_warns_of_the_items_shape():
    conversion = converted([node("On error", "errorTrigger", 1, {})])

    assert graph_node(conversion, "On_error")["type"] == "trigger.error"
    assert entry(conversion, "On error")["status"] == "mapped_with_warnings"


def test_summarize_groups_and_names_each_aggregation_as_n8n_does():
    summarize = node(
        "Sum",
        "summarize",
        1.1,
        {
            "fieldsToSplitBy": "team",
            "fieldsToSummarize": {
                "values": [
                    {"field": "amount", "aggregation": "sum"},
                    {
                        "field": "name",
                        "aggregation": "concatenate",
                        "separateBy": "other",
                        "customSeparator": "|",
                    },
                    {"field": "amount", "aggregation": "max"},
                    {},
                ]
            },
        },
    )
    conversion = converted([webhook(), summarize], chain("Webhook", "Sum"))
    # the webhook item's fields are under body: summarise items a split would give
    params = graph_node(conversion, "Sum")["params"]
    assert params["group_by"] == ["team"]
    assert [a["as"] for a in params["aggregations"]] == [
        "sum_amount",
        "concatenated_name",
        "max_amount",
    ]
    assert params["aggregations"][1]["separator"] == "|"


def test_summarize_runs_on_items_with_n8ns_output_names():
    split = node("Split", "splitOut", 1, {"fieldToSplitOut": "body.rows"})
    summarize = node(
        "Sum",
        "summarize",
        1,
        {
            "fieldsToSplitBy": "team",
            "fieldsToSummarize": {"values": [{"field": "amount", "aggregation": "sum"}]},
        },
    )
    conversion = converted([webhook(), split, summarize], chain("Webhook", "Split", "Sum"))
    rows = [{"team": "a", "amount": 2}, {"team": "b", "amount": 5}, {"team": "a", "amount": 3}]

    result = run(conversion, {"body": {"rows": rows}})

    assert outputs(result, "Sum") == [
        {"team": "a", "sum_amount": 5},
        {"team": "b", "sum_amount": 5},
    ]


def test_summarize_append_is_reported_not_mapped():
    summarize = node(
        "Sum",
        "summarize",
        1,
        {"fieldsToSummarize": {"values": [{"field": "x", "aggregation": "append"}]}},
    )
    conversion = converted([MANUAL, summarize], chain("Start", "Sum"))
    assert "append" in entry(conversion, "Sum")["reason"]


def test_crypto_hash_runs_and_hmac_asks_for_a_key_credential():
    digest = node(
        "Hash",
        "crypto",
        1,
        {"type": "SHA256", "value": "={{ $json.body.email }}", "dataPropertyName": "hash"},
    )
    signed = node(
        "Sign",
        "crypto",
        1,
        {
            "action": "hmac",
            "type": "SHA256",
            "value": "x",
            "secret": "s3cret",
            "encoding": "base64",
        },
    )
    conversion = converted([webhook(), digest, signed], chain("Webhook", "Hash", "Sign"))

    assert graph_node(conversion, "Sign")["params"]["operation"] == "hmac"
    assert "s3cret" not in str(conversion.graph)  # the secret is never imported
    assert any("key credential" in c for c in entry(conversion, "Sign")["credentials"])
    rerun = converted([webhook(), digest], chain("Webhook", "Hash"))
    result = run(rerun, {"body": {"email": "ada@example.com"}})
    expected = hashlib.sha256(b"ada@example.com").hexdigest()
    assert outputs(result, "Hash")[0]["hash"] == expected
    assert hmac.compare_digest(expected, outputs(result, "Hash")[0]["hash"])


def test_crypto_generate_makes_a_uuid():
    conversion = converted(
        [MANUAL, node("Id", "crypto", 1, {"action": "generate", "dataPropertyName": "id"})],
        chain("Start", "Id"),
    )
    result = run(conversion, {})
    value = outputs(result, "Id")[0]["id"]
    assert len(value) == 36 and value.count("-") == 4


def test_xml_to_json_makes_the_document_the_item_and_json_to_xml_is_reported():
    parse = node("Parse", "xml", 1, {"dataPropertyName": "body"})
    conversion = converted([webhook(), parse], chain("Webhook", "Parse"))
    result = run(conversion, {"body": "<order><id>7</id></order>", "headers": {"h": "1"}})
    # n8n 2.41 answers the parsed document alone: the input's fields are gone
    assert outputs(result, "Parse") == [{"order": {"id": "7"}}]

    back = converted([MANUAL, node("Out", "xml", 1, {"mode": "jsonToxml"})], chain("Start", "Out"))
    assert "jsonToxml" in entry(back, "Out")["reason"]


def test_html_extract_keeps_only_the_extracted_keys_as_n8n_does():
    extract = node(
        "Extract",
        "html",
        1.2,
        {
            "operation": "extractHtmlContent",
            "dataPropertyName": "body",
            "extractionValues": {
                "values": [
                    {"key": "title", "cssSelector": "h1"},
                    {
                        "key": "links",
                        "cssSelector": "a",
                        "returnValue": "attribute",
                        "attribute": "href",
                        "returnArray": True,
                    },
                ]
            },
        },
    )
    conversion = converted([webhook(), extract], chain("Webhook", "Extract"))
    page = '<h1>Hi</h1><a href="/a">a</a><a href="/b">b</a>'

    result = run(conversion, {"body": page, "headers": {}})

    assert outputs(result, "Extract") == [{"title": "Hi", "links": ["/a", "/b"]}]


def test_html_template_renders_its_expressions():
    template = node("Page", "html", 1.2, {"html": "<p>{{ $json.body.name }}</p>"})
    conversion = converted([webhook(), template], chain("Webhook", "Page"))
    result = run(conversion, {"body": {"name": "Ada"}})
    assert outputs(result, "Page") == [{"html": "<p>Ada</p>"}]  # only the html, as n8n


def test_postgres_query_values_become_parameters_never_sql_text():
    query = node(
        "Query",
        "postgres",
        2.5,
        {
            "operation": "executeQuery",
            "query": "SELECT * FROM t WHERE a = $1 AND b LIKE '%x' AND c = $2 OR d = $1",
            "options": {"queryReplacement": "={{ $json.body.a }}, {{ $json.body.c }}"},
        },
    )
    conversion = converted([webhook(), query], chain("Webhook", "Query"))
    params = graph_node(conversion, "Query")["params"]

    assert params["query"] == (
        "SELECT * FROM t WHERE a = %(p1)s AND b LIKE '%%x' AND c = %(p2)s OR d = %(p1)s"
    )
    assert set(params["parameters"]) == {"p1", "p2"}
    assert "json" in params["parameters"]["p1"] and "json" in params["parameters"]["p2"]
    assert graph_node(conversion, "Query")["type"] == "db.postgres"


@pytest.mark.parametrize("kind,version", [("postgres", 1), ("mySql", 2.4)])
def test_sql_built_from_expressions_is_reported_not_string_built(kind, version):
    injected = node(
        "Query",
        kind,
        version,
        {"operation": "executeQuery", "query": "=SELECT * FROM t WHERE id = '{{ $json.id }}'"},
    )
    conversion = converted([MANUAL, injected], chain("Start", "Query"))
    report = entry(conversion, "Query")
    assert report["status"] == "not_mapped"
    assert "placeholders" in report["reason"]


def test_mysql_plain_query_and_insert_reported():
    conversion = converted(
        [
            MANUAL,
            node("Q", "mySql", 2.4, {"operation": "executeQuery", "query": "SELECT 1"}),
            node("Ins", "mySql", 1, {"table": "t", "columns": "a, b"}),
        ],
        chain("Start", "Q", "Ins"),
    )
    assert graph_node(conversion, "Q")["params"] == {"operation": "query", "query": "SELECT 1"}
    assert "insert" in entry(conversion, "Ins")["reason"]


@pytest.mark.parametrize(
    "parameters,expected",
    [
        (
            {"operation": "get", "key": "k", "propertyName": "cached"},
            {"command": "get", "key": "k", "output_field": "cached"},
        ),
        (
            {"operation": "set", "key": "k", "value": "v", "expire": True, "ttl": 15},
            {"command": "set", "key": "k", "value": "v", "ttl_seconds": 15},
        ),
        (
            {"operation": "incr", "key": "n"},
            {"command": "incr", "key": "n", "output_field": "__reply"},
        ),
        (
            {"operation": "push", "list": "q", "messageData": "m", "tail": True},
            {"command": "rpush", "key": "q", "value": "m"},
        ),
        (
            {"operation": "pop", "list": "q", "propertyName": "got"},
            {"command": "lpop", "key": "q", "output_field": "got"},
        ),
        (
            {"operation": "publish", "channel": "c", "messageData": "hi"},
            {"command": "publish", "key": "c", "value": "hi"},
        ),
    ],
)
def test_redis_operations_become_redis_commands(parameters, expected):
    conversion = converted([MANUAL, node("R", "redis", 1, parameters)], chain("Start", "R"))
    reads = parameters["operation"] in ("get", "pop", "incr")
    assert graph_node(conversion, "R__redis" if reads else "R")["params"] == expected
    assert entry(conversion, "R")["credentials"] == ["redis credential (n8n redis)"]


@pytest.mark.parametrize(
    "parameters,kept",
    [
        ({"operation": "get", "key": "k", "propertyName": "a.b"}, {"a": "{{ json['a'] }}"}),
        ({"operation": "pop", "list": "q", "propertyName": "got"}, {"got": "{{ json['got'] }}"}),
        ({"operation": "incr", "key": "hits"}, {"hits": "{{ json['__reply'] }}"}),
    ],
)
def test_redis_reads_keep_only_what_n8ns_item_holds(parameters, kept):
    conversion = converted([MANUAL, node("R", "redis", 1, parameters)], chain("Start", "R"))

    assert graph_node(conversion, "R")["params"] == {"keep_only": True, "fields": kept}


def test_redis_incr_of_a_computed_key_keeps_the_item_with_a_warning():
    parameters = {"operation": "incr", "key": "=n:{{ $json.id }}"}
    conversion = converted([MANUAL, node("R", "redis", 1, parameters)], chain("Start", "R"))

    assert graph_node(conversion, "R")["type"] == "redis.command"
    assert any("__reply" in w for w in entry(conversion, "R")["warnings"])


def test_rabbitmq_and_mqtt_send_the_item_or_the_message():
    conversion = converted(
        [
            MANUAL,
            node("Rabbit", "rabbitmq", 1, {"queue": "orders", "options": {}}),
            node(
                "Mqtt",
                "mqtt",
                1,
                {"topic": "t/1", "sendInputData": False, "message": "ping", "options": {"qos": 2}},
            ),
        ],
        chain("Start", "Rabbit", "Mqtt"),
    )
    sent = graph_node(conversion, "Rabbit__send")
    assert sent["params"] == {"exchange": "", "routing_key": "orders"}
    # n8n's item after a send is {"success": true}: the node the edges leave from says so
    assert graph_node(conversion, "Rabbit")["params"] == {
        "keep_only": True,
        "fields": {"success": "{{ true }}"},
    }
    assert graph_node(conversion, "Mqtt")["params"] == {"topic": "t/1", "body": "ping", "qos": 1}
    assert entry(conversion, "Mqtt")["status"] == "mapped_with_warnings"


def test_set_text_with_braces_but_no_equals_sign_stays_literal_text():
    # In n8n a value without the leading "=" is never an expression, "{{" or not.
    literal_text = node(
        "Set",
        "set",
        3.4,
        {
            "assignments": {
                "assignments": [{"name": "url", "type": "string", "value": "{{ $env.URL }}/x"}]
            }
        },
    )
    conversion = converted([MANUAL, literal_text], chain("Start", "Set"))

    assert entry(conversion, "Set")["status"] == "mapped"
    assert outputs(run(conversion, {}), "Set")[0]["url"] == "{{ $env.URL }}/x"
