"""Jinja's filters, each charging its result to the evaluation's budget before it runs.

Every filter of the environment goes through ``bounded``: an estimator (one per filter
whose output can outgrow its input; a shallow charge of the input's length for the rest)
runs on the arguments first, a filter consuming a lazy iterable gets it materialised one
charged entry at a time, and a text result is measured again afterwards, because estimates
of written values are lower bounds (escapes can make text up to about 12 times longer).
Results are plain ``str``: with autoescape off, Markup would only change how later
concatenations escape, and every estimate here assumes plain strings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any

from jinja2.filters import make_attrgetter
from markupsafe import Markup

from linkflow.engine import budget as cost
from linkflow.engine.budget import MAX_SEQUENCE_ITEMS, Budget, refuse
from linkflow.engine.formatting import charge_percent_format

Args = tuple[Any, ...]
# (budget, pass arg, input, other positional args, keyword args) -> (input, other args)
Estimator = Callable[[Budget, Any, Any, Args, dict[str, Any]], tuple[Any, Args]]

# Filters that return a lazy iterator over their input: whoever consumes it pays per entry.
_LAZY = frozenset({"map", "select", "reject", "selectattr", "rejectattr", "batch", "items"})
# Filters that only look at their input or return one part of it.
_FREE = frozenset({"d", "default", "attr", "length", "count", "safe"})
_PPRINT_COST = 10


def bounded(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` (the filter called ``name``) behind the cost model."""
    pass_arg = getattr(original, "jinja_pass_arg", None)
    estimate = _ESTIMATORS.get(name, _charge_length)
    lazy = name in _LAZY or name in _FREE

    @functools.wraps(original)
    def filter_(*args: Any, **kwargs: Any) -> Any:
        budget = cost.current()
        passed, value, rest = (
            (args[0], args[1], args[2:]) if pass_arg else (None, args[0], args[1:])
        )
        if not lazy and isinstance(value, Iterator):
            value = materialise(budget, value)
        value, rest = estimate(budget, passed, value, rest, kwargs)
        result = original(*((passed,) if pass_arg else ()), value, *rest, **kwargs)
        if isinstance(result, str):
            check_text(result)
            return str(result) if isinstance(result, Markup) else result
        return result

    return filter_


def materialise(budget: Budget, values: Iterable[Any]) -> list[Any]:
    """``values`` as a list, charging each entry as it comes; refuses past the item bound."""
    if isinstance(values, list | tuple):
        return list(values)
    entries: list[Any] = []
    for value in values:
        entries.append(value)
        if len(entries) > MAX_SEQUENCE_ITEMS:
            raise refuse(f"the result would exceed {MAX_SEQUENCE_ITEMS} items")
    budget.charge(len(entries))
    return entries


def check_text(text: str | bytes | bytearray) -> None:
    """Refuse a text that came out longer than the string bound (after escapes)."""
    if len(text) > cost.MAX_STRING_CHARS:
        raise refuse(f"the result would exceed {cost.MAX_STRING_CHARS} characters")


def _charge_length(
    budget: Budget, _passed: Any, value: Any, rest: Args, _kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    budget.charge(len(value) if isinstance(value, Sized) else 1)
    return value, rest


def _charge_text(
    budget: Budget, _passed: Any, value: Any, rest: Args, _kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    budget.text(budget.size(value))
    return value, rest


def _charge_pprint(
    budget: Budget, _passed: Any, value: Any, rest: Args, _kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    # pprint is pure Python, some microseconds per entry: its allowance is a tenth.
    budget.text(budget.size(value) * _PPRINT_COST)
    return value, rest


def _charge_sequence(
    budget: Budget, _passed: Any, value: Any, rest: Args, _kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    budget.items(len(value) if isinstance(value, Sized) else 1)
    return value, rest


def _charge_join(
    budget: Budget, passed: Any, value: Any, rest: Args, kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    separator = str(rest[0] if rest else kwargs.get("d", ""))
    attribute = rest[1] if len(rest) > 1 else kwargs.get("attribute")
    parts = materialise(budget, value)
    if attribute is not None:  # measure the attribute values, not the whole entries
        parts = [*map(make_attrgetter(passed.environment, attribute), parts)]
        kwargs.pop("attribute", None)
        rest = rest[:1]
    sizes = sum(budget.size(part) for part in parts)
    budget.text(sizes + len(separator) * max(len(parts) - 1, 0))
    return parts, rest


def _charge_sum(
    budget: Budget, passed: Any, value: Any, rest: Args, kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    attribute = rest[0] if rest else kwargs.get("attribute")
    start = rest[1] if len(rest) > 1 else kwargs.get("start", 0)
    terms = materialise(budget, value)
    if attribute is not None:  # measure the attribute values, not the whole entries
        terms = [*map(make_attrgetter(passed, attribute), terms)]
        kwargs.pop("attribute", None)
        rest = (None, *rest[1:]) if rest else rest
    if isinstance(start, list | tuple) or any(isinstance(t, list | tuple) for t in terms):
        _charge_sequence_sum(budget, start, terms)
    elif isinstance(start, int) and all(isinstance(t, int) for t in terms):
        widest = max((abs(t).bit_length() for t in [start, *terms]), default=0)
        cost.check_int_bits(widest + len(terms).bit_length())
    return terms, rest


def _charge_sequence_sum(budget: Budget, start: Any, terms: list[Any]) -> None:
    # Adding lists copies the running total each time: the work is quadratic.
    length = len(start) if isinstance(start, Sized) else 0
    work = 0
    for term in terms:
        length += len(term) if isinstance(term, Sized) else 1
        work += length
        if length > MAX_SEQUENCE_ITEMS:
            raise refuse(f"the result would exceed {MAX_SEQUENCE_ITEMS} items")
        if work > budget.left:
            break
    budget.charge(work)


def _charge_format(
    budget: Budget, _passed: Any, value: Any, rest: Args, kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    charge_percent_format(budget, str(value), kwargs or rest)
    return value, rest


def _charge_replace(
    budget: Budget, _passed: Any, value: Any, rest: Args, kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    old, new = (*rest, None, None)[:2]
    count = rest[2] if len(rest) > 2 else kwargs.get("count")
    charge_replace(budget, str(value), old, new, count)
    return value, rest


def charge_replace(budget: Budget, text: str, old: Any, new: Any, count: Any = None) -> None:
    """Charge ``text.replace(old, new, count)``."""
    if not isinstance(old, str) or not isinstance(new, str):
        budget.charge(len(text))
        return
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    budget.chars(len(text) + found * (len(new) - len(old)))


def _charge_center(
    budget: Budget, _passed: Any, value: Any, rest: Args, kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    width = rest[0] if rest else kwargs.get("width", 80)
    budget.chars(max(len(str(value)), width if isinstance(width, int) else 0))
    return value, rest


def _charge_indent(
    budget: Budget, _passed: Any, value: Any, rest: Args, kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    width = rest[0] if rest else kwargs.get("width", 4)
    step = width if isinstance(width, int) else len(str(width))
    text = str(value)
    budget.chars(len(text) + (text.count("\n") + 1) * max(step, 0))
    return value, rest


def _charge_wordwrap(
    budget: Budget, passed: Any, value: Any, rest: Args, kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    width = rest[0] if rest else kwargs.get("width", 79)
    wrap = rest[2] if len(rest) > 2 else kwargs.get("wrapstring")
    separator = str(wrap if wrap is not None else passed.newline_sequence)
    text = str(value)
    # Two consecutive lines together are longer than the width (or the text has no more).
    lines = 2 * len(text) // max(width if isinstance(width, int) else 1, 1) + 2
    budget.chars(len(text) + lines * len(separator))
    return value, rest


def _charge_count(
    budget: Budget, _passed: Any, value: Any, rest: Args, kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    count = rest[0] if rest else next(iter(kwargs.values()), 0)
    length = len(value) if isinstance(value, Sized) else 0
    budget.items(length + (count if isinstance(count, int) and count > 0 else 0))
    return value, rest


def _charge_dict(
    budget: Budget, _passed: Any, value: Any, rest: Args, _kwargs: dict[str, Any]
) -> tuple[Any, Args]:
    budget.items(len(value) if isinstance(value, Mapping) else 1)
    return value, rest


_ESTIMATORS: dict[str, Estimator] = {
    "string": _charge_text,
    "tojson": _charge_text,
    "pprint": _charge_pprint,
    "e": _charge_text,
    "escape": _charge_text,
    "forceescape": _charge_text,
    "urlencode": _charge_text,
    "list": _charge_sequence,
    "sort": _charge_sequence,
    "unique": _charge_sequence,
    "reverse": _charge_sequence,
    "groupby": _charge_sequence,
    "dictsort": _charge_dict,
    "join": _charge_join,
    "sum": _charge_sum,
    "format": _charge_format,
    "replace": _charge_replace,
    "center": _charge_center,
    "indent": _charge_indent,
    "wordwrap": _charge_wordwrap,
    "batch": _charge_count,
    "slice": _charge_count,
}
