"""evaluate(): native vs mixed values, the standard names, errors and the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from linkflow.engine import ExpressionError
from linkflow.engine.expressions import evaluate

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def names(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "json": {"name": "Ada", "total": 150, "n": 21, "tags": ["a", "b"], "items": [1, 2]},
        "items": [{"id": 1}, {"id": 2}, {"id": 3}],
        "nodes": {"enrich": {"items": [{"name": "Bo"}], "json": {"name": "Bo"}}},
        "trigger": {"order_id": "o-9"},
        "execution": {"id": "ex-1", "mode": "manual"},
        "now": NOW,
    }
    return base | overrides


def error_of(value: object) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        evaluate(value, names=names(), path="params.x")
    return caught.value


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ json.total > 100 }}", True),
        ("{{ json.n * 2 }}", 42),
        ("{{ items | length }}", 3),
        ("{{ json.tags }}", ["a", "b"]),
        ("  {{ json.name }}\n", "Ada"),
        ("{{ {'a': {'b': json.n}} }}", {"a": {"b": 21}}),
        ("{{ items | map(attribute='id') }}", [1, 2, 3]),
        ("{{ (1, 2) }}", [1, 2]),
        ("{{ none }}", None),
    ],
)
def test_single_expression_yields_native_json_value(source: str, expected: object) -> None:
    assert evaluate(source, names=names()) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hello {{ json.name }}!", "Hello Ada!"),
        ("{{ json.name }}-{{ json.n }}", "Ada-21"),
        ("tags={{ json.tags }} ok={{ true }} gone={{ none }}", 'tags=["a", "b"] ok=true gone=null'),
        ("at {{ now }}", "at 2025-01-02T03:04:05+00:00"),
    ],
)
def test_mixed_text_renders_a_string_with_json_for_non_strings(source: str, expected: str) -> None:
    assert evaluate(source, names=names()) == expected


def test_text_without_braces_is_returned_untouched() -> None:
    text = "no {expressions} here {% if %}"

    assert evaluate(text, names={}) is text


def test_lists_and_dict_values_are_walked_but_keys_are_not() -> None:
    value = {"{{ json.n }}": ["{{ json.n }}", 3, {"deep": "x{{ json.n }}"}], "flag": True}

    assert evaluate(value, names=names()) == {
        "{{ json.n }}": [21, 3, {"deep": "x21"}],
        "flag": True,
    }


def test_all_standard_names_are_available() -> None:
    source = (
        "{{ nodes.enrich.json.name }}/{{ nodes.enrich.items | length }}/{{ trigger.order_id }}"
        "/{{ execution.mode }}/{{ now.year }}/{{ items[1].id }}"
    )

    assert evaluate(source, names=names()) == "Bo/1/o-9/manual/2025/2"


def test_dict_keys_win_over_dict_methods() -> None:
    assert evaluate("{{ json.items }}", names=names()) == [1, 2]


def test_subscript_access_works_like_dot_access() -> None:
    assert evaluate("{{ json['name'] }}", names=names()) == "Ada"


def test_now_alone_is_an_iso_string() -> None:
    assert evaluate("{{ now }}", names=names()) == "2025-01-02T03:04:05+00:00"


def test_undefined_name_raises_with_param_and_position() -> None:
    error = error_of("Hi {{ nobody }}")

    assert error.as_dict() == {
        "message": "Parameter 'params.x': 'nobody' is undefined (in {{ nobody }} at character 3)",
        "node_id": None,
        "param": "params.x",
        "position": 3,
        "expression": "nobody",
    }


def test_a_missing_field_reads_as_empty_rather_than_failing() -> None:
    assert evaluate("{{ json.missing }}", names=names()) is None


def test_error_inside_nested_value_names_the_nested_param() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate({"a": ["ok", "x {{ nope }}"]}, names=names(), path="params.fields")

    assert (caught.value.param, caught.value.position) == ("params.fields.a[1]", 2)


def test_syntax_error_carries_the_position_of_its_braces() -> None:
    error = error_of("ab {{ json.n }} cd {{ json.n + }}")

    assert (error.message, error.position) == (
        "Syntax error in expression: unexpected 'end of template'",
        19,
    )


def test_unclosed_expression_is_a_syntax_error() -> None:
    error = error_of("x {{ json.n")

    assert (error.message, error.position) == ("Expression is not closed: '{{' without '}}'.", 2)


def test_runtime_error_is_reported_with_its_type() -> None:
    assert error_of("{{ json.n / 0 }}").message == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ json.__class__ }}", "access to attribute '__class__' of 'dict' object is unsafe."),
        (
            "{{ ''.__class__.__mro__ }}",
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        (
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        (
            "{{ range.__globals__ }}",
            "access to attribute '__globals__' of 'function' object is unsafe.",
        ),
        ("{{ json.tags.append(1) }}", "access to attribute 'append' of 'list' object is unsafe."),
        ("{{ json.update(n=1) }}", "access to attribute 'update' of 'dict' object is unsafe."),
        ("{{ lipsum(1000000) }}", "'lipsum' is undefined"),
    ],
)
def test_sandbox_refuses_internals_and_mutation(source: str, message: str) -> None:
    assert error_of(source).message == message


B = "Expression exceeds its bounds: "


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{{ range(10**9) | list }}",
            "OverflowError: Range too big. The sandbox blocks ranges larger than"
            " MAX_RANGE (100000).",
        ),
        ("{{ 'x' * 10**9 }}", B + "the result would exceed 1000000 characters."),
        ("{{ [0] * 10**9 }}", B + "the result would exceed 100000 items."),
        ("{{ 9 ** 999999 }}", B + "the number would exceed 4096 bits."),
        ("{{ '%999999999d' % 1 }}", B + "format widths are limited to 1000."),
        ("{{ '{:>999999999}'.format(1) }}", B + "format widths are limited to 1000."),
        ("{{ 'x'.center(10**9) }}", B + "the result would exceed 1000000 characters."),
        ("{{ range(100000) | join('x' * 100) }}", B + "the text would exceed 1000000 characters."),
        ("{{ [1] | batch(10**9, 0) | list }}", B + "the result would exceed 100000 items."),
    ],
)
def test_sandbox_refuses_size_abuse(source: str, message: str) -> None:
    assert error_of(source).message == message


def test_result_larger_than_a_megabyte_is_refused() -> None:
    error = error_of("{{ ['x' * 600000, 'y' * 600000] }}")

    assert error.message == "The result is larger than 1000000 characters."


def test_overlong_expression_source_is_refused() -> None:
    error = error_of("{{ " + "1 + " * 2600 + "1 }}")

    assert error.message == "Expression is longer than 10000 characters."


def test_non_json_result_is_refused() -> None:
    error = error_of("{{ json.get }}")

    assert error.message == (
        "The expression produced a value of type builtin_function_or_method,"
        " which is not JSON data."
    )


def test_statements_are_plain_text_not_code() -> None:
    text = "{% for i in range(3) %}x{% endfor %}{{ json.n }}"

    assert evaluate(text, names=names()) == "{% for i in range(3) %}x{% endfor %}21"


# A missing field reads as empty (issue #12, point 3)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ json.priority == 'high' }}", False),
        ("{{ json.priority }}", None),
        ("{{ json.a.b.c }}", None),  # through missing parts: empty too (n8n's JS throws)
        ("{{ json['a']['b'] }}", None),
        ("{{ json.tags[5] }}", None),
        ("{{ items[9].id }}", None),
        ("{{ json.priority is none }}", True),
        ("{{ json.priority == none }}", True),
        ("{{ not json.priority }}", True),
        ("{{ json.priority | default('normal') }}", "normal"),
        ("{{ json.priority or 'normal' }}", "normal"),
        ("{{ json.missing | length }}", 0),
        ("{{ 'x' in json.missing }}", False),
        ("{{ [json.a, 1] }}", [None, 1]),
        ("{{ json.keys() | list | length }}", 5),  # dict methods still work
    ],
)
def test_a_missing_key_or_index_reads_as_empty(source: str, expected: object) -> None:
    assert evaluate(source, names=names()) == expected


def test_an_empty_value_inside_a_text_writes_nothing() -> None:
    assert evaluate("Hi {{ json.nickname }}!", names=names()) == "Hi !"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ json.name() }}", "'str' object is not callable"),
        ("{{ json.missing() }}", "'missing' is missing (empty), so it cannot be used this way"),
        ("{{ json.missing + 1 }}", "'missing' is missing (empty), so it cannot be used this way"),
        ("{{ json.missing > 1 }}", "'missing' is missing (empty), so it cannot be used this way"),
        ("{{ json.total.upper() }}", "'int object' has no attribute 'upper'"),
        ("{{ json.name - 1 }}", "TypeError: unsupported operand type(s) for -: 'str' and 'int'"),
    ],
)
def test_a_real_error_still_fails_naming_the_expression_and_its_position(
    source: str, message: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(f"v: {source}", names=names(), path="params.x")

    error = caught.value.locate(node_id="n", item=2).as_dict()
    assert message in error["message"]
    expression = source[3:-3]
    assert error["message"].startswith("Node 'n', parameter 'params.x', item 2: ")
    assert error["message"].endswith(f"(in {{{{ {expression} }}}} at character 3)")
    assert (error["position"], error["expression"]) == (3, expression)


@pytest.mark.parametrize("source", ["{{ json.__class__ }}", "{{ json.missing.__class__ }}"])
def test_an_unsafe_attribute_is_still_refused_not_read_as_empty(source: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(source, names=names())


def test_globals_resolve_and_a_name_shadows_a_global_of_the_same_name() -> None:
    # The context merges the globals and the names itself (expressions.py, _Compiled).
    assert evaluate("{{ range(3) | list }}", names=names()) == [0, 1, 2]
    assert evaluate("{{ dict }}", names={**names(), "dict": 5}) == 5
    # Each evaluation gets its own context: nothing of one run's names stays for the next.
    assert evaluate("{{ json.a }}", names=names(json={"a": 1})) == 1
    assert evaluate("{{ json.a }}", names=names(json={})) is None
