"""The cost model of expressions: each operation charges its result's size before it runs.

One ``Budget`` lives for one evaluation of one parameter. The sandbox (sandbox.py, and the
filter wrappers in bounded_filters.py) asks it, before running an operator, a filter or a
method, whether the result it is about to build fits; it estimates that size from the
operands alone, so nothing large is allocated first. Two kinds of bound apply:

* **per value**: a string of at most ``MAX_STRING_CHARS`` characters, a sequence of at most
  ``MAX_SEQUENCE_ITEMS`` entries, a nested value of at most ``MAX_VALUE_SIZE`` size units
  (one per character, number and container entry, shared parts counted each time they
  appear), an integer of at most ``MAX_INT_BITS`` bits;
* **per evaluation**: every charge also comes off ``MAX_EVALUATION_SIZE``, so a chain of
  operations each under the per-value bound (or a filter doing quadratic work, like
  ``sum`` over lists) still stops.

Sizes of nested values are measured by a walk memoised per evaluation by object identity
and cut off at the bound, so ``[[0] * 1000] * 5000`` costs a few thousand steps to refuse,
not five million. Python code cannot interrupt C code holding the GIL, which is why the
check comes first; the worker's hard limits (docs/security/expression-bounds.md) remain
behind it.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from linkflow.engine.errors import ExpressionBoundError

MAX_STRING_CHARS = 1_000_000
MAX_SEQUENCE_ITEMS = 100_000
MAX_VALUE_SIZE = 1_000_000
MAX_EVALUATION_SIZE = 10_000_000
# json.dumps and str() refuse integers over 4300 digits (about 14,000 bits); staying well
# under keeps every result storable, and still allows any 64-bit id or 4096-bit arithmetic.
MAX_INT_BITS = 4_096
MAX_FORMAT_WIDTH = 1_000

_SCALARS = (float, bool, type(None))
_CONTAINERS = (list, tuple, dict, set, frozenset)


def refuse(reason: str) -> ExpressionBoundError:
    """The error an exceeded bound raises (the caller raises it)."""
    return ExpressionBoundError(f"Expression exceeds its bounds: {reason}.")


class Budget:
    """What one evaluation may still compute, and the sizes it has measured so far."""

    __slots__ = ("_sizes", "left")

    def __init__(self) -> None:
        self.left = MAX_EVALUATION_SIZE
        # id -> (object, size); the object is kept so its id cannot be reused meanwhile.
        self._sizes: dict[int, tuple[Any, int]] = {}

    def charge(self, amount: int) -> None:
        """Take ``amount`` units off the evaluation's budget; raises past the bound."""
        self.left -= amount
        if self.left < 0:
            raise refuse(
                f"one evaluation may compute at most {MAX_EVALUATION_SIZE} characters and values"
            )

    def chars(self, count: int) -> None:
        """Charge a string (or bytes) result of ``count`` characters."""
        if count > MAX_STRING_CHARS:
            raise refuse(f"the result would exceed {MAX_STRING_CHARS} characters")
        self.charge(count)

    def items(self, count: int, *, size: int | None = None) -> None:
        """Charge a sequence of ``count`` entries whose nested size (if known) is ``size``."""
        if count > MAX_SEQUENCE_ITEMS:
            raise refuse(f"the result would exceed {MAX_SEQUENCE_ITEMS} items")
        if size is not None and size > MAX_VALUE_SIZE:
            raise refuse(f"the result would hold more than {MAX_VALUE_SIZE} characters and values")
        self.charge(count if size is None else size)

    def text(self, size: int) -> None:
        """Charge a string written from values whose size is ``size`` (see ``size``)."""
        if size > MAX_STRING_CHARS:
            raise refuse(f"the text would exceed {MAX_STRING_CHARS} characters")
        self.charge(size)

    def size(self, value: Any, limit: int = MAX_VALUE_SIZE) -> int:
        """The size of ``value`` in units: characters of strings, one per number, one per
        container plus its entries (keys included), recursively. A lower bound of the length
        of its text (``str``, JSON), which is at most about 12 times longer (escapes).
        Stops counting once past ``limit`` and then returns some number above it."""
        if isinstance(value, str | bytes | bytearray):
            return len(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value.bit_length() * 3 // 10 + 1  # about its decimal digits
        if isinstance(value, _SCALARS) or not isinstance(value, _CONTAINERS):
            return 1  # ranges, generators and dates have short texts
        known = self._sizes.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        total = self._walk(value, limit)
        if total <= limit:
            self._sizes[id(value)] = (value, total)
        return total

    def _walk(self, value: Any, limit: int) -> int:
        total = 1
        if isinstance(value, dict):
            for key, entry in value.items():
                total += self.size(key, limit - total)
                total += self.size(entry, limit - total)
                if total > limit:
                    break
            return total
        for entry in value:
            total += self.size(entry, limit - total)
            if total > limit:
                break
        return total


_CURRENT: ContextVar[Budget | None] = ContextVar("linkflow_expression_budget", default=None)


def current() -> Budget:
    """The budget of the evaluation running now (outside ``begin``/``end``, a budget for
    this one operation, so an environment used on its own still applies the per-value
    bounds)."""
    budget = _CURRENT.get()
    if budget is None:
        budget = Budget()
        _CURRENT.set(budget)
    return budget


def begin() -> Token[Budget | None]:
    """Start a new evaluation: until ``end(token)``, operations charge a budget of their
    own (created on the first charge, so an evaluation that charges nothing costs one
    context-variable write). A pair of calls rather than a context manager: this runs for
    every expression of every item."""
    return _CURRENT.set(None)


def end(token: Token[Budget | None]) -> None:
    """Finish the evaluation ``begin`` started, restoring the budget that ran before."""
    _CURRENT.reset(token)


def check_int_bits(bits: int) -> None:
    """Refuse an integer result that would have more than MAX_INT_BITS bits."""
    if bits > MAX_INT_BITS:
        raise refuse(f"the number would exceed {MAX_INT_BITS} bits")
