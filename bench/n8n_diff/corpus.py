"""The differential corpus: n8n workflows written for it, and the inputs each is called with.

Every workflow starts with a Webhook (POST /webhook/<path>, answered by a Respond to
Webhook node) so both systems are driven the same way. ``EXPRESSIONS`` holds every
translated expression form; they run in one workflow whose Set node picks the form by
the ``f`` query parameter (a chain of ternaries, evaluated lazily in both systems, so a
form that throws only fails the calls that choose it), on every adversarial input.
``python bench/n8n_diff/corpus.py`` rewrites corpus/*.json from this file.
"""

import json
from pathlib import Path

import corpus_lineage  # $('Node').item by item lineage (issue 17): its own file
import corpus_nodes
from corpus_shapes import assignment, condition, conditions, links, node, respond_all, webhook, wf

HERE = Path(__file__).parent
V = "$json.body.v"

# Every expression form the translator handles, on the adversarial value V.
EXPRESSIONS = [
    f"{V}",
    f"{V} ? 'y' : 'n'",
    f"!{V}",
    f"{V} + 1",
    f"1 + {V}",
    f"{V} + 'x'",
    f"{V} - 1",
    f"{V} * 2",
    f"{V} / 2",
    f"{V} % 2",
    f"-{V}",
    f"{V} == 0",
    f"{V} != null",
    f"{V} === '0'",
    f"{V} !== ''",
    f"{V} > 5",
    f"{V} <= '5'",
    f"{V} ?? 'd'",
    f"{V} || 'd'",
    f"{V} && 'and'",
    f"{V}?.length",
    "$json.body?.v?.x",
    f"typeof {V}",
    f"String({V})",
    f"Number({V})",
    f"Boolean({V})",
    f"parseInt({V})",
    f"parseFloat({V})",
    f"isNaN({V})",
    f"JSON.stringify({V})",
    f"Array.isArray({V})",
    f"`<${{{V}}}>`",
    '$json["body"]["v"]',
    "$input.item.json.body.v",
    "$input.first().json.body.v",
    "$input.all().length",
    "$('Webhook').item.json.body.v",
    "$('Webhook').first().json.body.v",
    "$node['Webhook'].json.body.v",
    "$items().length",
    f"String({V}).toUpperCase()",
    f"String({V}).toLowerCase()",
    f"String({V}).trim()",
    f"String({V}).split('')",
    f"String({V}).includes('2')",
    f"String({V}).replace('1', '-')",
    f"String({V}).startsWith('1')",
    f"String({V}).slice(1)",
    f"String({V}).length",
    f"Math.round(Number({V}) * 10) / 10",
    f"Math.max(Number({V}), 3)",
    f"Math.floor({V})",
    f"(Number({V}) || 0).toFixed(2)",
    f"[{V}, 1].join('-')",
    f"[1, 2, 3].includes({V})",
    "Object.keys($json.body)",
    f"{{a: {V}, b: [1, {V}]}}",
    f"DateTime.fromISO(String({V})).toMillis()",
    "$workflow.name",
    "$now.toFormat('yyyy') > '2000'",
    "$today.toFormat('HH:mm')",
    f"{V} > 1 ? 'big' : {V} === 1 ? 'one' : 'small'",
]

# The adversarial inputs: the webhook body is {"v": value}, or {} for the missing field.
INPUTS = {
    "missing": None,
    "null": {"v": None},
    "[]": {"v": []},
    "{}": {"v": {}},
    "'0'": {"v": "0"},
    "''": {"v": ""},
    "'12'": {"v": "12"},
    "12.5": {"v": 12.5},
    "'NaN'": {"v": "NaN"},
    "0": {"v": 0},
    "true": {"v": True},
    "zoned date": {"v": "2024-03-10T01:30:00-05:00"},
    "unicode": {"v": "zoë 😀 ß"},
}


GROUP = 8  # forms per workflow: nested ternaries stay shallow enough for both parsers


def expressions_workflow(group):
    chosen = "null"
    for index in reversed(range(group * GROUP, min((group + 1) * GROUP, len(EXPRESSIONS)))):
        chosen = f"($json.query.f === '{index}' ? ({EXPRESSIONS[index]}) : {chosen})"
    respond = node(
        "Respond",
        "respondToWebhook",
        1.1,
        {"respondWith": "json", "responseBody": f'={{{{ {{ "r": {chosen} }} }}}}', "options": {}},
    )
    return wf(
        f"DiffExpressions{group:02d}",
        f"diff expressions {group}",
        [webhook(f"diff-expr-{group}"), respond],
        links(("Webhook", "Respond")),
    )


def set_if_workflow():
    typed = node(
        "Typed",
        "set",
        3.4,
        {
            "assignments": {
                "assignments": [
                    assignment("total", "={{ $json.body.amount * $json.body.qty }}", "number"),
                    assignment("name", "={{ $json.body.name }}", "string"),
                    assignment("vip", "={{ $json.body.tags.includes('vip') }}", "boolean"),
                    assignment("tags", "={{ $json.body.tags }}", "array"),
                    assignment("meta.source", "n8n", "string"),
                    assignment("count", "7", "number"),
                ]
            },
            "includeOtherFields": False,
            "options": {},
        },
    )
    big = node(
        "IsBig",
        "if",
        2.2,
        {
            "conditions": conditions(
                condition("number", "gt", "={{ $json.total }}", 100),
                condition("string", "startsWith", "={{ $json.name }}", "Z"),
                condition("array", "contains", "={{ $json.tags }}", "vip", "any"),
                combinator="or",
            ),
            "options": {},
        },
    )
    high = node(
        "High",
        "set",
        3.4,
        {
            "assignments": {"assignments": [assignment("tier", "high")]},
            "includeOtherFields": True,
            "options": {},
        },
    )
    low = node(
        "Low",
        "set",
        3.4,
        {
            "assignments": {"assignments": [assignment("tier", "low")]},
            "includeOtherFields": True,
            "options": {},
        },
    )
    both = node("Both", "noOp", 1, {})
    return wf(
        "DiffSetIf00001",
        "diff set and if",
        [webhook("diff-set-if"), typed, big, high, low, both, respond_all()],
        links(
            ("Webhook", "Typed"),
            ("Typed", "IsBig"),
            ("IsBig", "High", 0),
            ("IsBig", "Low", 1),
            ("High", "Both"),
            ("Low", "Both"),
            ("Both", "Respond"),
        ),
    )


def rows_workflow():
    split = node("Split", "splitOut", 1, {"fieldToSplitOut": "body.rows", "options": {}})
    keep = node(
        "Keep",
        "filter",
        2,
        {
            "conditions": conditions(
                condition("number", "gte", "={{ $json.n }}", 2),
                condition("string", "notEquals", "={{ $json.k }}", "skip"),
            ),
            "options": {},
        },
    )
    sort = node(
        "Sort",
        "sort",
        1,
        {"sortFieldsUi": {"sortField": [{"fieldName": "n", "order": "descending"}]}, "options": {}},
    )
    limit = node("Limit", "limit", 1, {"maxItems": 4})
    rename = node(
        "Rename",
        "renameKeys",
        1,
        {"keys": {"key": [{"currentKey": "k", "newKey": "key"}]}, "additionalOptions": {}},
    )
    dedupe = node("Dedupe", "removeDuplicates", 1.1, {"compare": "allFields", "options": {}})
    agg = node(
        "Agg",
        "aggregate",
        1,
        {
            "aggregate": "aggregateIndividualFields",
            "fieldsToAggregate": {
                "fieldToAggregate": [{"fieldToAggregate": "n"}, {"fieldToAggregate": "key"}]
            },
            "options": {},
        },
    )
    return wf(
        "DiffRows000001",
        "diff rows",
        [webhook("diff-rows"), split, keep, sort, limit, rename, dedupe, agg, respond_all()],
        links(
            ("Webhook", "Split"),
            ("Split", "Keep"),
            ("Keep", "Sort"),
            ("Sort", "Limit"),
            ("Limit", "Rename"),
            ("Rename", "Dedupe"),
            ("Dedupe", "Agg"),
            ("Agg", "Respond"),
        ),
    )


def switch_workflow():
    split = node("Split", "splitOut", 1, {"fieldToSplitOut": "body.rows", "options": {}})
    rule = lambda value, key: {  # noqa: E731 (a one-line builder)
        "conditions": conditions(condition("string", "equals", "={{ $json.k }}", value)),
        "renameOutput": True,
        "outputKey": key,
    }
    switch = node(
        "Route",
        "switch",
        3.2,
        {
            "rules": {"values": [rule("a", "A"), rule("b", "B")]},
            "options": {"fallbackOutput": "extra"},
        },
    )
    tag = lambda name: node(  # noqa: E731 (a one-line builder)
        name,
        "set",
        3.4,
        {
            "assignments": {"assignments": [assignment("via", name)]},
            "includeOtherFields": True,
            "options": {},
        },
    )
    merge = node("Merge", "merge", 3, {"numberInputs": 3})
    all_rows = node(
        "All",
        "aggregate",
        1,
        {"aggregate": "aggregateAllItemData", "destinationFieldName": "rows", "options": {}},
    )
    return wf(
        "DiffSwitch0001",
        "diff switch",
        [
            webhook("diff-switch"),
            split,
            switch,
            tag("TagA"),
            tag("TagB"),
            tag("TagOther"),
            merge,
            all_rows,
            respond_all(),
        ],
        links(
            ("Webhook", "Split"),
            ("Split", "Route"),
            ("Route", "TagA", 0),
            ("Route", "TagB", 1),
            ("Route", "TagOther", 2),
            ("TagA", "Merge", 0, 0),
            ("TagB", "Merge", 0, 1),
            ("TagOther", "Merge", 0, 2),
            ("Merge", "All"),
            ("All", "Respond"),
        ),
    )


def merge_workflow(mode):
    left = node("Left", "splitOut", 1, {"fieldToSplitOut": "body.left", "options": {}})
    right = node("Right", "splitOut", 1, {"fieldToSplitOut": "body.right", "options": {}})
    if mode == "fields":
        params = {"mode": "combine", "fieldsToMatchString": "id", "options": {}}
        version = 3
    elif mode == "position":
        params = {"mode": "combine", "combineBy": "combineByPosition", "options": {}}
        version = 3
    else:
        params = {"mode": "chooseBranch", "useDataOfInput": 2}
        version = 3
    merge = node("Merge", "merge", version, params)
    respond = node(
        "Respond",
        "respondToWebhook",
        1.1,
        {"respondWith": "allIncomingItems", "options": {"responseCode": 201}},
    )
    return wf(
        f"DiffMerge{mode[:5]:0<5}",
        f"diff merge {mode}",
        [webhook(f"diff-merge-{mode}"), left, right, merge, respond],
        links(
            ("Webhook", "Left"),
            ("Webhook", "Right"),
            ("Left", "Merge", 0, 0),
            ("Right", "Merge", 0, 1),
            ("Merge", "Respond"),
        ),
    )


def raw_set_workflow():
    raw = node(
        "Json",
        "set",
        3.4,
        {
            "mode": "raw",
            "jsonOutput": '={\n  "id": {{ $json.body.id }},\n  "label": "{{ $json.body.name }}!",'
            '\n  "n": {{ $json.body.n * 3 }}\n}',
            "includeOtherFields": False,
            "options": {},
        },
    )
    first = node(
        "First", "respondToWebhook", 1.1, {"respondWith": "firstIncomingItem", "options": {}}
    )
    return wf(
        "DiffRawSet0001",
        "diff raw set",
        [webhook("diff-raw"), raw, first],
        links(("Webhook", "Json"), ("Json", "First")),
    )


def http_workflow(port_placeholder="__HTTP_PORT__"):
    http = node(
        "Fetch",
        "httpRequest",
        4.2,
        {
            "method": "POST",
            "url": f"=http://127.0.0.1:{port_placeholder}/echo/{{{{ $json.body.id }}}}",
            "sendQuery": True,
            "queryParameters": {"parameters": [{"name": "q", "value": "={{ $json.body.q }}"}]},
            "sendHeaders": True,
            "headerParameters": {"parameters": [{"name": "X-Tag", "value": "diff"}]},
            "sendBody": True,
            "contentType": "json",
            "specifyBody": "keypair",
            "bodyParameters": {"parameters": [{"name": "n", "value": "={{ $json.body.n }}"}]},
            "options": {},
        },
    )
    pick = node(
        "Pick",
        "set",
        3.4,
        {
            "assignments": {
                "assignments": [
                    assignment("path", "={{ $json.path }}"),
                    assignment("q", "={{ $json.query.q }}"),
                    assignment("tag", "={{ $json.headers['x-tag'] }}"),
                    assignment("n", "={{ $json.body.n }}"),
                ]
            },
            "options": {},
        },
    )
    return wf(
        "DiffHttp000001",
        "diff http",
        [webhook("diff-http"), http, pick, respond_all()],
        links(("Webhook", "Fetch"), ("Fetch", "Pick"), ("Pick", "Respond")),
    )


# workflow file -> list of (label, query, body)
def cases():
    rows = [
        {"n": 3, "k": "a"},
        {"n": 1, "k": "b"},
        {"n": 5, "k": "skip"},
        {"n": 2, "k": "c"},
        {"n": 4, "k": "a"},
        {"n": 4, "k": "a"},
        {"n": 9, "k": "b"},
    ]
    return {
        **{
            f"expressions_{g}": [
                (f"{i}:{label}", {"f": str(i)}, body)
                for i in range(g * GROUP, min((g + 1) * GROUP, len(EXPRESSIONS)))
                for label, body in INPUTS.items()
            ]
            for g in range(GROUPS)
        },
        "set_if": [
            ("big", {}, {"amount": 60, "qty": 2, "name": "Ann", "tags": ["x"]}),
            ("small", {}, {"amount": 5, "qty": 2, "name": "Bob", "tags": []}),
            ("z-name", {}, {"amount": 1, "qty": 1, "name": "Zoë", "tags": ["vip"]}),
            ("text amount", {}, {"amount": "30", "qty": "4", "name": "Cy", "tags": ["a"]}),
        ],
        "rows": [("rows", {}, {"rows": rows}), ("few", {}, {"rows": rows[:2]})],
        "switch": [("rows", {}, {"rows": rows})],
        "merge_fields": [
            (
                "ids",
                {},
                {
                    "left": [{"id": 1, "a": "x"}, {"id": 2, "a": "y"}, {"id": 3, "a": "z"}],
                    "right": [{"id": 2, "b": "Y"}, {"id": 1, "b": "X"}],
                },
            )
        ],
        "merge_position": [
            ("pairs", {}, {"left": [{"a": 1}, {"a": 2}, {"a": 3}], "right": [{"b": 1}, {"b": 2}]})
        ],
        "merge_choose": [("choose", {}, {"left": [{"a": 1}], "right": [{"b": 1}, {"b": 2}]})],
        "raw_set": [("raw", {}, {"id": 7, "name": "Ann", "n": 1.5})],
        "http": [("echo", {}, {"id": "abc", "q": "zoë", "n": 4})],
        **corpus_lineage.cases(),
        **corpus_nodes.cases(),
    }


GROUPS = (len(EXPRESSIONS) + GROUP - 1) // GROUP
WORKFLOWS = {
    **{f"expressions_{g}": (lambda g=g: expressions_workflow(g)) for g in range(GROUPS)},
    "set_if": set_if_workflow,
    "rows": rows_workflow,
    "switch": switch_workflow,
    "merge_fields": lambda: merge_workflow("fields"),
    "merge_position": lambda: merge_workflow("position"),
    "merge_choose": lambda: merge_workflow("choose"),
    "raw_set": raw_set_workflow,
    "http": http_workflow,
    **corpus_lineage.WORKFLOWS,
    **corpus_nodes.WORKFLOWS,
}


def write() -> None:
    target = HERE / "corpus"
    target.mkdir(exist_ok=True)
    for name, build in WORKFLOWS.items():
        (target / f"{name}.json").write_text(
            json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        )


if __name__ == "__main__":
    write()
