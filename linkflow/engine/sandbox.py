"""The Jinja2 environment expressions run in: sandboxed, immutable, strict and bounded.

Jinja's ImmutableSandboxedEnvironment already refuses private and internal attributes
(``__class__``, ``__globals__`` ...), methods that mutate lists/dicts/sets, and ranges
over 100,000 items. On top of that, every operation that can build something large charges
the size of its result to the evaluation's budget (budget.py) *before* it runs: the
intercepted operators here (``*``, ``**``, ``+``, ``%``, slicing), ``~`` (compiled to a
call of ``concat_checked`` by our code generator), method calls, the ``in`` test, and
every filter (bounded_filters.py). Expressions cannot contain statements (they are
compiled with ``compile_expression``), so there are no loops: the filters that iterate are
the only repetition, and they charge per entry.

A missing key or index reads as ``Empty`` (below) rather than failing: ``json.priority``
on an item without "priority" is falsy and equal to ``none``, and so is a chain through
missing parts (``json.a.b.c``), unlike n8n's JavaScript where that chain throws. Using an
empty value for arithmetic, ordering or a call still fails, with a message naming it.

No regular expression written by a user ever runs: the language has no regex filter or
method, and the patterns the filters use on user text are linear (see
docs/security/expression-bounds.md). Adding a regex filter needs a matcher with a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from linkflow.engine import budget as cost
from linkflow.engine.bounded_filters import bounded, charge_replace, check_text, materialise
from linkflow.engine.budget import MAX_STRING_CHARS, Budget, check_int_bits
from linkflow.engine.formatting import charge_brace_format, charge_percent_format

__all__ = ["MAX_STRING_CHARS", "BoundedSandbox", "Empty"]

_TEXT = (str, bytes, bytearray)
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
# Filters whose output is mostly markup or links, which expressions hardly need.
_REMOVED_FILTERS = ("xmlattr", "urlize")
_REMOVED_GLOBALS = ("lipsum", "cycler", "joiner", "namespace")


class _CodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to ``environment.concat_checked((a, b))`` so it can be charged."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_checked((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class Empty(Undefined):
    """What a missing key or index reads as: falsy, equal to None (and to another Empty),
    empty as text or as a list, ``none`` for the ``is none`` test, replaced by the
    ``default`` filter, and JSON null as a result. Reading through it gives Empty again.

    Everything else fails like a strict undefined (arithmetic, ordering, calls), with a
    message that names the missing field.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, Empty)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(None)

    __lt__ = __le__ = __gt__ = __ge__ = Undefined._fail_with_undefined_error

    def __repr__(self) -> str:
        return "empty"

    @property
    def _undefined_message(self) -> str:
        name = self._undefined_name
        what = f"'{name}'" if name is not None else "The value"
        return f"{what} is missing (empty), so it cannot be used this way"


def _missing_entry(obj: Any, argument: Any) -> bool:
    """True when ``obj[argument]`` failing means "not there" rather than a type error."""
    if isinstance(argument, bool):
        return False
    if isinstance(obj, Mapping):
        return isinstance(argument, str | int)
    return isinstance(obj, list | tuple) and isinstance(argument, int)


def _plainly_undefined(value: Any) -> bool:
    # Jinja's "no such attribute", not its refusal of an unsafe one (that carries a hint).
    return isinstance(value, Undefined) and value._undefined_hint is None


def _none_test(value: Any) -> bool:
    return value is None or isinstance(value, Empty)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Sandboxed environment with StrictUndefined, dict keys winning over dict methods
    (``json.items`` is the item's "items" key, not ``dict.items``) and the cost model:
    a bound exceeded raises ExpressionBoundError."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False)
        for name in _REMOVED_GLOBALS:
            self.globals.pop(name, None)
        for name in _REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters = {name: bounded(name, original) for name, original in self.filters.items()}
        self.tests["in"] = _bounded_in
        self.tests["none"] = _none_test

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Item data is plain dicts: look keys up before attributes. A key missing from a
        dict, or anything read from an empty value or null, is Empty."""
        if (obj is None or isinstance(obj, Empty)) and not attribute.startswith("_"):
            return Empty(name=attribute)
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
            found = super().getattr(obj, attribute)
            return Empty(obj=obj, name=attribute) if _plainly_undefined(found) else found
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Subscript, charging a slice's copy first. A missing key or list index, or any
        subscript of an empty value or null, is Empty."""
        if isinstance(argument, slice) and isinstance(obj, Sized):
            cost.current().charge(len(range(len(obj))[argument]))
        if obj is None or isinstance(obj, Empty):
            return Empty(name=str(argument))
        found = super().getitem(obj, argument)
        if _plainly_undefined(found) and _missing_entry(obj, argument):
            return Empty(obj=obj, name=str(argument))
        return found

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Run an intercepted operator after charging its result."""
        _charge_binop(cost.current(), operator, left, right)
        return super().call_binop(context, operator, left, right)

    def concat_checked(self, parts: tuple[Any, ...]) -> str:
        """``~``: every part written as text, charged before it is written."""
        budget = cost.current()
        budget.text(
            sum(len(part) if isinstance(part, str) else budget.size(part) for part in parts)
        )
        text = "".join(map(str, parts))
        check_text(text)
        return text

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandboxed ``str.format``/``format_map`` that charges its result first."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        template: str = value.__self__
        is_map = value.__name__ == "format_map"

        def charged_format(*args: Any, **kwargs: Any) -> str:
            mapping = args[0] if is_map and args and isinstance(args[0], Mapping) else kwargs
            charge_brace_format(cost.current(), template, () if is_map else args, mapping)
            return wrapper(*args, **kwargs)

        return charged_format

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a function from an expression after charging its result."""
        receiver = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        args = _charge_call(cost.current(), receiver, name, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, _TEXT):
            check_text(result)
        return result


def _is_int(value: Any) -> bool:
    return isinstance(value, int)  # bools too: True * "x" repeats


def _charge_binop(budget: Budget, operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        _charge_repeat(budget, left, right)
    elif operator == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            check_int_bits(right * left.bit_length())
    elif operator == "+":
        _charge_add(budget, left, right)
    elif operator == "%" and isinstance(left, str):
        charge_percent_format(budget, left, right)


def _charge_repeat(budget: Budget, left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        check_int_bits(abs(left).bit_length() + abs(right).bit_length())
        return
    sequence, count = (left, right) if _is_int(right) else (right, left)
    if not _is_int(count) or not isinstance(sequence, (*_TEXT, list, tuple)):
        return
    count = max(count, 0)
    if isinstance(sequence, _TEXT):
        budget.chars(len(sequence) * count)
        return
    # Shared entries count once per appearance: what a later str(), sum() or == walks.
    budget.items(len(sequence) * count)  # refuses a huge count before measuring
    inner = budget.size(sequence, limit=cost.MAX_VALUE_SIZE // max(count, 1) + 1) - 1
    budget.items(len(sequence) * count, size=1 + count * inner)


def _charge_add(budget: Budget, left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        check_int_bits(max(abs(left).bit_length(), abs(right).bit_length()) + 1)
    elif isinstance(left, _TEXT) and isinstance(right, _TEXT):
        budget.chars(len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        budget.items(len(left) + len(right))


def _charge_call(
    budget: Budget, receiver: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Charge a method call's result; returns the arguments to call it with."""
    if isinstance(receiver, _TEXT):
        return _charge_text_method(budget, receiver, name, args, kwargs)
    if isinstance(receiver, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        budget.chars(length if _is_int(length) else 1)
    else:
        budget.charge(len(receiver) if isinstance(receiver, Sized) else 1)
    return args


def _charge_text_method(
    budget: Budget, text: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    if name in _PADDING_METHODS:
        width = args[0] if args else kwargs.get("width", 0)
        budget.chars(max(len(text), width if _is_int(width) else 0))
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        budget.chars(
            len(text) + text.count("\t" if isinstance(text, str) else b"\t") * max(size, 0)
        )
    elif name == "replace" and isinstance(text, str) and len(args) >= 2:
        charge_replace(budget, text, args[0], args[1], args[2] if len(args) > 2 else None)
    elif name == "join" and args:
        parts = materialise(budget, args[0])  # measured once, then joined
        sizes = sum(len(part) if isinstance(part, _TEXT) else 1 for part in parts)
        budget.chars(sizes + len(text) * max(len(parts) - 1, 0))
        return (parts, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        budget.chars(len(text) * max(longest, 1))
    else:  # every other text method is linear in its receiver; the result is checked after
        budget.charge(len(text))
    return args


def _bounded_in(value: Any, seq: Any) -> bool:
    """The ``in`` test (``select('in', ...)`` runs it per entry): charges the scan."""
    cost.current().charge(len(seq) if isinstance(seq, Sized) else 1)
    return value in seq
