"""The expression cost model: every blow-up ends in ExpressionBoundError, ordinary
expressions are untouched, and the error names the node, the parameter and the item."""

from __future__ import annotations

import itertools
import tracemalloc
from typing import Any

import pytest

from linkflow.engine import (
    ExpressionBoundError,
    ExpressionError,
    Graph,
    NullObserver,
    RunContext,
    run_graph,
)
from linkflow.engine.expressions import evaluate

from .test_engine_expressions import names

pytestmark = pytest.mark.timeout(120)


def bound_error(source: str) -> ExpressionBoundError:
    with pytest.raises(ExpressionBoundError) as caught:
        evaluate(source, names=names(), path="params.x")
    return caught.value


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        # The three reported in issue #10.
        (
            "{{ ([[0] * 1000] * 5000) | sum(start=[]) | length }}",
            "the result would hold more than 1000000 characters and values",
        ),
        ("{{ ('{0}' * 2000).format('a' * 999999) }}", "the result would exceed 1000000 characters"),
        ("{{ 2 ** 49000 }}", "the number would exceed 4096 bits"),
        # Quadratic list summing with each repetition under the bounds.
        (
            "{{ ([[0] * 100] * 5000) | sum(start=[]) | length }}",
            "one evaluation may compute at most 10000000 characters and values",
        ),
        (
            "{{ ([[0] * 99] * 9000) | sum(start=[]) | length }}",
            "one evaluation may compute at most 10000000 characters and values",
        ),
        (
            "{{ (([[0] * 100] * 100) * 90) | string | length }}",
            "the result would exceed 1000000 characters",
        ),
        (
            "{{ ([[0] * 900] * 1000) | tojson | length }}",
            "the result would exceed 1000000 characters",
        ),
        ("{{ ([[0] * 900] * 1000) | string ~ 'x' }}", "the result would exceed 1000000 characters"),
        (
            "{{ ('%s' * 2000) % (('a' * 999,) * 2000) }}",
            "the result would hold more than 1000000 characters and values",
        ),
        ("{{ ('%(a)s' * 2000) % {'a': 'a' * 999} }}", "the result would exceed 1000000 characters"),
        (
            "{{ ('{a}' * 2000).format_map({'a': 'a' * 999}) }}",
            "the result would exceed 1000000 characters",
        ),
        ("{{ (2 ** 4000) * (2 ** 4000) }}", "the number would exceed 4096 bits"),
        ("{{ [2 ** 4095] * 3 | sum }}", "the number would exceed 4096 bits"),
        ("{{ (1).to_bytes(10 ** 9, 'big') }}", "the result would exceed 1000000 characters"),
        ("{{ 'x'.encode() * 10 ** 9 }}", "the result would exceed 1000000 characters"),
        (
            "{{ ('x' * 1000).translate({120: 'y' * 10000}) }}",
            "the result would exceed 1000000 characters",
        ),
        (
            "{{ ('a' * 1000) | wordwrap(1, wrapstring='b' * 1000) }}",
            "the result would exceed 1000000 characters",
        ),
        ("{{ ('\n' * 1000) | indent(2000) }}", "the result would exceed 1000000 characters"),
        ("{{ 'x' | center(10 ** 7) }}", "the result would exceed 1000000 characters"),
        (
            "{{ range(100000) | select('in', range(100000) | list) | list }}",
            "one evaluation may compute at most 10000000 characters and values",
        ),
    ],
)
def test_each_blow_up_fails_with_its_bound_error(source: str, reason: str) -> None:
    assert bound_error(source).message == f"Expression exceeds its bounds: {reason}."


@pytest.mark.parametrize(
    "source",
    [
        "{{ ([[0] * 1000] * 5000) | sum(start=[]) | length }}",
        "{{ ('{0}' * 2000).format('a' * 999999) }}",
        "{{ ([[[0] * 100] * 100] * 100) | string }}",
    ],
)
def test_a_refused_expression_allocates_little(source: str) -> None:
    # Before the cost model these allocated gigabytes (or ran for a minute) first.
    tracemalloc.start()
    try:
        bound_error(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 20_000_000


def test_a_percent_template_of_open_keys_is_scanned_once() -> None:
    # A regex retrying "%(" ... ")" from every "%" is quadratic; the scanner is not.
    with pytest.raises(ExpressionError) as caught:
        evaluate("{{ ('%(' * 300000) % {} }}", names=names())

    assert caught.value.message == "ValueError: incomplete format key"


# --- generated: nested repetition x every filter and operator --------------------------

# Strings of about 600,000 characters, built by repetition nested 1 to 3 deep.
_TEXTS = [
    "(('a' * 1000) * 600)",
    "((('a' * 100) * 100) * 60)",
    "('{0}' * 200000)",
    "('%s' * 300000)",
]
# Lists of about 600,000 values, nested 2 to 4 deep with shared entries.
_LISTS = [
    "([[0] * 600] * 1000)",
    "([[[0] * 60] * 100] * 100)",
    "([['ab'] * 300] * 1000)",
    "([(0,) * 600] * 1000)",
    "([[[[0] * 10] * 60] * 10] * 100)",
]
# Each doubles (at least) what it is given.
_TEXT_OPERATIONS = [
    "V ~ V",
    "V + V",
    "V * 2",
    "2 * V",
    "[V, V]",
    "{'a': V, 'b': V}",
    "V | replace('', 'x')",
    "V | center(2000000)",
    "V | indent(V)",
    "V | wordwrap(1)",
    "V | join(',')",
    "V | list",
    "V | string ~ V",
    "V | tojson ~ V",
    "V | pprint ~ V",
    "V | upper ~ V",
    "V | lower ~ V",
    "V | title ~ V",
    "V | capitalize ~ V",
    "V | trim ~ V",
    "V | truncate(10 ** 6) ~ V",
    "V | reverse ~ V",
    "V | escape ~ V",
    "V | e ~ V",
    "V | forceescape ~ V",
    "V | safe ~ V",
    "V | urlencode ~ V",
    "V | striptags ~ V",
    "V | batch(2) | list",
    "V | slice(3) | list",
    "V | sort",
    "V | unique | list ~ V",
    "'%s%s' | format(V, V)",
    "V | first * 2000000",
    "V | last * 2000000",
    "V | map('upper') | join",
    "V | select | list",
    "V | reject('eq', 'z') | list",
    "V.upper() ~ V",
    "V.replace('', 'x')",
    "V.center(2000000)",
    "V.ljust(2000000)",
    "V.rjust(2000000)",
    "V.zfill(2000000)",
    "V.expandtabs(100) ~ V",
    "V.join([V, V])",
    "V.join(V)",
    "V.split(',') | join(',') ~ V",
    "V.encode() * 2",
    "V.translate({97: 'bb', 37: 'bb', 123: 'bb'})",
    "'%s%s' % (V, V)",
    "'{0}{0}'.format(V)",
    "'{a}{a}'.format_map({'a': V})",
    "V[::1] ~ V",
    "V.strip() ~ V",
    "(V ~ '') * 2",
    "[V, V] | join",
    "([V] * 2) | join",
    "[V, V] | list",
    "V | string | list",
    "V | length * 'x' * 2",
]
_LIST_OPERATIONS = [
    "V * 2",
    "V ~ V",
    "V + V",
    "[V, V]",
    "{'a': V, 'b': V}",
    "V | string",
    "V | tojson",
    "V | pprint",
    "V | join(',')",
    "(V | sum(start=[])) * 2",
    "V | list ~ ''",
    "V | sort | string",
    "V | reverse | string",
    "V | batch(2) | list | string",
    "V | slice(2) | list | tojson",
    "'%s' % (V,)",
    "'{}'.format(V)",
    "'{0}{0}'.format(V)",
    "'%s' | format(V)",
    "V | map('string') | join",
    "V | map('tojson') | join",
    "V | map('list') | list | string",
    "V | first * 2000",
    "V | last * 2000",
    "V[::1] ~ ''",
    "V | select | list | string",
    "V | reject('none') | list | string",
    "V | e",
    "V | escape",
    "V | upper",
    "V | title",
    "V | trim",
    "V | center(10)",
    "V | wordwrap",
    "V | indent",
    "V | replace('0', '1')",
    "V | wordcount * 'x' * 10",
    "V | length * [V] | string",
    "((V | first) * 2000) | sum(start=[])",
    "V[0] ~ V",
]


def _cases() -> list[str]:
    texts = itertools.product(_TEXT_OPERATIONS, _TEXTS)
    lists = itertools.product(_LIST_OPERATIONS, _LISTS)
    return ["{{ " + op.replace("V", value) + " }}" for op, value in [*texts, *lists]]


@pytest.mark.parametrize("source", _cases())
def test_generated_blow_up_ends_in_a_bound_error(source: str) -> None:
    bound_error(source)


# --- ordinary expressions keep working ---------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ json.n * 2 + 1 }}", 43),
        ("{{ 2 ** 64 }}", 2**64),
        ("{{ json.name ~ '-' ~ json.n }}", "Ada-21"),
        ("{{ json.tags | join(', ') }}", "a, b"),
        ("{{ items | map(attribute='id') | join(',') }}", "1,2,3"),
        ("{{ items | sum(attribute='id') }}", 6),
        ("{{ [[1], [2, 3]] | sum(start=[]) }}", [1, 2, 3]),
        ("{{ json.tags * 2 }}", ["a", "b", "a", "b"]),
        ("{{ [[0] * 3] * 2 }}", [[0, 0, 0], [0, 0, 0]]),
        ("{{ '%05.1f|%s' % (3.14159, json.name) }}", "003.1|Ada"),
        ("{{ '{0}-{1:>4}'.format(json.name, json.n) }}", "Ada-  21"),
        ("{{ '{n}!'.format_map(json) }}", "21!"),
        (
            "{{ json | tojson }}",
            '{"items": [1, 2], "n": 21, "name": "Ada", "tags": ["a", "b"], "total": 150}',
        ),
        ("{{ json.tags | string }}", "['a', 'b']"),
        ("{{ json.name | center(7) }}", "  Ada  "),
        ("{{ 'a b c' | wordwrap(3) }}", "a b\nc"),
        ("{{ 'a\nb' | indent(2, true) }}", "  a\n  b"),
        ("{{ json.name | replace('a', 'aa') | upper }}", "ADAA"),
        ("{{ json.name.ljust(5, '.') }}", "Ada.."),
        ("{{ 'a,b,c'.split(',') | list }}", ["a", "b", "c"]),
        ("{{ items | selectattr('id', 'in', [1, 3]) | map(attribute='id') | list }}", [1, 3]),
        ("{{ range(3) | list }}", [0, 1, 2]),
        ("{{ items[1:] | length }}", 2),
        ("{{ json.name | e }}", "Ada"),
        ("{{ '<b>' | escape ~ '!' }}", "&lt;b&gt;!"),
        ("{{ [1, 2] | batch(1) | list }}", [[1], [2]]),
        ("{{ {'b': 1, 'a': 2} | dictsort }}", [["a", 2], ["b", 1]]),
        ("{{ (255).to_bytes(2, 'big').hex() }}", "00ff"),
    ],
)
def test_ordinary_expressions_still_work(source: str, expected: Any) -> None:
    assert evaluate(source, names=names()) == expected


# --- the error a user sees ----------------------------------------------------------------


def test_a_bound_error_fails_the_node_naming_node_parameter_and_item(items_trigger: str) -> None:
    graph = Graph.from_dict(
        {
            "nodes": [
                {
                    "id": "start",
                    "type": items_trigger,
                    "params": {"items": [{"n": 3}, {"n": 10**9}]},
                },
                {
                    "id": "blow",
                    "type": "data.set",
                    "params": {"fields": {"big": "{{ 'x' * json.n }}"}},
                },
            ],
            "edges": [{"source": "start", "target": "blow"}],
        }
    )

    result = run_graph(
        graph,
        context=RunContext(execution={"id": "ex-1"}, trigger_input={}),
        observer=NullObserver(),
    )

    assert result.status == "failed"
    assert result.error == {
        "message": "Node 'blow', parameter 'params.fields.big', item 1: Expression exceeds"
        " its bounds: the result would exceed 1000000 characters.",
        "node_id": "blow",
        "param": "params.fields.big",
        "position": 0,
        "item": 1,
    }
