"""n8n expressions translated to LinkFlow's and evaluated by LinkFlow's expression engine:
each form gives JavaScript's answer, also on the adversarial inputs (missing field, null,
[], {}, '0', '', numeric text, NaN, zoned dates, unicode)."""

import math
from datetime import UTC, datetime

import pytest

from linkflow.engine.errors import ExpressionError
from linkflow.engine.expressions import evaluate, syntax_errors
from workflows.importers.n8n_expressions import Scope, Untranslatable, parse, translate_text

MISSING = object()
INPUTS = {
    "missing": MISSING,
    "null": None,
    "[]": [],
    "{}": {},
    "'0'": "0",
    "''": "",
    "'12'": "12",
    "unicode": "zoë 😀",
    "zoned": "2024-03-10T01:30:00-05:00",
}
SCOPE = Scope(
    node_ids={"Web hook": "web_hook", "Set": "set"}, workflow_name="Orders", timezone="UTC"
)


def run(expression: str, item: dict | None = None, *, nodes: dict | None = None, items=None):
    translation = translate_text(expression, SCOPE)
    assert translation.kept == [], translation.kept
    assert syntax_errors(translation.value) == []
    item = item if item is not None else {}
    names = {
        "json": item,
        "items": items if items is not None else [item],
        "nodes": nodes or {},
        "trigger": {},
        "execution": {"id": "ex1", "workflow_id": "wf1", "mode": "manual"},
        "now": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    }
    return evaluate(translation.value, names=names)


def on(value):
    return {} if value is MISSING else {"v": value}


# expression -> expected answer per input, as JavaScript (n8n) computes it; undefined and
# NaN come out as null, as JSON.stringify writes them.
TABLE = {
    "={{ $json.v ? 'y' : 'n' }}": ["n", "n", "y", "y", "y", "n", "y", "y", "y"],
    "={{ $json.v + 1 }}": [
        None,
        1,
        "1",
        "[object Object]1",
        "01",
        "1",
        "121",
        "zoë 😀1",
        "2024-03-10T01:30:00-05:001",
    ],
    "={{ $json.v == 0 }}": [False, False, True, False, True, True, False, False, False],
    "={{ $json.v ?? 'd' }}": [
        "d",
        "d",
        [],
        {},
        "0",
        "",
        "12",
        "zoë 😀",
        "2024-03-10T01:30:00-05:00",
    ],
    "={{ $json.v || 'd' }}": [
        "d",
        "d",
        [],
        {},
        "0",
        "d",
        "12",
        "zoë 😀",
        "2024-03-10T01:30:00-05:00",
    ],
    "={{ !$json.v }}": [True, True, False, False, False, True, False, False, False],
    "={{ $json.v * 2 }}": [None, 0, 0, None, 0, 0, 24, None, None],
    "={{ $json.v?.length }}": [None, None, 0, None, 1, 0, 2, 6, 25],
    "={{ String($json.v) }}": [
        "undefined",
        "null",
        "",
        "[object Object]",
        "0",
        "",
        "12",
        "zoë 😀",
        "2024-03-10T01:30:00-05:00",
    ],
    "={{ typeof $json.v }}": [
        "undefined",
        "object",
        "object",
        "object",
        "string",
        "string",
        "string",
        "string",
        "string",
    ],
    "={{ $json.v > 5 }}": [False, False, False, False, False, False, True, False, False],
    "={{ Number($json.v) }}": [None, 0, 0, None, 0, 0, 12, None, None],
    "={{ $json.v === '0' }}": [False, False, False, False, True, False, False, False, False],
    "={{ $json.v && 'and' }}": [None, None, "and", "and", "and", "", "and", "and", "and"],
    "={{ $json.v != null }}": [False, False, True, True, True, True, True, True, True],
}


@pytest.mark.parametrize("expression", list(TABLE))
def test_each_form_gives_javascripts_answer_on_the_adversarial_inputs(expression):
    answers = [run(expression, on(value)) for value in INPUTS.values()]
    assert answers == TABLE[expression]


def test_text_around_expressions_writes_null_and_undefined_as_nothing_and_objects_as_json():
    assert run("=a{{ $json.v }}b", {}) == "ab"
    assert run("=a{{ $json.v }}b", {"v": None}) == "ab"
    assert run("=a{{ $json.v }}b", {"v": {"x": 1}}) == 'a{"x":1}b'
    assert run("=a{{ $json.v }}b", {"v": [1, "2"]}) == 'a[1,"2"]b'
    assert run("=n={{ $json.v }}", {"v": 1.5}) == "n=1.5"
    assert run("=n={{ 4 / 2 }}") == "n=2"


@pytest.mark.parametrize(
    ("expression", "item", "expected"),
    [
        ("={{ $json.a.b }}", {"a": {"b": 2}}, 2),
        ('={{ $json["a"]["b c"] }}', {"a": {"b c": 3}}, 3),
        ("={{ $json.list[1] }}", {"list": [5, 6]}, 6),
        ("={{ $json.list[-1] }}", {"list": [5, 6]}, None),
        ("={{ $input.item.json.a }}", {"a": 1}, 1),
        ("={{ $input.first().json.a }}", {"a": 1}, 1),
        ("={{ $input.last().json.a }}", {"a": 1}, 1),
        ("={{ $input.all().length }}", {"a": 1}, 1),
        ("={{ $items().length }}", {"a": 1}, 1),
        ("={{ $json.name.toUpperCase() }}", {"name": "zoë"}, "ZOË"),
        ("={{ $json.name.toLowerCase() }}", {"name": "ZOË"}, "zoë"),
        ("={{ $json.name.trim() }}", {"name": "  x \n"}, "x"),
        ("={{ $json.csv.split(',') }}", {"csv": "a,b,,c"}, ["a", "b", "", "c"]),
        ("={{ $json.name.includes('oë') }}", {"name": "zoë"}, True),
        ("={{ $json.s.replace('a', '-') }}", {"s": "banana"}, "b-nana"),
        ("={{ $json.s.replace(/a/g, '-') }}", {"s": "banana"}, "b-n-n-"),
        ("={{ $json.s.replaceAll('a', '$&$&') }}", {"s": "ba"}, "baa"),
        ("={{ $json.s.startsWith('ba') && $json.s.endsWith('na') }}", {"s": "banana"}, True),
        ("={{ $json.s.slice(-3) }}", {"s": "banana"}, "ana"),
        ("={{ $json.s.substring(4, 1) }}", {"s": "banana"}, "ana"),
        ("={{ $json.s.padStart(8, '*') }}", {"s": "banana"}, "**banana"),
        (
            "={{ `Hi ${$json.name}, you owe ${$json.n * 2}` }}",
            {"name": "Ann", "n": 1.5},
            "Hi Ann, you owe 3",
        ),
        ("={{ $json.n.toFixed(2) }}", {"n": 1.005}, "1.00"),
        ("={{ $json.n.toFixed(1) }}", {"n": 0.25}, "0.3"),
        ("={{ Math.round($json.n * 100) / 100 }}", {"n": 1.005}, 1),
        ("={{ Math.max(1, $json.n, '7') }}", {"n": 3}, 7),
        ("={{ Math.floor(-1.5) }}", {}, -2),
        ("={{ Math.round(-1.5) }}", {}, -1),
        ("={{ parseInt('42px') + parseFloat('1.5e1x') }}", {}, 57),
        ("={{ 0.1 + 0.2 }}", {}, 0.30000000000000004),
        ("={{ 1 / 0 }}", {}, None),
        ("={{ 7 % -3 }}", {}, 1),
        ("={{ 2 ** 10 }}", {}, 1024),
        ("={{ $json.list.join('-') }}", {"list": [1, None, "a"]}, "1--a"),
        ("={{ $json.list.includes(2) }}", {"list": [1, 2]}, True),
        ("={{ $json.list.indexOf('2') }}", {"list": [1, 2]}, -1),
        ("={{ $json.list.slice(1).concat([9]) }}", {"list": [1, 2, 3]}, [2, 3, 9]),
        ("={{ $json.list.first() }}", {"list": [4, 5]}, 4),
        ("={{ $json.list.sum() }}", {"list": [4, 5.5]}, 9.5),
        ("={{ $json.o.isEmpty() }}", {"o": {}}, True),
        ("={{ Object.keys($json.o) }}", {"o": {"a": 1, "b": 2}}, ["a", "b"]),
        ("={{ JSON.stringify($json.o) }}", {"o": {"a": [1, None]}}, '{"a":[1,null]}'),
        ("={{ JSON.parse($json.t).a }}", {"t": '{"a": 5}'}, 5),
        ("={{ Array.isArray($json.list) }}", {"list": []}, True),
        ("={{ $json.a?.b?.c }}", {"a": None}, None),
        ("={{ $json.a?.b.c }}", {}, None),
        ("={{ $json.x ?? $json.y ?? 'z' }}", {"y": 0}, 0),
        ("={{ $json.n > 1 ? 'big' : $json.n === 1 ? 'one' : 'small' }}", {"n": 1}, "one"),
        ("={{ ($json.a || {}).b }}", {}, None),
        (
            "={{ {total: $json.n * 2, tags: ['a', $json.t]} }}",
            {"n": 2, "t": "x"},
            {"total": 4, "tags": ["a", "x"]},
        ),
        ("={{ -$json.n }}", {"n": "3"}, -3),
        ("={{ +$json.n + 1 }}", {"n": "3"}, 4),
        ("={{ $json.s.match(/(\\d+)-(\\d+)/)[2] }}", {"s": "ab 12-34"}, "34"),
        ("={{ $execution.id }}", {}, "ex1"),
        ("={{ $workflow.name }}", {}, "Orders"),
        ("={{ $workflow.id }}", {}, "wf1"),
        ("={{ $now.toISO() }}", {}, "2024-05-06T07:08:09.000Z"),
        ("={{ $now.toFormat('yyyy-MM-dd HH:mm') }}", {}, "2024-05-06 07:08"),
        ("={{ $today.toISO() }}", {}, "2024-05-06T00:00:00.000Z"),
        ("={{ $now.plus({days: 30}).toISODate() }}", {}, "2024-06-05"),
        (
            "={{ DateTime.fromISO($json.d).toUTC().toISO() }}",
            {"d": "2024-03-10T01:30:00-05:00"},
            "2024-03-10T06:30:00.000Z",
        ),
        (
            "={{ DateTime.fromISO($json.d).setZone('Europe/Berlin').toFormat('HH:mm') }}",
            {"d": "2024-03-10T01:30:00-05:00"},
            "07:30",
        ),
        (
            "={{ DateTime.fromISO($json.d).toMillis() }}",
            {"d": "2024-03-10T01:30:00-05:00"},
            1710052200000,
        ),
        ("={{ DateTime.fromISO($json.d).toMillis() }}", {"d": "not a date"}, None),
        ("={{ DateTime.fromISO($json.d).toISO() }}", {}, None),
        ("={{ $itemIndex }}", {"a": 1}, 0),
        ("={{ $runIndex }}", {}, 0),
        ("={{ encodeURIComponent($json.q) }}", {"q": "a b&c/é"}, "a%20b%26c%2F%C3%A9"),
    ],
)
def test_each_form_translates_and_evaluates_as_javascript(expression, item, expected):
    assert run(expression, item) == expected


def test_node_references_read_the_node_views():
    views = {
        "web_hook": {"items": [{"body": {"x": 1}}, {"body": {"x": 2}}], "json": {"body": {"x": 1}}}
    }
    items = [{"a": 1}, {"a": 2}]
    assert run("={{ $('Web hook').first().json.body.x }}", items[1], nodes=views, items=items) == 1
    assert run("={{ $('Web hook').last().json.body.x }}", items[0], nodes=views, items=items) == 2
    assert run("={{ $('Web hook').all().length }}", items[0], nodes=views, items=items) == 2
    assert run("={{ $node['Web hook'].json.body.x }}", items[0], nodes=views, items=items) == 1
    assert run("={{ $items('Web hook')[1].json.body.x }}", items[0], nodes=views, items=items) == 2
    assert run("={{ $('Web hook').isExecuted }}", items[0], nodes=views, items=items) is True


def test_paired_item_translates_to_the_lineage_lookup_without_a_warning():
    translation = translate_text("={{ $('Web hook').item.json.a }}", SCOPE)
    assert translation.value == "{{ js_out(js_get(js_item(nodes, 'web_hook'), 'json', 'a')) }}"
    assert translation.warnings == []


def test_paired_item_outside_a_run_fails_rather_than_guessing_by_position():
    views = {"web_hook": {"items": [{"a": 1}, {"a": 2}], "json": {"a": 1}}}
    with pytest.raises(ExpressionError, match="Paired item data for item from node 'web_hook'"):
        run("={{ $('Web hook').item.json.a }}", {"a": 2}, nodes=views, items=[{}, {"a": 2}])


def test_reading_a_member_of_undefined_fails_as_in_javascript():
    with pytest.raises(ExpressionError, match="Cannot read properties of undefined"):
        run("={{ $json.missing.deeper }}", {})


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("={{ $json.items.map(i => i.x) }}", "arrow functions"),
        ("={{ $env.SECRET }}", "$env"),
        ("={{ $('Nope').item.json.a }}", "unknown node"),
        ("={{ new Date() }}", "new"),
        ("={{ a = 1 }}", "assign"),
        ("={{ [...$json.list] }}", "spread"),
    ],
)
def test_what_cannot_be_translated_is_kept_and_fails_when_run(expression, reason):
    translation = translate_text(expression, SCOPE)
    assert translation.kept and reason in translation.kept[0][1]
    with pytest.raises(ExpressionError, match="not translated") as failure:
        evaluate(translation.value, names={"json": {}})
    assert expression in str(failure.value)  # kept as written


def test_plain_text_with_braces_stays_plain_text():
    translation = translate_text("literally {{ not an expression }}", SCOPE)
    assert evaluate(translation.value, names={}) == "literally {{ not an expression }}"


def test_strings_with_escapes_and_closing_braces_inside():
    assert run("={{ 'a}}b' + \"\\u00e9\\n\" }}") == "a}}bé\n"


def test_parser_bounds_deep_nesting():
    with pytest.raises(Untranslatable):
        parse("(" * 5000 + "1" + ")" * 5000)


def test_nan_never_reaches_stored_data():
    assert run("={{ Number('x') }}") is None
    assert math.isnan(float("nan"))  # sanity of the platform
