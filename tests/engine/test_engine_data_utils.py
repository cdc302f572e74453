"""The data utility nodes (sort, limit, dedupe, rename, summarize, compare, datetime,
crypto, html, xml), run on a hand-built NodeContext without a database."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest

from linkflow.engine import NodeContext, NodeError, RunContext
from linkflow.engine.nodes.data_crypto import Crypto
from linkflow.engine.nodes.data_datetime import DateTime
from linkflow.engine.nodes.data_html import MAX_HTML_CHARS, ExtractHtml
from linkflow.engine.nodes.data_utils import Compare, Dedupe, Limit, Rename, Sort, Summarize
from linkflow.engine.nodes.data_xml import Xml
from linkflow.engine.registry import Items, NodeType, get_node_type

from .test_engine_data_nodes import problems_for

NOW = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)


def run_node(
    node_type: type[NodeType],
    params: dict[str, Any],
    items: Items,
    *,
    inputs: list[Items] | None = None,
    credentials: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Items]:
    ctx = NodeContext(
        node_id="node",
        params=params,
        run=RunContext(
            execution={"id": "e1", "mode": "manual"},
            trigger_input={},
            clock=lambda: NOW,
            credentials=(credentials or {}).__getitem__,
        ),
        items=items,
        node_views={},
        inputs=inputs,
        credential_id="key" if credentials else None,
    )
    return node_type().execute(ctx, items)


def test_every_data_utility_is_registered_by_its_type_name() -> None:
    names = ["sort", "limit", "dedupe", "rename", "summarize", "compare"]
    names += ["datetime", "crypto", "html", "xml"]
    for name in names:
        node_type = get_node_type(f"data.{name}")
        assert node_type is not None and node_type.type == f"data.{name}"


def test_sort_orders_by_several_fields_with_missing_values_last() -> None:
    items = [{"n": "b", "v": 1}, {"n": "a", "v": 2}, {"v": 9}, {"n": "a", "v": 5}]
    params = {"fields": [{"field": "n"}, {"field": "v", "order": "desc"}]}

    output = run_node(Sort, params, items)

    assert output["main"] == [{"n": "a", "v": 5}, {"n": "a", "v": 2}, {"n": "b", "v": 1}, {"v": 9}]


def test_sort_of_mixed_types_does_not_raise() -> None:
    items = [{"v": "x"}, {"v": 3}, {"v": {"a": 1}}, {"v": None}, {"v": 1.5}]

    output = run_node(Sort, {"fields": [{"field": "v"}]}, items)

    assert [i["v"] for i in output["main"]] == [1.5, 3, "x", {"a": 1}, None]


def test_limit_keeps_first_or_last() -> None:
    items = [{"i": n} for n in range(5)]

    assert run_node(Limit, {"max_items": 2}, items)["main"] == [{"i": 0}, {"i": 1}]
    assert run_node(Limit, {"max_items": 2, "keep": "last"}, items)["main"] == [{"i": 3}, {"i": 4}]
    assert run_node(Limit, {"max_items": 0, "keep": "last"}, items)["main"] == []


def test_dedupe_by_fields_keeps_the_first_of_each() -> None:
    items = [{"e": "a", "n": 1}, {"e": "b", "n": 2}, {"e": "a", "n": 3}, {"n": 4}, {"n": 5}]

    output = run_node(Dedupe, {"fields": ["e"]}, items)

    assert output["main"] == [{"e": "a", "n": 1}, {"e": "b", "n": 2}, {"n": 4}]
    assert run_node(Dedupe, {}, [{"a": 1}, {"a": 1}, {"a": 2}])["main"] == [{"a": 1}, {"a": 2}]


def test_rename_moves_nested_fields_without_touching_the_input() -> None:
    item = {"a": {"b": 1}, "c": 2}

    output = run_node(Rename, {"fields": {"a.b": "x.y", "c": "d", "ghost": "g"}}, [item])

    assert output["main"] == [{"a": {}, "x": {"y": 1}, "d": 2}]
    assert item == {"a": {"b": 1}, "c": 2}


def test_summarize_groups_and_aggregates() -> None:
    items = [
        {"team": "red", "pts": 3, "who": "ann"},
        {"team": "blue", "pts": 1, "who": "bob"},
        {"team": "red", "pts": 4.5, "who": "cy"},
        {"team": "red", "who": "ann"},
    ]
    params = {
        "group_by": ["team"],
        "aggregations": [
            {"op": "count"},
            {"op": "sum", "field": "pts"},
            {"op": "avg", "field": "pts", "as": "mean"},
            {"op": "max", "field": "pts"},
            {"op": "count_unique", "field": "who"},
            {"op": "concatenate", "field": "who", "separator": "+"},
        ],
    }

    output = run_node(Summarize, params, items)

    assert output["main"] == [
        {
            "team": "red",
            "count": 3,
            "sum_pts": 7.5,
            "mean": 3.75,
            "max_pts": 4.5,
            "count_unique_who": 2,
            "concatenate_who": "ann+cy+ann",
        },
        {
            "team": "blue",
            "count": 1,
            "sum_pts": 1,
            "mean": 1.0,
            "max_pts": 1,
            "count_unique_who": 1,
            "concatenate_who": "bob",
        },
    ]


def test_summarize_sum_of_text_fails_with_the_field_named() -> None:
    with pytest.raises(NodeError, match="'pts' holds 'x'"):
        run_node(Summarize, {"aggregations": [{"op": "sum", "field": "pts"}]}, [{"pts": "x"}])
    assert problems_for("data.summarize", {"aggregations": [{"op": "sum"}]}) == [
        ("node_params_invalid", "node", "params.aggregations.0.field")
    ]


def test_compare_sorts_items_into_both_only_left_only_right_and_different() -> None:
    left = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]
    right = [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 4, "v": "d"}]

    output = run_node(Compare, {"keys": ["id"]}, left + right, inputs=[left, right])

    assert output == {
        "both": [{"id": 1, "v": "a"}],
        "different": [
            {"key": {"id": 2}, "left": {"id": 2, "v": "b"}, "right": {"id": 2, "v": "B"}}
        ],
        "only_left": [{"id": 3, "v": "c"}],
        "only_right": [{"id": 4, "v": "d"}],
    }


def test_datetime_parses_converts_formats_and_shifts() -> None:
    item = {"at": "2025-01-31 09:30"}

    def one(params: dict[str, Any]) -> Any:
        return run_node(DateTime, {"value": "{{ json.at }}", **params}, [item])["main"][0][
            "datetime"
        ]

    assert one({"operation": "parse", "timezone": "Europe/Berlin"}) == "2025-01-31T09:30:00+01:00"
    assert one({"operation": "convert", "timezone": "UTC"}) == "2025-01-31T09:30:00+00:00"
    assert one({"operation": "format", "format": "%d.%m.%Y"}) == "31.01.2025"
    assert one({"operation": "add", "amount": 1, "unit": "months"}) == "2025-02-28T09:30:00+00:00"
    assert one({"operation": "subtract", "amount": 90, "unit": "minutes"}) == (
        "2025-01-31T08:00:00+00:00"
    )
    assert one({"operation": "difference", "end": "2025-02-01T09:30:00Z", "unit": "hours"}) == 24
    assert run_node(DateTime, {"operation": "parse", "value": 0}, [{}])["main"][0]["datetime"] == (
        "1970-01-01T00:00:00+00:00"
    )


def test_datetime_without_a_value_is_now_and_bad_input_fails() -> None:
    assert (
        run_node(DateTime, {"operation": "parse"}, [{}])["main"][0]["datetime"] == NOW.isoformat()
    )
    with pytest.raises(NodeError, match="not a date"):
        run_node(DateTime, {"operation": "parse", "value": "soon"}, [{}])
    with pytest.raises(NodeError, match="Unknown time zone"):
        run_node(DateTime, {"operation": "parse", "timezone": "Mars/Olympus"}, [{}])


def _luxon(params: dict[str, Any], value: Any = "2024-03-10T01:30:00-05:00") -> Any:
    full = {"value": value, "iso_style": "luxon", "timezone": "UTC", **params}
    return run_node(DateTime, full, [{}])["main"][0]["datetime"]


def test_datetime_luxon_style_writes_milliseconds_and_z_in_the_node_zone() -> None:
    assert _luxon({"operation": "add", "amount": 1, "unit": "quarters"}) == (
        "2024-06-10T06:30:00.000Z"
    )
    assert _luxon({"operation": "subtract", "amount": 250, "unit": "milliseconds"}) == (
        "2024-03-10T06:29:59.750Z"
    )
    berlin = _luxon({"operation": "parse", "timezone": "Europe/Berlin"})
    assert berlin == "2024-03-10T07:30:00.000+01:00"
    # the python style keeps its shape: no milliseconds, +00:00, the value's own offset
    plain = run_node(DateTime, {"operation": "add", "value": "2024-03-10T01:30:00-05:00"}, [{}])
    assert plain["main"][0]["datetime"] == "2024-03-10T01:30:00-05:00"


def test_datetime_luxon_style_reads_long_numbers_as_milliseconds() -> None:
    assert _luxon({"operation": "parse"}, value="1700000000") == "2023-11-14T22:13:20.000Z"
    assert _luxon({"operation": "parse"}, value=1700000000123) == "2023-11-14T22:13:20.123Z"
    assert _luxon({"operation": "parse"}, value=1.5) == "1970-01-01T00:00:01.500Z"


def test_datetime_luxon_difference_divides_milliseconds_as_luxon_does() -> None:
    params = {"operation": "difference", "end": "1700000000123", "unit": "hours"}

    hours = _luxon(params, value="2024-01-01T00:00:00Z")

    # n8n 2.41 answers -1129.7777436111112; seconds divided give ...111 in the last digit
    assert hours == -1129.7777436111112


def test_datetime_rounds_down_and_up_to_a_calendar_field() -> None:
    value = "2024-01-17T10:45:30.250Z"  # a Wednesday

    def rounded(field: str, direction: str = "down") -> Any:
        return _luxon({"operation": "round", "field": field, "direction": direction}, value)

    assert rounded("month") == "2024-01-01T00:00:00.000Z"
    assert rounded("week") == "2024-01-15T00:00:00.000Z"
    assert rounded("hour") == "2024-01-17T10:00:00.000Z"
    assert rounded("second") == "2024-01-17T10:45:30.000Z"
    assert rounded("month", "up") == "2024-02-01T00:00:00.000Z"
    assert rounded("year", "up") == "2025-01-01T00:00:00.000Z"


def test_datetime_extracts_one_calendar_field_as_a_number() -> None:
    value = "2024-12-30T23:15:00+00:00"

    def part(field: str) -> Any:
        return _luxon({"operation": "extract", "field": field}, value)

    assert [part(f) for f in ("year", "month", "day", "hour", "minute")] == [2024, 12, 30, 23, 15]
    assert part("week") == 1  # ISO week: 30 December 2024 is in 2025's first week


def test_datetime_difference_in_quarters_and_milliseconds() -> None:
    params = {"operation": "difference", "value": "2024-01-01T00:00:00Z"}
    quarters = run_node(
        DateTime, {**params, "end": "2024-08-15T00:00:00Z", "unit": "quarters"}, [{}]
    )
    millis = run_node(
        DateTime, {**params, "end": "2024-01-01T00:00:01.5Z", "unit": "milliseconds"}, [{}]
    )
    back = run_node(DateTime, {**params, "end": "2022-12-01T00:00:00Z", "unit": "years"}, [{}])

    assert quarters["main"][0]["datetime"] == 2
    assert millis["main"][0]["datetime"] == 1500
    assert back["main"][0]["datetime"] == -1


def test_crypto_hashes_and_signs_with_the_credential_key() -> None:
    params = {"operation": "hmac", "value": "{{ json.body }}", "output_field": "sig"}

    signed = run_node(Crypto, params, [{"body": "hi"}], credentials={"key": {"key": "s3cret-key"}})
    hashed = run_node(Crypto, {"operation": "hash", "value": "hi"}, [{}])

    expected = hmac.new(b"s3cret-key", b"hi", hashlib.sha256).hexdigest()
    assert signed["main"] == [{"body": "hi", "sig": expected}]
    assert hashed["main"][0]["crypto"] == hashlib.sha256(b"hi").hexdigest()


def test_crypto_hmac_without_a_credential_fails() -> None:
    with pytest.raises(NodeError, match="needs a credential"):
        run_node(Crypto, {"operation": "hmac", "value": "x"}, [{}])


def test_crypto_random_values_differ_and_have_the_length_asked() -> None:
    output = run_node(Crypto, {"operation": "random", "length": 16}, [{}, {}])["main"]

    assert len(output[0]["crypto"]) == 32 and output[0]["crypto"] != output[1]["crypto"]


HTML = """<html><body><h1 class="t">Hello <b>world</b></h1>
<ul><li><a href="/a">A</a></li><li><a href="/b">B</a></li></ul></body></html>"""


def test_html_extracts_text_attributes_and_lists_by_selector() -> None:
    params = {
        "extract": [
            {"key": "title", "selector": "h1.t"},
            {
                "key": "links",
                "selector": "ul a",
                "value": "attribute",
                "attribute": "href",
                "all": True,
            },
            {"key": "inner", "selector": "h1", "value": "html"},
            {"key": "none", "selector": "table"},
        ],
    }

    output = run_node(ExtractHtml, params, [{"body": HTML}])["main"][0]

    assert output["title"] == "Hello world"
    assert output["links"] == ["/a", "/b"]
    assert output["inner"] == "Hello <b>world</b>"
    assert output["none"] is None


def test_html_refuses_a_bad_selector_and_an_oversized_document() -> None:
    bad = {"extract": [{"key": "k", "selector": "p[[["}]}
    assert problems_for("data.html", bad) == [
        ("node_params_invalid", "node", "params.extract.0.selector")
    ]
    huge = {"extract": [{"key": "k", "selector": "p"}]}
    with pytest.raises(NodeError, match="at most"):
        run_node(ExtractHtml, huge, [{"body": "x" * (MAX_HTML_CHARS + 1)}])


def test_xml_round_trips_attributes_repeats_and_text() -> None:
    text = '<order id="7"><item>a</item><item>b</item><note lang="en">hi</note></order>'

    parsed = run_node(Xml, {"mode": "to_json"}, [{"data": text}])["main"][0]["data"]
    written = run_node(Xml, {"mode": "to_xml"}, [{"data": parsed}])["main"][0]["data"]

    assert parsed == {
        "order": {"@id": "7", "item": ["a", "b"], "note": {"@lang": "en", "#text": "hi"}}
    }
    assert written == text


def test_xml_entity_expansion_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><r>&lol2;</r>'
    )
    external = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    )

    for document in (bomb, external):
        with pytest.raises(NodeError, match="Refused XML"):
            run_node(Xml, {"mode": "to_json"}, [{"data": document}])


def test_xml_refuses_an_element_name_that_would_inject_markup() -> None:
    with pytest.raises(NodeError, match="not an XML element name"):
        run_node(Xml, {"mode": "to_xml"}, [{"data": {"a><script": "x"}}])
