"""Size estimates for ``%`` formatting and ``str.format``/``format_map``, before they run.

A format's result is at most its literal text plus, for each field, the widest argument it
could print and that field's width and precision. Counting fields per template (not per
argument) is what catches ``('{0}' * 2000).format('a' * 999999)``: one argument, printed
2000 times. Templates are scanned in one pass (no regular expression that could retry from
every ``%``), and widths over MAX_FORMAT_WIDTH or taken from an argument (``*``) are refused.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from linkflow.engine.budget import MAX_FORMAT_WIDTH, Budget, refuse

# What follows a "%" (after an optional "(key)"): flags, width, precision, length, type.
# Anchored at one position and without nested repeats, so each match is linear in its length.
_PERCENT_SPEC = re.compile(r"[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?.?", re.DOTALL)
_DIGITS = re.compile(r"\d+")
# "%f" of a large float prints over 300 digits whatever its own size.
_FLOAT_TEXT = 320


def charge_percent_format(budget: Budget, template: str, args: Any) -> None:
    """Charge ``template % args``; refuse a field width or precision over the bound."""
    fields, widths = _percent_fields(template)
    budget.chars(len(template) + widths + fields * _widest(budget, _arguments(args)))


def charge_brace_format(
    budget: Budget, template: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    """Charge ``template.format(*args, **kwargs)`` (or ``format_map(kwargs)``)."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format itself reports the malformed template
    literal = widths = count = 0
    for text, name, spec, _conversion in fields:
        literal += len(text)
        if name is None:
            continue
        count += 1
        if spec and "{" in spec:
            raise refuse("nested format fields are not allowed")
        widths += sum(_width(digits) for digits in _DIGITS.findall(spec or ""))
    widest = _widest(budget, [*args, *kwargs.values()])
    budget.chars(literal + widths + count * widest)


def _percent_fields(template: str) -> tuple[int, int]:
    fields = widths = 0
    cursor = template.find("%")
    while cursor != -1:
        cursor += 1
        if template.startswith("%", cursor):
            cursor = template.find("%", cursor + 1)
            continue
        if template.startswith("(", cursor):
            cursor = _after_key(template, cursor)
        match = _PERCENT_SPEC.match(template, cursor)
        if match is not None:
            widths += _width(match.group(1)) + _width(match.group(2))
            cursor = match.end()
        fields += 1
        cursor = template.find("%", cursor)
    return fields, widths


def _after_key(template: str, start: int) -> int:
    """The offset after the ")" closing the mapping key opened at ``start`` (nesting as
    Python's own parser counts it)."""
    depth = 0
    for offset in range(start, len(template)):
        char = template[offset]
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return offset + 1
    return len(template)


def _width(digits: str | None) -> int:
    if digits is None:
        return 0
    if digits == "*" or len(digits) > 6 or int(digits) > MAX_FORMAT_WIDTH:
        raise refuse(f"format widths are limited to {MAX_FORMAT_WIDTH}")
    return int(digits)


def _arguments(args: Any) -> Iterable[Any]:
    if isinstance(args, Mapping):
        return args.values()
    return args if isinstance(args, tuple) else (args,)


def _widest(budget: Budget, values: Iterable[Any]) -> int:
    return max(
        (_FLOAT_TEXT if isinstance(value, float) else budget.size(value) for value in values),
        default=0,
    )
