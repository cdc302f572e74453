"""n8n's condition builder (IF v2, Filter v2, Switch v3 rules) as one expression function.

The importer turns each n8n condition list into
``js_cond(combinator, options, [[type, operation, left, right], ...])``: the left and right
values are the translated expressions, evaluated first (n8n also resolves the whole list
before testing it), then each condition is tested with n8n's rules: values are checked
against the operator's type (``strict`` refuses a wrong type, ``loose`` converts text to
numbers, booleans and dates), string tests may ignore case, ``exists``/``empty`` accept
null. A value of the wrong type raises ``JsError``, as n8n fails the node.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from linkflow.engine import js_compat as js

_STRING_TESTS = {
    "equals": lambda a, b: a == b,
    "notEquals": lambda a, b: a != b,
    "contains": lambda a, b: b in a,
    "notContains": lambda a, b: b not in a,
    "startsWith": lambda a, b: a.startswith(b),
    "notStartsWith": lambda a, b: not a.startswith(b),
    "endsWith": lambda a, b: a.endswith(b),
    "notEndsWith": lambda a, b: not a.endswith(b),
}
_ORDER_TESTS = {
    "equals": lambda a, b: a == b,
    "notEquals": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "gte": lambda a, b: a >= b,
    "lte": lambda a, b: a <= b,
    "after": lambda a, b: a > b,
    "before": lambda a, b: a < b,
    "afterOrEquals": lambda a, b: a >= b,
    "beforeOrEquals": lambda a, b: a <= b,
}
_LENGTH_TESTS = {
    "lengthEquals": "equals",
    "lengthNotEquals": "notEquals",
    "lengthGt": "gt",
    "lengthLt": "lt",
    "lengthGte": "gte",
    "lengthLte": "lte",
}


class _Invalid(Exception):
    pass


def condition(combinator: str, options: dict[str, Any], conditions: list[list[Any]]) -> bool:
    """Whether the item passes: every condition ("and") or any ("or"), tested in order
    and stopping at the first that decides, as n8n does. Each condition is
    ``[type, operation, left, right]`` or, with the operator's rightType,
    ``[type, operation, left, right, rightType]``.

    ``options``: ``caseSensitive`` (default true), ``typeValidation`` ("strict" or
    "loose"), ``version`` (1-3, as n8n's filter parameter). Raises JsError for a value
    of the wrong type and for an unknown operator.
    """
    results = (_test(entry, options, index) for index, entry in enumerate(conditions))
    if combinator == "or":
        return any(results)
    return all(results)


def _test(entry: list[Any], options: dict[str, Any], index: int) -> bool:
    kind, operation, left, right, declared_right = [*entry, js.UNDEFINED, js.UNDEFINED][:5]
    left, right = js.unbox(left), js.unbox(right)
    strict = options.get("typeValidation", "strict") == "strict"
    version = int(options.get("version", 1))
    ignore_case = not options.get("caseSensitive", True)
    # n8n checks the right value against the operator's rightType, else its type (the
    # editor writes rightType "any" for array contains, "number" for the length tests)
    right_type = declared_right if isinstance(declared_right, str) else None
    try:
        left = _parse(left, kind, strict, version)
        single = operation in ("exists", "notExists", "empty", "notEmpty", "true", "false")
        right = js.UNDEFINED if single else _parse(right, right_type or kind, strict, version)
    except _Invalid as error:
        raise js.JsError(f"{error} [condition {index}]") from None
    exists = not js.is_nullish(left) and not (isinstance(left, float) and math.isnan(left))
    if operation == "exists":
        return exists
    if operation == "notExists":
        return not exists
    return _evaluate(kind, operation, left, right, exists, ignore_case)


def _evaluate(
    kind: str, operation: str, left: Any, right: Any, exists: bool, ignore_case: bool
) -> bool:
    if kind == "string":
        a = "" if js.is_nullish(left) else left
        b = "" if js.is_nullish(right) else right
        if ignore_case and operation not in ("regex", "notRegex"):
            a, b = (
                (a.lower() if isinstance(a, str) else a),
                (b.lower() if isinstance(b, str) else b),
            )
        elif ignore_case and isinstance(a, str):
            a = a.lower()
        if operation == "empty":
            return len(a) == 0
        if operation == "notEmpty":
            return len(a) != 0
        if operation in ("regex", "notRegex"):
            found = _regex(b).compiled.search(a) is not None
            return found if operation == "regex" else not found
        return _run(_STRING_TESTS, operation, a, b)
    if kind in ("number", "dateTime"):
        if operation == "empty":
            return not exists
        if operation == "notEmpty":
            return exists
        if kind == "dateTime":
            if js.is_nullish(left) or js.is_nullish(right):
                return False
            left, right = _millis(left), _millis(right)
        elif js.is_nullish(left) or js.is_nullish(right):
            return operation == "notEquals" and not (js.is_nullish(left) and js.is_nullish(right))
        return _run(_ORDER_TESTS, operation, left, right)
    if kind == "boolean":
        if operation == "empty":
            return not exists
        if operation == "notEmpty":
            return exists
        if operation == "true":
            return left is True
        if operation == "false":
            return not left
        if operation == "equals":
            return js.strict_equal(left, right)
        if operation == "notEquals":
            return not js.strict_equal(left, right)
    if kind == "array":
        items = [] if js.is_nullish(left) else left
        if operation == "contains":
            return _contains(items, right, ignore_case)
        if operation == "notContains":
            return not _contains(items, right, ignore_case)
        if operation == "empty":
            return len(items) == 0
        if operation == "notEmpty":
            return len(items) != 0
        if operation in _LENGTH_TESTS:
            return _run(_ORDER_TESTS, _LENGTH_TESTS[operation], len(items), right)
    if kind == "object":
        if operation == "empty":
            return not left or len(left) == 0
        if operation == "notEmpty":
            return bool(left) and len(left) != 0
    raise js.JsError(f"Unknown condition operator {kind}:{operation}")


def _run(table: dict[str, Any], operation: str, left: Any, right: Any) -> bool:
    test = table.get(operation)
    if test is None:
        raise js.JsError(f"Unknown condition operation {operation!r}")
    try:
        return bool(test(left, right))
    except TypeError:
        return False


def _contains(items: list[Any], value: Any, ignore_case: bool) -> bool:
    if ignore_case and isinstance(value, str):
        return any(isinstance(item, str) and item.lower() == value.lower() for item in items)
    return any(js.strict_equal(item, value) for item in items)


def _regex(text: str) -> js.JsRegex:
    if text.startswith("/") and text.rfind("/") > 0:
        end = text.rfind("/")
        return js.JsRegex(text[1:end], text[end + 1 :])
    return js.JsRegex(text, "")


def _millis(value: Any) -> float:
    return value.timestamp() * 1000 if isinstance(value, datetime) else math.nan


def _parse(value: Any, kind: str, strict: bool, version: int) -> Any:
    """n8n's parseSingleFilterValue: check or convert ``value`` to the operator's type."""
    if kind == "any" or js.is_nullish(value):
        return value
    if kind == "boolean" and not strict:
        if version >= 2:
            try:
                return _to_boolean(value)
            except _Invalid:
                pass
        return js.truthy(value)
    if kind == "number":
        if isinstance(value, float) and math.isnan(value):
            return value
        empty = (isinstance(value, str) and not value.strip()) or value == []
        if empty and version >= 3:
            return None
    return _validate(value, kind, strict)


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return f"'{js.to_string(value)}'"


def _validate(value: Any, kind: str, strict: bool) -> Any:
    wrong = _Invalid(
        f"Wrong type: {_describe(value)} is a {js.type_of(value)} but was expecting a {kind}"
    )
    if kind == "string":
        if strict and not isinstance(value, str):
            raise wrong
        if isinstance(value, dict | list):
            return json.dumps(js.out(value), ensure_ascii=False, separators=(",", ":"))
        return js.to_string(value)
    if kind == "number":
        if strict and not (isinstance(value, int | float) and not isinstance(value, bool)):
            raise wrong
        number = js.to_number(value)
        if isinstance(number, float) and math.isnan(number):
            raise wrong
        return number
    if kind == "boolean":
        if strict and not isinstance(value, bool):
            raise wrong
        return _to_boolean(value)
    if kind == "dateTime":
        parsed = js.parse_date(value)
        if isinstance(parsed, js.InvalidDate):
            raise _Invalid(f"Wrong type: {_describe(value)} is not a valid date")
        return parsed
    if kind == "array":
        if isinstance(value, list):
            return value
        try:
            parsed = json.loads(js.to_string(value))
        except ValueError:
            raise wrong from None
        if not isinstance(parsed, list):
            raise wrong
        return parsed
    if kind == "object":
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(js.to_string(value))
        except ValueError:
            raise wrong from None
        if not isinstance(parsed, dict):
            raise wrong
        return parsed
    return value


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not (isinstance(value, str) and not value.strip()):
        number = js.to_number(value)
        if number == 0:
            return False
        if number == 1:
            return True
    raise _Invalid(f"Wrong type: {_describe(value)} is not a boolean")


def install(environment: Any) -> None:
    """Make n8n's condition builder available to expressions of ``environment`` as
    ``js_cond`` (the importer's IF, Filter and Switch translations call it)."""
    environment.globals["js_cond"] = condition
