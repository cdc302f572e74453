"""The Jinja2 environment expressions run in: sandboxed, immutable, strict and size-bounded.

Jinja's ImmutableSandboxedEnvironment already refuses private and internal attributes
(``__class__``, ``__globals__`` ...), methods that mutate lists/dicts/sets, and ranges
over 100,000 items. On top of that this environment refuses the cheap ways to make a short
expression allocate gigabytes: sequence repetition, huge powers, wide format fields,
padding methods, ``replace``/``join`` blow-ups and the filters that multiply their input.
Expressions cannot contain statements (they are compiled with ``compile_expression``), so
there are no loops. This is a best-effort bound; the worker's own time and memory limits
remain the last line of defence.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_STRING_CHARS = 1_000_000
MAX_SEQUENCE_ITEMS = 100_000
MAX_POWER_BITS = 100_000
MAX_FORMAT_WIDTH = 1_000

_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
# Filters whose output can be many times their input and that expressions hardly need.
_REMOVED_FILTERS = ("indent", "wordwrap", "center", "xmlattr", "urlize")
_REMOVED_GLOBALS = ("lipsum", "cycler", "joiner", "namespace")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Sandboxed environment with StrictUndefined, dict keys winning over dict methods
    (``json.items`` is the item's "items" key, not ``dict.items``) and size guards that
    raise SecurityError."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False)
        for name in _REMOVED_GLOBALS:
            self.globals.pop(name, None)
        for name in _REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters["format"] = _bounded_format_filter(self.filters["format"])
        self.filters["replace"] = _bounded_replace_filter(self.filters["replace"])
        self.filters["join"] = _bounded_join_filter(self.filters["join"])
        self.filters["batch"] = _bounded_count_filter(self.filters["batch"])
        self.filters["slice"] = _bounded_count_filter(self.filters["slice"])

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Item data is plain dicts: look keys up before attributes."""
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Run an intercepted operator after checking the result cannot explode."""
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        elif operator == "+" and isinstance(left, str | list | tuple):
            _check_length(len(left) + _length_or_zero(right))
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandboxed ``str.format`` that also refuses huge field widths."""
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _check_brace_format(value.__self__)
        return wrapper

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a function from an expression after the string method size checks."""
        receiver = getattr(__obj, "__self__", None)
        if isinstance(receiver, str):
            args = _check_str_method(receiver, __obj.__name__, args)
        return super().call(__context, __obj, *args, **kwargs)


def _check_length(length: int) -> None:
    if length > MAX_STRING_CHARS:
        raise SecurityError(f"the result would exceed {MAX_STRING_CHARS} characters")


def _length_or_zero(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _check_repeat(left: Any, right: Any) -> None:
    sequence, count = (left, right) if isinstance(right, int) else (right, left)
    if not isinstance(count, int) or not isinstance(sequence, str | list | tuple):
        return
    if isinstance(sequence, str):
        _check_length(len(sequence) * count)
    elif len(sequence) * count > MAX_SEQUENCE_ITEMS:
        raise SecurityError(f"the result would exceed {MAX_SEQUENCE_ITEMS} items")


def _check_power(base: Any, exponent: Any) -> None:
    numbers = isinstance(base, int) and isinstance(exponent, int)
    if numbers and abs(base) > 1 and exponent * base.bit_length() > MAX_POWER_BITS:
        raise SecurityError("the power is too large")


def _check_width(width: str | None) -> None:
    if width == "*" or (width is not None and int(width) > MAX_FORMAT_WIDTH):
        raise SecurityError(f"format widths are limited to {MAX_FORMAT_WIDTH}")


def _check_percent_format(template: str) -> None:
    for match in _PERCENT_FIELD.finditer(template):
        _check_width(match.group(1))
        _check_width(match.group(2))


def _check_brace_format(template: str) -> None:
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format itself will report the malformed template
    for _literal, _name, spec, _conversion in fields:
        if spec and "{" in spec:
            raise SecurityError("nested format fields are not allowed")
        for digits in _DIGITS.findall(spec or ""):
            _check_width(digits)


def _check_str_method(receiver: str, name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    if name in _PADDING_METHODS:
        for arg in args:
            if isinstance(arg, int):
                _check_length(arg)
    elif name == "replace" and len(args) >= 2:
        _check_replace(receiver, args[0], args[1])
    elif name == "join" and args:
        parts = list(args[0])  # materialised once so it can be measured and then joined
        _check_join(receiver, parts)
        return (parts, *args[1:])
    return args


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = len(text) + 1 if old == "" else text.count(old)
        _check_length(len(text) + count * (len(new) - len(old)))


def _check_join(separator: str, parts: list[Any]) -> None:
    _check_length(len(separator) * max(len(parts) - 1, 0) + sum(map(_length_or_zero, parts)))


def _bounded_format_filter(original: Callable[..., str]) -> Callable[..., str]:
    def format_filter(value: str, *args: Any, **kwargs: Any) -> str:
        _check_percent_format(str(value))
        return original(value, *args, **kwargs)

    return format_filter


def _bounded_replace_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    def replace_filter(eval_ctx: Any, text: Any, old: Any, new: Any, *args: Any) -> Any:
        _check_replace(text, old, new)
        return original(eval_ctx, text, old, new, *args)

    replace_filter.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return replace_filter


def _bounded_join_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    def join_filter(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        parts = list(value)
        _check_join(str(d), parts)
        return original(eval_ctx, parts, d, attribute)

    join_filter.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return join_filter


def _bounded_count_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    def count_filter(value: Any, count: int, *args: Any) -> Any:
        if isinstance(count, int) and count > MAX_SEQUENCE_ITEMS:
            raise SecurityError(f"counts are limited to {MAX_SEQUENCE_ITEMS}")
        return original(value, count, *args)

    return count_filter
