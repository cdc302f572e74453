"""JavaScript's meaning inside LinkFlow expressions, for expressions translated from n8n.

n8n evaluates ``={{ … }}`` as JavaScript. The importer (workflows/importers) rewrites
those expressions into LinkFlow's syntax, and where the syntax alone would change the
answer it calls one of the ``js_*`` functions below: ``+`` that concatenates or adds,
JavaScript truthiness (``[]`` and ``{}`` are true, ``NaN`` is false), loose ``==``,
property reads that give ``undefined`` instead of failing, optional chaining, ``??``,
string/array/number methods and the n8n item wrappers (``{"json": …}``).

``UNDEFINED`` stands for JavaScript's ``undefined`` while an expression runs; ``js_out``
turns a result into JSON data the way ``JSON.stringify`` would (``undefined`` and NaN
become null, undefined object members are dropped). Nothing here does I/O; every
function is total over JSON data and raises ``JsError`` (a TypeError, which the
expression engine reports with the node and parameter) where JavaScript would throw.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Bounds of the string-growing methods (padStart, repeat): the sandbox's own limit.
MAX_TEXT = 1_000_000


class JsError(TypeError):
    """Where JavaScript would throw (reading a property of undefined, calling a
    non-function)."""


class _Undefined:
    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


class _Short(_Undefined):
    """An optional chain that met null/undefined: the rest of the chain is skipped."""

    __slots__ = ()


UNDEFINED: Any = _Undefined()
SHORT: Any = _Short()


class _OptionalStep:
    """Marks ``?.`` inside a ``js_get`` path."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "js_opt"


OPT = _OptionalStep()


def is_nullish(value: Any) -> bool:
    return value is None or isinstance(value, _Undefined)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- conversions -----------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    """JavaScript's ToBoolean: false for undefined, null, false, 0, NaN and ''; true for
    every object, [] and {} included."""
    if is_nullish(value):
        return False
    if isinstance(value, bool):
        return value
    if _is_number(value):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?|Infinity)", re.I)


def to_number(value: Any) -> float | int:
    """JavaScript's ToNumber (``Number(x)``)."""
    if isinstance(value, _Undefined):
        return math.nan
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if _is_number(value):
        return value
    if isinstance(value, str):
        return _string_to_number(value)
    if isinstance(value, list):
        return to_number(to_string(value))
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return math.nan


def _string_to_number(text: str) -> float | int:
    text = text.strip()
    if not text:
        return 0
    lowered = text.lower()
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if lowered.startswith(prefix):
            try:
                return int(text[2:], base)
            except ValueError:
                return math.nan
    if not _NUMBER_TEXT.fullmatch(text) or ("infinity" in lowered and "Infinity" not in text):
        return math.nan
    number = float(text.replace("Infinity", "inf"))
    return _tidy(number)


def _tidy(number: float | int) -> float | int:
    """Whole doubles as ints, so 4 / 2 prints as 2 (JavaScript has one number type)."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number


def number_to_string(number: float | int) -> str:
    """JavaScript's Number#toString: 1 not 1.0, 1e21 and up and 1e-7 and below in
    exponent form, NaN and Infinity by name."""
    if isinstance(number, int):
        if abs(number) < 10**21:
            return str(number)
        number = float(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    digits, exponent = _shortest_digits(abs(number))
    point = exponent + 1  # where the decimal point goes after the first digit
    if 0 < point <= 21:
        if len(digits) <= point:
            return sign + digits + "0" * (point - len(digits))
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * (-point) + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def _shortest_digits(number: float) -> tuple[str, int]:
    """The shortest digits that read back as ``number`` (repr's), and the decimal
    exponent of the first one: 1234.5 -> ("12345", 3)."""
    mantissa, _, exponent_text = repr(number).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    significant = all_digits.lstrip("0")
    leading_zeros = len(all_digits) - len(significant)
    exponent = int(exponent_text or 0) + len(whole) - 1 - leading_zeros
    return significant.rstrip("0") or "0", exponent


def to_string(value: Any) -> str:
    """JavaScript's String(x): arrays joined by commas, objects as '[object Object]'."""
    if isinstance(value, _Undefined):
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return number_to_string(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if is_nullish(v) else to_string(v) for v in value)
    if isinstance(value, datetime):
        return luxon_iso(value)
    if isinstance(value, JsRegex):
        return f"/{value.source}/{value.flags}"
    if isinstance(value, InvalidDate):
        return "Invalid DateTime"
    return "[object Object]"


def template_text(value: Any) -> str:
    """How n8n writes a value into text around ``{{ }}``: objects and arrays as JSON,
    null and undefined as nothing."""
    if is_nullish(value):
        return ""
    if isinstance(value, dict | list):
        return json.dumps(out(value), ensure_ascii=False, separators=(",", ":"))
    return to_string(value)


def out(value: Any) -> Any:
    """A result as JSON data, as JSON.stringify sees it: undefined and NaN/Infinity
    become null, undefined members of objects are dropped, whole doubles become ints,
    dates become ISO text."""
    if isinstance(value, _Undefined):
        return None
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else _tidy(value)
    if isinstance(value, dict):
        return {str(k): out(v) for k, v in value.items() if not isinstance(v, _Undefined)}
    if isinstance(value, list | tuple):
        return [out(v) for v in value]
    if isinstance(value, datetime):
        return luxon_iso(value)
    if isinstance(value, JsRegex):
        return {}
    if isinstance(value, InvalidDate):
        return None
    return value


def _primitive(value: Any) -> Any:
    if isinstance(value, list | dict | JsRegex):
        return to_string(value)
    if isinstance(value, datetime):
        return to_number(value)
    return value


# --- operators -------------------------------------------------------------------------------


def add(left: Any, right: Any) -> Any:
    """``a + b``: concatenation when either side is (or becomes) text, else addition."""
    left, right = _primitive(left), _primitive(right)
    if isinstance(left, str) or isinstance(right, str):
        text = to_string(left) + to_string(right)
        if len(text) > MAX_TEXT:
            raise JsError("the text would be too long")
        return text
    return _tidy(to_number(left) + to_number(right))


def arithmetic(operator: str, left: Any, right: Any) -> float | int:
    """``-``, ``*``, ``/``, ``%`` and ``**`` on ToNumber of both sides; division by zero
    gives Infinity or NaN as in JavaScript."""
    a, b = to_number(_primitive(left)), to_number(_primitive(right))
    try:
        if operator == "-":
            return _tidy(a - b)
        if operator == "*":
            return _tidy(a * b)
        if operator == "/":
            if b == 0:
                if a == 0 or math.isnan(a):
                    return math.nan
                return math.inf if (a > 0) == (math.copysign(1, b) > 0) else -math.inf
            return _tidy(a / b)
        if operator == "%":
            if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
                return math.nan
            if math.isinf(b):
                return a
            return _tidy(math.fmod(a, b))
        if operator == "**":
            if abs(a) > 1 and abs(b) > 4096:
                return math.inf
            return _tidy(float(a) ** b)
    except (OverflowError, ValueError, ZeroDivisionError):
        return math.nan
    raise JsError(f"unknown operator {operator}")


def negate(value: Any) -> float | int:
    number = to_number(_primitive(value))
    return _tidy(-number) if number != 0 else (-0.0 if isinstance(number, float) else 0)


def compare(operator: str, left: Any, right: Any) -> bool:
    """``<``, ``>``, ``<=``, ``>=``: text with text compares as text, else as numbers
    (NaN, e.g. from undefined, makes every comparison false)."""
    a, b = _primitive(left), _primitive(right)
    if not (isinstance(a, str) and isinstance(b, str)):
        a, b = to_number(a), to_number(b)
        if math.isnan(a) or math.isnan(b):
            return False
    if operator == "<":
        return a < b
    if operator == ">":
        return a > b
    if operator == "<=":
        return a <= b
    return a >= b


def strict_equal(left: Any, right: Any) -> bool:
    """``===``: same type and value; objects only equal to themselves."""
    if _is_number(left) and _is_number(right):
        return left == right
    if isinstance(left, _Undefined) or isinstance(right, _Undefined):
        return isinstance(left, _Undefined) and isinstance(right, _Undefined)
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return left is right
    if type(left) is not type(right):
        return False
    return left == right


def loose_equal(left: Any, right: Any) -> bool:
    """``==``: null equals undefined, numbers equal numeric text, booleans count as 1/0,
    objects compare by their text with primitives."""
    if is_nullish(left) or is_nullish(right):
        return is_nullish(left) and is_nullish(right)
    if isinstance(left, bool):
        return loose_equal(int(left), right)
    if isinstance(right, bool):
        return loose_equal(left, int(right))
    if _is_number(left) and isinstance(right, str):
        return left == to_number(right)
    if isinstance(left, str) and _is_number(right):
        return to_number(left) == right
    both_objects = isinstance(left, dict | list) and isinstance(right, dict | list)
    if not both_objects and (isinstance(left, dict | list) or isinstance(right, dict | list)):
        return loose_equal(_primitive(left), _primitive(right))
    return strict_equal(left, right)


def type_of(value: Any) -> str:
    if isinstance(value, _Undefined):
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


class Box:
    """A value whose truth is decided by JavaScript: ``js_b(a) or js_b(b)`` is ``a || b``
    with the right side evaluated only when needed, and ``js_v`` takes the value out."""

    __slots__ = ("truth", "value")

    def __init__(self, value: Any, truth: bool) -> None:
        self.value = value
        self.truth = truth

    def __bool__(self) -> bool:
        return self.truth


def box(value: Any) -> Box:
    return value if isinstance(value, Box) else Box(value, truthy(value))


def box_defined(value: Any) -> Box:
    """For ``??``: true unless null or undefined."""
    value = unbox(value)
    return Box(value, not is_nullish(value))


def unbox(value: Any) -> Any:
    return value.value if isinstance(value, Box) else value


# --- property access -------------------------------------------------------------------------


def get(base: Any, *steps: Any) -> Any:
    """Read ``base.step1.step2…``; ``js_opt`` before a step makes it ``?.``. A missing
    member gives undefined; reading a member of null or undefined throws, unless an
    optional step already short-circuited the chain."""
    value = unbox(base)
    optional = False
    for step in steps:
        if isinstance(value, _Short):
            return value
        if step is OPT:
            optional = True
            continue
        if is_nullish(value):
            if optional:
                return SHORT
            raise JsError(
                f"Cannot read properties of {to_string(value)} (reading '{to_string(step)}')"
            )
        optional = False
        value = member(value, step)
    return value


def member(value: Any, key: Any) -> Any:
    """One property read with JavaScript's rules for objects, arrays and strings."""
    if isinstance(value, dict):
        name = to_string(key) if not isinstance(key, str) else key
        return value.get(name, UNDEFINED)
    if isinstance(value, Mapping):  # ``nodes``: naming a node that did not run says so
        return value[to_string(key) if not isinstance(key, str) else key]
    if isinstance(value, list | str):
        if key == "length":
            return _length(value)
        index = _array_index(key)
        if index is None or index >= len(value):
            return UNDEFINED
        return value[index]
    if isinstance(value, datetime):
        return _date_member(value, key)
    if isinstance(value, InvalidDate):
        return (
            math.nan if key in ("year", "month", "day", "hour", "minute", "second") else UNDEFINED
        )
    return UNDEFINED


def _length(value: list[Any] | str) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-16-le")) // 2  # JavaScript counts UTF-16 code units
    return len(value)


def _array_index(key: Any) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key if key >= 0 else None
    if isinstance(key, float) and key.is_integer() and key >= 0:
        return int(key)
    if isinstance(key, str) and key.isdigit() and (key == "0" or not key.startswith("0")):
        return int(key)
    return None


# --- n8n's item helpers ----------------------------------------------------------------------


def wrap(item: Any) -> dict[str, Any]:
    """An item as n8n code sees it: ``{"json": item}``."""
    return {"json": item}


def wrap_all(items: Any) -> list[dict[str, Any]]:
    return [wrap(item) for item in items or []]


def pick(items: Any, position: int) -> Any:
    """``.first()`` (0) / ``.last()`` (-1) of a list of items, wrapped; undefined when
    there are none."""
    items = list(items or [])
    if not items:
        return UNDEFINED
    return wrap(items[position])


def index_of(items: Any, current: Any) -> int:
    """The position of the current item in the node's input (``$itemIndex``)."""
    for position, item in enumerate(items or []):
        if item is current:
            return position
    return 0


def paired(node_items: Any, items: Any, current: Any) -> Any:
    """``$('Node').item``: n8n follows item lineage; LinkFlow has none, so the item of
    that node at the current item's position stands in (the first one when that node
    emitted a single item)."""
    node_items = list(node_items or [])
    if not node_items:
        return UNDEFINED
    position = index_of(items, current)
    if len(node_items) == 1:
        position = 0
    if position >= len(node_items):
        raise JsError("No paired item: the node has fewer items than this one's position")
    return wrap(node_items[position])


# --- methods ---------------------------------------------------------------------------------


class JsRegex:
    """A regular expression literal (``/ab+c/gi``)."""

    __slots__ = ("compiled", "flags", "source")

    def __init__(self, source: str, flags: str) -> None:
        self.source = source
        self.flags = flags
        options = (re.I if "i" in flags else 0) | (re.M if "m" in flags else 0)
        options |= re.S if "s" in flags else 0
        python_source = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", source)
        try:
            self.compiled = re.compile(python_source, options)
        except re.error as error:
            raise JsError(f"Invalid regular expression /{source}/: {error}") from None

    @property
    def is_global(self) -> bool:
        return "g" in self.flags


def regex(source: str, flags: str = "") -> JsRegex:
    return JsRegex(source, flags)


def call(receiver: Any, method: str, *args: Any) -> Any:
    """``receiver.method(args…)`` for the string, array, number, object and date
    methods that have a meaning here (n8n's own extensions such as ``isEmpty()``
    included). Calling a method of null/undefined or an unknown method throws."""
    receiver = unbox(receiver)
    args = tuple(unbox(arg) for arg in args)
    if isinstance(receiver, _Short):
        return receiver
    optional = method.startswith("?")
    method = method.lstrip("?")
    if is_nullish(receiver):
        if optional:
            return SHORT
        raise JsError(f"Cannot read properties of {to_string(receiver)} (reading '{method}')")
    table: Mapping[str, Callable[..., Any]]
    if isinstance(receiver, str):
        table = _STRING_METHODS
    elif isinstance(receiver, list):
        table = _ARRAY_METHODS
    elif isinstance(receiver, bool):
        table = _BOOLEAN_METHODS
    elif _is_number(receiver):
        table = _NUMBER_METHODS
    elif isinstance(receiver, datetime):
        table = _DATE_METHODS
    elif isinstance(receiver, dict):
        table = _OBJECT_METHODS
    elif isinstance(receiver, InvalidDate):
        table = _INVALID_DATE_METHODS
    else:
        table = {}
    function = table.get(method)
    if function is None:
        raise JsError(f"{type_of(receiver)}.{method} is not a function")
    return function(receiver, *args)


def _text_arg(args: tuple[Any, ...], position: int, default: str = "undefined") -> str:
    return to_string(args[position]) if len(args) > position else default


def _int_arg(args: tuple[Any, ...], position: int, default: int) -> int:
    if len(args) <= position or isinstance(args[position], _Undefined):
        return default
    number = to_number(args[position])
    if math.isnan(number):
        return 0
    if math.isinf(number):
        return 2**53 if number > 0 else -(2**53)
    return int(number)


def _slice_bounds(length: int, start: int, end: int) -> tuple[int, int]:
    start = max(length + start, 0) if start < 0 else min(start, length)
    end = max(length + end, 0) if end < 0 else min(end, length)
    return start, end


def _replacement(template: str, match: re.Match[str]) -> str:
    def expand(token: re.Match[str]) -> str:
        text = token.group(0)
        if text == "$$":
            return "$"
        if text == "$&":
            return match.group(0)
        group = int(text[1:])
        if group <= (match.re.groups or 0):
            return match.group(group) or ""
        return text

    return re.sub(r"\$\$|\$&|\$\d{1,2}", expand, template)


def _replace(text: str, pattern: Any, replacement: Any, *, every: bool = False) -> str:
    new = to_string(replacement)
    if isinstance(pattern, JsRegex):
        count = 0 if (pattern.is_global or every) else 1
        result = pattern.compiled.sub(lambda m: _replacement(new, m), text, count=count)
    else:
        old = to_string(pattern)
        compiled = re.compile(re.escape(old))
        result = compiled.sub(lambda m: _replacement(new, m), text, count=0 if every else 1)
    if len(result) > MAX_TEXT:
        raise JsError("the text would be too long")
    return result


def _split(text: str, separator: Any = UNDEFINED, limit: Any = UNDEFINED) -> list[str]:
    if isinstance(separator, _Undefined):
        parts = [text]
    elif isinstance(separator, JsRegex):
        parts = separator.compiled.split(text)
    elif to_string(separator) == "":
        parts = list(text)
    else:
        parts = text.split(to_string(separator))
    if not isinstance(limit, _Undefined):
        parts = parts[: max(_int_arg((limit,), 0, len(parts)), 0)]
    return parts


def _pad(text: str, length: Any, filler: Any, *, start: bool) -> str:
    target = _int_arg((length,), 0, 0)
    fill = " " if isinstance(filler, _Undefined) else to_string(filler)
    if target > MAX_TEXT:
        raise JsError("the text would be too long")
    missing = target - len(text)
    if missing <= 0 or not fill:
        return text
    padding = (fill * (missing // len(fill) + 1))[:missing]
    return padding + text if start else text + padding


def _repeat(text: str, count: Any) -> str:
    times = _int_arg((count,), 0, 0)
    if times < 0 or len(text) * times > MAX_TEXT:
        raise JsError("Invalid count value")
    return text * times


def _includes(container: Any, needle: Any, position: Any = UNDEFINED) -> bool:
    if isinstance(container, str):
        return to_string(needle) in container[_int_arg((position,), 0, 0) :]
    return any(_same_value_zero(item, needle) for item in container)


def _same_value_zero(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b) and math.isnan(a) and math.isnan(b):
        return True
    return strict_equal(a, b)


def _index_of(container: Any, needle: Any) -> int:
    if isinstance(container, str):
        return container.find(to_string(needle))
    for position, item in enumerate(container):
        if strict_equal(item, needle):
            return position
    return -1


def _match(text: str, pattern: Any) -> Any:
    compiled = (
        pattern if isinstance(pattern, JsRegex) else JsRegex(re.escape(to_string(pattern)), "")
    )
    if compiled.is_global:
        found = [m.group(0) for m in compiled.compiled.finditer(text)]
        return found or None
    match = compiled.compiled.search(text)
    if match is None:
        return None
    return [match.group(0), *[g if g is not None else UNDEFINED for g in match.groups()]]


def _to_fixed(number: Any, digits: Any = 0) -> str:
    places = _int_arg((digits,), 0, 0)
    if not 0 <= places <= 100:
        raise JsError("toFixed() digits argument must be between 0 and 100")
    value = float(to_number(number))
    if math.isnan(value) or math.isinf(value):
        return number_to_string(value)
    # JavaScript rounds the exact binary value half away from zero, as Decimal does.
    from decimal import ROUND_HALF_UP, Decimal

    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP))


def _round(number: Any, digits: Any = 0) -> float | int:
    places = _int_arg((digits,), 0, 0)
    value = to_number(number)
    factor = 10**places
    return _tidy(math.floor(value * factor + 0.5) / factor) if not math.isnan(value) else value


def _join(items: list[Any], separator: Any = UNDEFINED) -> str:
    glue = "," if isinstance(separator, _Undefined) else to_string(separator)
    text = glue.join("" if is_nullish(item) else to_string(item) for item in items)
    if len(text) > MAX_TEXT:
        raise JsError("the text would be too long")
    return text


def _is_empty(value: Any) -> bool:
    if isinstance(value, str | list | dict):
        return len(value) == 0
    return is_nullish(value)


def _numbers(items: list[Any]) -> list[float | int]:
    return [to_number(item) for item in items if _is_number(item) or isinstance(item, str)]


def _unique(items: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for item in items:
        if not any(_deep_equal(item, other) for other in seen):
            seen.append(item)
    return seen


def _deep_equal(a: Any, b: Any) -> bool:
    return json.dumps(out(a), sort_keys=True) == json.dumps(out(b), sort_keys=True)


def _sort_default(items: list[Any]) -> list[Any]:
    # Array#sort without a comparator sorts by the items' text; undefined goes last.
    defined = [item for item in items if not isinstance(item, _Undefined)]
    rest = [item for item in items if isinstance(item, _Undefined)]
    return sorted(defined, key=lambda item: to_string(item).encode("utf-16-be")) + rest


_STRING_METHODS: dict[str, Callable[..., Any]] = {
    "toUpperCase": lambda s: s.upper(),
    "toLowerCase": lambda s: s.lower(),
    "toLocaleUpperCase": lambda s, *a: s.upper(),
    "toLocaleLowerCase": lambda s, *a: s.lower(),
    "trim": lambda s: s.strip(" \t\n\r\v\f\u00a0\ufeff\u2028\u2029"),
    "trimStart": lambda s: s.lstrip(" \t\n\r\v\f\u00a0\ufeff\u2028\u2029"),
    "trimEnd": lambda s: s.rstrip(" \t\n\r\v\f\u00a0\ufeff\u2028\u2029"),
    "split": _split,
    "includes": _includes,
    "startsWith": lambda s, x=UNDEFINED, p=0: s[_int_arg((p,), 0, 0) :].startswith(to_string(x)),
    "endsWith": lambda s, x=UNDEFINED: s.endswith(to_string(x)),
    "replace": lambda s, p=UNDEFINED, r=UNDEFINED: _replace(s, p, r),
    "replaceAll": lambda s, p=UNDEFINED, r=UNDEFINED: _replace(s, p, r, every=True),
    "slice": lambda s, a=0, b=UNDEFINED: s[
        slice(*_slice_bounds(len(s), _int_arg((a,), 0, 0), _int_arg((b,), 0, len(s))))
    ],
    "substring": lambda s, a=0, b=UNDEFINED: s[
        min(max(_int_arg((a,), 0, 0), 0), max(_int_arg((b,), 0, len(s)), 0), len(s)) : min(
            max(max(_int_arg((a,), 0, 0), _int_arg((b,), 0, len(s))), 0), len(s)
        )
    ],
    "substr": lambda s, a=0, n=UNDEFINED: s[
        _slice_bounds(len(s), _int_arg((a,), 0, 0), len(s))[0] :
    ][: max(_int_arg((n,), 0, len(s)), 0)],
    "indexOf": _index_of,
    "lastIndexOf": lambda s, x=UNDEFINED: s.rfind(to_string(x)),
    "charAt": lambda s, i=0: s[_int_arg((i,), 0, 0)] if 0 <= _int_arg((i,), 0, 0) < len(s) else "",
    "at": lambda s, i=0: member(s, _int_arg((i,), 0, 0) % len(s)) if s else UNDEFINED,
    "padStart": lambda s, n=0, f=UNDEFINED: _pad(s, n, f, start=True),
    "padEnd": lambda s, n=0, f=UNDEFINED: _pad(s, n, f, start=False),
    "repeat": _repeat,
    "concat": lambda s, *a: s + "".join(to_string(x) for x in a),
    "toString": lambda s: s,
    "valueOf": lambda s: s,
    "match": _match,
    "search": lambda s, p: (lambda m: m.start() if m else -1)(
        (p if isinstance(p, JsRegex) else JsRegex(re.escape(to_string(p)), "")).compiled.search(s)
    ),
    "localeCompare": lambda s, o: (s > to_string(o)) - (s < to_string(o)),
    # n8n's extensions
    "isEmpty": _is_empty,
    "isNotEmpty": lambda s: not _is_empty(s),
    "toNumber": lambda s: to_number(s),
    "toInt": lambda s: (
        _tidy(math.trunc(to_number(s))) if not math.isnan(to_number(s)) else math.nan
    ),
    "toFloat": lambda s: to_number(s),
    "toBoolean": lambda s: s.strip().lower() not in ("", "0", "false", "no", "f", "n", "off"),
    "toDateTime": lambda s: parse_date(s),
    "length": lambda s: _length(s),
}

_ARRAY_METHODS: dict[str, Callable[..., Any]] = {
    "join": _join,
    "includes": _includes,
    "indexOf": _index_of,
    "slice": lambda a, s=0, e=UNDEFINED: a[
        slice(*_slice_bounds(len(a), _int_arg((s,), 0, 0), _int_arg((e,), 0, len(a))))
    ],
    "concat": lambda a, *more: a + [x for m in more for x in (m if isinstance(m, list) else [m])],
    "reverse": lambda a: list(reversed(a)),
    "at": lambda a, i=0: member(a, _int_arg((i,), 0, 0) % len(a)) if a else UNDEFINED,
    "flat": lambda a: [x for item in a for x in (item if isinstance(item, list) else [item])],
    "toString": lambda a: to_string(a),
    "sort": _sort_default,
    # n8n's extensions
    "first": lambda a: a[0] if a else UNDEFINED,
    "last": lambda a: a[-1] if a else UNDEFINED,
    "isEmpty": _is_empty,
    "isNotEmpty": lambda a: not _is_empty(a),
    "sum": lambda a: _tidy(math.fsum(_numbers(a))),
    "min": lambda a: min(_numbers(a)) if _numbers(a) else math.inf,
    "max": lambda a: max(_numbers(a)) if _numbers(a) else -math.inf,
    "average": lambda a: _tidy(math.fsum(_numbers(a)) / len(_numbers(a))) if a else math.nan,
    "unique": _unique,
    "compact": lambda a: [x for x in a if not is_nullish(x) and x != ""],
    "pluck": lambda a, *keys: [
        {k: member(x, k) for k in keys} if len(keys) > 1 else member(x, keys[0])
        for x in a
        if isinstance(x, dict)
    ],
}

_NUMBER_METHODS: dict[str, Callable[..., Any]] = {
    "toFixed": _to_fixed,
    "toString": lambda n, base=UNDEFINED: (
        number_to_string(n)
        if isinstance(base, _Undefined) or base == 10
        else _in_base(n, _int_arg((base,), 0, 10))
    ),
    "valueOf": lambda n: n,
    # n8n's extensions
    "round": _round,
    "floor": lambda n: _tidy(math.floor(n)) if math.isfinite(n) else n,
    "ceil": lambda n: _tidy(math.ceil(n)) if math.isfinite(n) else n,
    "abs": lambda n: abs(n),
    "isEven": lambda n: isinstance(n, int) and n % 2 == 0,
    "isOdd": lambda n: isinstance(n, int) and n % 2 == 1,
    "toBoolean": lambda n: n != 0,
    "format": lambda n, *a: number_to_string(n),
    "isEmpty": lambda n: False,
}

_BOOLEAN_METHODS: dict[str, Callable[..., Any]] = {
    "toString": lambda b: to_string(b),
    "valueOf": lambda b: b,
    "toNumber": lambda b: int(b),
}

_OBJECT_METHODS: dict[str, Callable[..., Any]] = {
    "isEmpty": _is_empty,
    "isNotEmpty": lambda o: not _is_empty(o),
    "keys": lambda o: list(o),
    "values": lambda o: list(o.values()),
    "hasField": lambda o, k: to_string(k) in o,
    "hasOwnProperty": lambda o, k: to_string(k) in o,
    "toJsonString": lambda o: json.dumps(out(o), ensure_ascii=False, separators=(",", ":")),
    "toString": lambda o: "[object Object]",
}


def _in_base(number: Any, base: int) -> str:
    if not isinstance(number, int) or not 2 <= base <= 36:
        return number_to_string(number)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    value, text = abs(number), ""
    while True:
        value, rest = divmod(value, base)
        text = digits[rest] + text
        if not value:
            break
    return ("-" if number < 0 else "") + text


# --- global functions ------------------------------------------------------------------------


def _parse_int(text: Any, base: Any = UNDEFINED) -> float | int:
    source = to_string(text).strip()
    radix = _int_arg((base,), 0, 10) or 10
    sign = -1 if source.startswith("-") else 1
    source = source.lstrip("+-")
    if radix == 16 and source.lower().startswith("0x"):
        source = source[2:]
    elif isinstance(base, _Undefined) and source.lower().startswith("0x"):
        source, radix = source[2:], 16
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"[:radix]
    taken = ""
    for char in source.lower():
        if char not in digits:
            break
        taken += char
    return sign * int(taken, radix) if taken else math.nan


def _parse_float(text: Any) -> float | int:
    match = re.match(
        r"[+-]?(Infinity|\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?)", to_string(text).strip()
    )
    if not match:
        return math.nan
    return _tidy(float(match.group(0).replace("Infinity", "inf")))


def _json_parse(text: Any) -> Any:
    try:
        return json.loads(to_string(text))
    except ValueError as error:
        raise JsError(f"JSON.parse: {error}") from None


def _json_stringify(value: Any, _replacer: Any = None, indent: Any = UNDEFINED) -> Any:
    if isinstance(value, _Undefined):
        return UNDEFINED
    spaces = None if isinstance(indent, _Undefined) else _int_arg((indent,), 0, 0) or None
    separators = (",", ":") if spaces is None else (",", ": ")
    return json.dumps(out(value), ensure_ascii=False, indent=spaces, separators=separators)


def _math(name: str, *args: Any) -> Any:
    numbers = [to_number(_primitive(unbox(arg))) for arg in args]
    if name in ("max", "min"):
        if any(math.isnan(n) for n in numbers):
            return math.nan
        if not numbers:
            return -math.inf if name == "max" else math.inf
        return max(numbers) if name == "max" else min(numbers)
    first = numbers[0] if numbers else math.nan
    if math.isnan(first) and name != "pow":
        return math.nan
    functions: dict[str, Callable[..., Any]] = {
        "round": lambda x: _tidy(math.floor(x + 0.5)) if math.isfinite(x) else x,
        "floor": lambda x: _tidy(math.floor(x)) if math.isfinite(x) else x,
        "ceil": lambda x: _tidy(math.ceil(x)) if math.isfinite(x) else x,
        "trunc": lambda x: _tidy(math.trunc(x)) if math.isfinite(x) else x,
        "abs": abs,
        "sqrt": lambda x: _tidy(math.sqrt(x)) if x >= 0 else math.nan,
        "sign": lambda x: (x > 0) - (x < 0),
        "pow": lambda x, y: arithmetic("**", x, y),
        "log": lambda x: math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan),
        "log10": lambda x: math.log10(x) if x > 0 else (-math.inf if x == 0 else math.nan),
        "exp": lambda x: math.exp(x) if x < 709 else math.inf,
    }
    function = functions.get(name)
    if function is None:
        raise JsError(f"Math.{name} is not a function")
    return function(*numbers)


def function(name: str, *args: Any) -> Any:
    """The global functions translated expressions call: ``Number``, ``String``,
    ``Boolean``, ``parseInt``, ``parseFloat``, ``isNaN``, ``JSON.*``, ``Object.*``,
    ``Array.isArray``, ``Math.*`` and Luxon's ``DateTime.fromISO``."""
    args = tuple(unbox(arg) for arg in args)
    first = args[0] if args else UNDEFINED
    if name.startswith("Math."):
        return _math(name[5:], *args)
    simple: dict[str, Callable[..., Any]] = {
        "Number": lambda *a: to_number(_primitive(first)) if a else 0,
        "String": lambda *a: to_string(first) if a else "",
        "Boolean": lambda *a: truthy(first),
        "parseInt": _parse_int,
        "parseFloat": _parse_float,
        "isNaN": lambda *a: math.isnan(to_number(_primitive(first))),
        "isFinite": lambda *a: math.isfinite(to_number(_primitive(first))),
        "JSON.parse": _json_parse,
        "JSON.stringify": _json_stringify,
        "Object.keys": lambda *a: list(first) if isinstance(first, dict) else [],
        "Object.values": lambda *a: list(first.values()) if isinstance(first, dict) else [],
        "Object.entries": lambda *a: (
            [[k, v] for k, v in first.items()] if isinstance(first, dict) else []
        ),
        "Array.isArray": lambda *a: isinstance(first, list),
        "DateTime.fromISO": lambda *a: parse_date(first),
        "encodeURIComponent": lambda *a: _encode_uri_component(to_string(first)),
    }
    chosen = simple.get(name)
    if chosen is None:
        raise JsError(f"{name} is not a function")
    return chosen(*args)


def _encode_uri_component(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="-_.!~*'()")


# --- dates (a small part of Luxon) -----------------------------------------------------------


def now(current: datetime, zone: str = "UTC") -> datetime:
    """``$now`` in the workflow's time zone."""
    return current.astimezone(_zone(zone))


def today(current: datetime, zone: str = "UTC") -> datetime:
    """``$today``: midnight of the current day in the workflow's time zone."""
    local = now(current, zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _zone(name: str) -> Any:
    if name in ("UTC", "utc", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise JsError(f"Unknown time zone {name!r}") from None


class InvalidDate:
    """Luxon's invalid DateTime: what parsing a text that is no date gives. Its numbers
    are NaN, its ISO forms null, its text "Invalid DateTime"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Invalid DateTime"


INVALID_DATE = InvalidDate()

_INVALID_DATE_METHODS: dict[str, Callable[..., Any]] = {
    **{
        name: (lambda d, *a: math.nan)
        for name in ("toMillis", "toSeconds", "valueOf", "toUnixInteger")
    },
    **{name: (lambda d, *a: None) for name in ("toISO", "toISODate", "toJSON")},
    **{name: (lambda d, *a: "Invalid DateTime") for name in ("toFormat", "toString")},
    **{name: (lambda d, *a: d) for name in ("toUTC", "setZone", "plus", "minus", "startOf")},
}


def parse_date(value: Any) -> Any:
    """An ISO-8601 text as a zoned date (naive times are read as UTC); an invalid date
    (InvalidDate) when it does not parse, as Luxon's DateTime.fromISO gives."""
    if isinstance(value, datetime):
        return value
    text = to_string(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return INVALID_DATE
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def luxon_iso(moment: datetime) -> str:
    """Luxon's toISO(): milliseconds always, 'Z' for UTC, else the offset."""
    text = moment.isoformat(timespec="milliseconds")
    if moment.tzinfo is UTC:
        return text.replace("+00:00", "Z")
    return text


_LUXON_TOKENS = re.compile(
    r"'[^']*'|yyyy|yy|MMMM|MMM|MM|M|dd|d|HH|H|hh|h|mm|m|ss|s|SSS|a|ZZ|EEEE|EEE|ccc|cccc|o|.", re.S
)


def luxon_format(moment: datetime, pattern: str) -> str:
    """Luxon's toFormat() for its common tokens (years, months, days, hours, minutes,
    seconds, milliseconds, weekday names, am/pm, offset); other letters are copied."""
    names = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    values: dict[str, Callable[[], str]] = {
        "yyyy": lambda: f"{moment.year:04d}",
        "yy": lambda: f"{moment.year % 100:02d}",
        "MMMM": lambda: names[moment.month - 1],
        "MMM": lambda: names[moment.month - 1][:3],
        "MM": lambda: f"{moment.month:02d}",
        "M": lambda: str(moment.month),
        "dd": lambda: f"{moment.day:02d}",
        "d": lambda: str(moment.day),
        "HH": lambda: f"{moment.hour:02d}",
        "H": lambda: str(moment.hour),
        "hh": lambda: f"{(moment.hour % 12) or 12:02d}",
        "h": lambda: str((moment.hour % 12) or 12),
        "mm": lambda: f"{moment.minute:02d}",
        "m": lambda: str(moment.minute),
        "ss": lambda: f"{moment.second:02d}",
        "s": lambda: str(moment.second),
        "SSS": lambda: f"{moment.microsecond // 1000:03d}",
        "a": lambda: "AM" if moment.hour < 12 else "PM",
        "ZZ": lambda: moment.isoformat()[-6:] if moment.utcoffset() else "+00:00",
        "EEEE": lambda: days[moment.weekday()],
        "cccc": lambda: days[moment.weekday()],
        "EEE": lambda: days[moment.weekday()][:3],
        "ccc": lambda: days[moment.weekday()][:3],
        "o": lambda: str(moment.timetuple().tm_yday),
    }
    pieces = []
    for token in _LUXON_TOKENS.findall(pattern):
        if token.startswith("'") and token.endswith("'") and len(token) >= 2:
            pieces.append(token[1:-1])
        else:
            producer = values.get(token)
            pieces.append(producer() if producer else token)
    return "".join(pieces)


_UNITS = {
    "year": "years",
    "month": "months",
    "week": "weeks",
    "day": "days",
    "hour": "hours",
    "minute": "minutes",
    "second": "seconds",
    "millisecond": "milliseconds",
}


def _shift(moment: datetime, amount: Any, unit: Any = UNDEFINED, *, sign: int) -> datetime:
    changes = amount if isinstance(amount, dict) else {to_string(unit): amount}
    result = moment
    for name, value in changes.items():
        unit_name = _UNITS.get(name, name)
        count = to_number(value) * sign
        if unit_name in ("years", "months"):
            months = int(count) * (12 if unit_name == "years" else 1)
            year, month = divmod(result.month - 1 + months, 12)
            day = min(result.day, _days_in_month(result.year + year, month + 1))
            result = result.replace(year=result.year + year, month=month + 1, day=day)
        elif unit_name in ("weeks", "days", "hours", "minutes", "seconds", "milliseconds"):
            result = result + timedelta(**{unit_name: count})
        else:
            raise JsError(f"Unknown unit {name!r}")
    return result


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _start_of(moment: datetime, unit: Any) -> datetime:
    name = to_string(unit)
    keep = {"year": 1, "month": 2, "day": 3, "hour": 4, "minute": 5, "second": 6}.get(name)
    if keep is None:
        raise JsError(f"Unknown unit {name!r}")
    fields = {"month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "microsecond": 0}
    order = ["month", "day", "hour", "minute", "second", "microsecond"]
    return moment.replace(**{f: fields[f] for f in order[keep - 1 :]})


def _date_member(moment: datetime, key: Any) -> Any:
    table: dict[str, Callable[[], Any]] = {
        "year": lambda: moment.year,
        "month": lambda: moment.month,
        "day": lambda: moment.day,
        "hour": lambda: moment.hour,
        "minute": lambda: moment.minute,
        "second": lambda: moment.second,
        "millisecond": lambda: moment.microsecond // 1000,
        "weekday": lambda: moment.isoweekday(),
        "zoneName": lambda: str(moment.tzinfo) if moment.tzinfo is not UTC else "UTC",
    }
    producer = table.get(to_string(key))
    return producer() if producer else UNDEFINED


_DATE_METHODS: dict[str, Callable[..., Any]] = {
    "toISO": luxon_iso,
    "toISODate": lambda d: d.date().isoformat(),
    "toString": luxon_iso,
    "toJSON": luxon_iso,
    "toFormat": lambda d, p="": luxon_format(d, to_string(p)),
    "toMillis": lambda d: round(d.timestamp() * 1000),
    "toSeconds": lambda d: _tidy(d.timestamp()),
    "toUnixInteger": lambda d: int(d.timestamp()),
    "valueOf": lambda d: round(d.timestamp() * 1000),
    "toUTC": lambda d: d.astimezone(UTC),
    "setZone": lambda d, z="UTC": d.astimezone(_zone(to_string(z))),
    "plus": lambda d, a, u=UNDEFINED: _shift(d, a, u, sign=1),
    "minus": lambda d, a, u=UNDEFINED: _shift(d, a, u, sign=-1),
    "startOf": _start_of,
}


def typed(value: Any, kind: str, version: float = 3.4, ignore_errors: bool = False) -> Any:
    """n8n's Set node (v3) field types: the value checked and converted to ``kind``
    ("string", "number", "boolean", "array", "object"); null when it is null or
    undefined (v3.2 and later). A value that does not convert raises JsError, unless
    ``ignore_errors``, which keeps it as it is."""
    value = unbox(value)
    if version >= 3.2 and is_nullish(value):
        return None
    if kind == "string":
        if is_nullish(value):
            if ignore_errors:
                return None
            raise JsError(f"expects a string but we got '{to_string(value)}'")
        if isinstance(value, dict | list):
            return json.dumps(out(value), ensure_ascii=False, separators=(",", ":"))
        return to_string(value)
    if is_nullish(value):
        return None
    try:
        return _converted(value, kind)
    except JsError:
        if ignore_errors:
            return value
        raise


def _converted(value: Any, kind: str) -> Any:
    wrong = JsError(f"expects a {kind} but we got {_value_description(value)}")
    if kind == "number":
        number = to_number(_primitive(value)) if not isinstance(value, dict) else math.nan
        if isinstance(number, float) and math.isnan(number):
            raise wrong
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not (isinstance(value, str) and not value.strip()):
            number = to_number(_primitive(value))
            if number in (0, 1):
                return number == 1
        raise wrong
    if kind in ("array", "object"):
        wanted = list if kind == "array" else dict
        if isinstance(value, wanted):
            return value
        try:
            parsed = json.loads(to_string(value))
        except ValueError:
            try:
                parsed = json.loads(to_string(value).replace("'", '"'))
            except ValueError:
                raise wrong from None
        if not isinstance(parsed, wanted):
            raise wrong
        return parsed
    return value


def _value_description(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return f"'{to_string(value)}'"


def http_items(response: Any) -> list[Any]:
    """The items n8n's HTTP Request node emits for a response: the JSON body itself (one
    item per element of a JSON array), or ``{"data": text}`` for any other body."""
    body = response.get("body") if isinstance(response, dict) else None
    if isinstance(body, list):
        return [x if isinstance(x, dict) else {"data": x} for x in body]
    if isinstance(body, dict):
        return [body]
    return [{"data": "" if body is None else body}]


def merged(*objects: Any) -> dict[str, Any]:
    """``{...a, ...b}``: the members of each object in turn, later ones winning."""
    result: dict[str, Any] = {}
    for value in objects:
        if isinstance(value, dict):
            result.update(value)
    return result


def untranslated(original: str) -> Any:
    """Stands where an n8n expression could not be translated: fails the node with the
    original text, so the run never goes on with a wrong value."""
    raise JsError(f"This n8n expression was not translated; rewrite it by hand: {original}")


# --- installation ----------------------------------------------------------------------------

GLOBALS: dict[str, Any] = {
    "js_out": out,
    "js_text": template_text,
    "js_str": to_string,
    "js_num": lambda value: to_number(_primitive(unbox(value))),
    "js_truthy": lambda value: truthy(unbox(value)),
    "js_b": box,
    "js_nb": box_defined,
    "js_v": unbox,
    "js_add": lambda a, b: add(unbox(a), unbox(b)),
    "js_arith": lambda op, a, b: arithmetic(op, unbox(a), unbox(b)),
    "js_neg": lambda value: negate(unbox(value)),
    "js_cmp": lambda op, a, b: compare(op, unbox(a), unbox(b)),
    "js_seq": lambda a, b: strict_equal(unbox(a), unbox(b)),
    "js_leq": lambda a, b: loose_equal(unbox(a), unbox(b)),
    "js_typeof": lambda value: type_of(unbox(value)),
    "js_get": get,
    "js_opt": OPT,
    "js_undefined": UNDEFINED,
    "js_call": call,
    "js_fn": function,
    "js_re": regex,
    "js_wrap": wrap,
    "js_all": wrap_all,
    "js_pick": pick,
    "js_index": index_of,
    "js_paired": paired,
    "js_now": now,
    "js_today": today,
    "js_untranslated": untranslated,
    "js_typed": typed,
    "js_merge": merged,
    "js_http_items": http_items,
}


def install(environment: Any) -> None:
    """Make the ``js_*`` functions available to expressions of ``environment`` (the
    expression engine's Jinja environment). Names only; no behaviour of existing
    expressions changes."""
    environment.globals.update(GLOBALS)
