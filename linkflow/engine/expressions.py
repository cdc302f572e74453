"""``{{ }}`` expressions inside node parameters, evaluated in a Jinja2 sandbox (never eval).

A string that is exactly one expression (whitespace around it allowed) yields the
expression's native value: ``"{{ json.total > 100 }}"`` gives ``True``. A string mixing text
and expressions yields a string; non-string values are written as JSON (``true``, ``null``,
``{"a": 1}``) because parameters end up in URLs and JSON bodies, not Python programs.
Values produced are JSON data: tuples and iterators become lists, dates become ISO strings,
anything else (functions, undefined names) is an error. A missing field reads as empty
(sandbox.Empty): null as a value, nothing inside a text.

Every text is split into literal text and expressions once and cached, so evaluating the
same parameter for many items only runs the compiled code. Each evaluation of a text gets
its own Budget (budget.py): the cost model every operation of the sandbox charges.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from jinja2.environment import Template
from jinja2.exceptions import TemplateError
from jinja2.runtime import Context, Undefined
from jinja2.utils import consume

from linkflow.engine import budget as cost
from linkflow.engine import js_compat, js_filter
from linkflow.engine.budget import MAX_INT_BITS, MAX_STRING_CHARS, refuse
from linkflow.engine.errors import ExpressionBoundError, ExpressionError
from linkflow.engine.sandbox import BoundedSandbox, Empty

MAX_EXPRESSION_CHARS = 10_000
MAX_RESULT_CHARS = MAX_STRING_CHARS
MAX_RESULT_DEPTH = 64
# Longer texts are still evaluated, just not kept in the cache, to bound its memory.
_CACHED_TEXT_CHARS = 10_000
# How many "}}" to try as the end of one expression ("{{ {'a': {'b': 1}} }}" needs two).
_MAX_CLOSING_TRIES = 20

_ENV = BoundedSandbox()
# The js_* functions expressions imported from n8n call to keep JavaScript's meaning.
js_compat.install(_ENV)
js_filter.install(_ENV)


class _Compiled:
    """One expression's compiled code, called the way Jinja's TemplateExpression does
    but without its cost per call: that copies the names, then merges them with the
    environment's globals read through a ChainMap (iterating one is slow: ~20 us, most of
    an expression's evaluation) and builds a set of the globals' names for the context.
    Here the globals are a plain dict copied once, at compile time, and the context gets
    one merged dict of them and the names. The code run is Jinja's own, sandbox included.
    """

    __slots__ = ("globals", "name", "render")

    def __init__(self, template: Template) -> None:
        self.render = template.root_render_func
        self.name = template.name
        self.globals = dict(template.globals)

    def __call__(self, names: Mapping[str, object]) -> object:
        # Names shadow globals, as in Jinja's own context; no blocks in an expression.
        context = Context(_ENV, {**self.globals, **names}, self.name, {})
        consume(self.render(context))
        return context.vars["result"]


@dataclass(frozen=True, slots=True)
class _Expression:
    offset: int  # of the opening "{{" in the parameter string
    compiled: _Compiled
    source: str = ""  # the text between "{{" and "}}", for error messages


@dataclass(frozen=True, slots=True)
class _Template:
    parts: tuple[str | _Expression, ...]

    def single_expression(self) -> _Expression | None:
        """The expression if the text is one expression with only whitespace around it."""
        expressions = [part for part in self.parts if isinstance(part, _Expression)]
        texts = [part for part in self.parts if isinstance(part, str)]
        if len(expressions) == 1 and not "".join(texts).strip():
            return expressions[0]
        return None


def evaluate(value: object, *, names: Mapping[str, object], path: str = "") -> object:
    """Evaluate every expression in ``value``, walking into lists and dict values.

    ``names`` are the variables expressions can use (``json``, ``items``, ``nodes``,
    ``trigger``, ``execution``, ``now``). ``path`` names where ``value`` sits
    ("params.fields"); it prefixes the ``param`` of errors. Values without ``{{`` come back
    unchanged (containers are copied). Raises ExpressionError, with ``param`` and
    ``position`` set, for a syntax error, an undefined name or attribute, a sandbox
    violation, a runtime error, or a result that is not JSON data or too large.
    """
    if isinstance(value, str):
        return _evaluate_text(value, names, path) if "{{" in value else value
    if isinstance(value, dict):
        return {
            key: evaluate(item, names=names, path=f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            evaluate(item, names=names, path=f"{path}[{index}]") for index, item in enumerate(value)
        ]
    return value


def syntax_errors(value: object, *, path: str = "") -> list[ExpressionError]:
    """Every expression in ``value`` that does not compile, as errors with param/position.

    Lets validation reject broken expressions when a workflow is saved. Never raises.
    """
    if isinstance(value, str):
        if "{{" not in value:
            return []
        try:
            _parse(value)
        except ExpressionError as error:
            return [error.locate(param=path or None)]
        return []
    if isinstance(value, dict):
        pairs = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        pairs = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    else:
        return []
    return [error for sub_path, item in pairs for error in syntax_errors(item, path=sub_path)]


def _evaluate_text(text: str, names: Mapping[str, object], path: str) -> object:
    try:
        template = _parse(text)
        single = template.single_expression()
        token = cost.begin()
        try:
            return _run(single, names) if single is not None else _render(template, names)
        finally:
            cost.end(token)
    except ExpressionError as error:
        error.locate(param=path or None)
        raise


def _parse(text: str) -> _Template:
    if len(text) <= _CACHED_TEXT_CHARS:
        return _parse_cached(text)
    return _parse_text(text)


def _parse_text(text: str) -> _Template:
    parts: list[str | _Expression] = []
    cursor = 0
    while (start := text.find("{{", cursor)) != -1:
        if start > cursor:
            parts.append(text[cursor:start])
        end, compiled = _compile_from(text, start)
        source = text[start + 2 : end].strip()
        parts.append(_Expression(offset=start, compiled=compiled, source=source))
        cursor = end + 2
    if cursor < len(text):
        parts.append(text[cursor:])
    return _Template(parts=tuple(parts))


_parse_cached = lru_cache(maxsize=2048)(_parse_text)


def _compile_from(text: str, start: int) -> tuple[int, _Compiled]:
    """Find the "}}" closing the expression opened at ``start`` and compile what is between.

    The first "}}" that closes a valid expression wins, so "}}" inside a dict literal or a
    string works. Returns the offset of that "}}".
    """
    end = text.find("}}", start + 2)
    if end == -1:
        raise ExpressionError("Expression is not closed: '{{' without '}}'.", position=start)
    first_error: ExpressionError | None = None
    for _ in range(_MAX_CLOSING_TRIES):
        try:
            return end, _compile(text[start + 2 : end].strip())
        except ExpressionError as error:
            first_error = first_error or error
        end = text.find("}}", end + 1)
        if end == -1:
            break
    assert first_error is not None  # the loop ran at least once
    first_error.position = start
    raise first_error


@lru_cache(maxsize=4096)
def _compile(source: str) -> _Compiled:
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"Expression is longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        # The template Jinja compiles the expression into (its one statement assigns
        # ``result``); its TemplateExpression wrapper is the costly part left out.
        return _Compiled(_ENV.compile_expression(source, undefined_to_none=False)._template)
    except TemplateError as error:
        raise ExpressionError(f"Syntax error in expression: {error.message}") from error
    except Exception as error:  # deep nesting can overflow the parser or compiler
        raise ExpressionError(f"Expression cannot be compiled: {_describe(error)}") from error


def _run(expression: _Expression, names: Mapping[str, object], *, in_text: bool = False) -> object:
    """The expression's value as JSON data (inside a text: its text, "" when empty)."""
    try:
        value = expression.compiled(names)
        if in_text and isinstance(value, Empty):
            return ""
        result = _to_json(value, budget=_Budget(), depth=0)
        return _as_text(result) if in_text else result
    except ExpressionBoundError as error:
        error.position = expression.offset
        raise
    except ExpressionError as error:
        error.position = expression.offset
        error.expression = error.expression or expression.source
        raise
    # User-written code can raise anything (TypeError, ZeroDivisionError ...); all of it
    # is the expression's fault, not the engine's.
    except Exception as error:
        raise ExpressionError(
            _describe(error), position=expression.offset, expression=expression.source
        ) from error


def _render(template: _Template, names: Mapping[str, object]) -> str:
    pieces = [
        part if isinstance(part, str) else str(_run(part, names, in_text=True))
        for part in template.parts
    ]
    text = "".join(pieces)
    if len(text) > MAX_RESULT_CHARS:
        raise ExpressionBoundError(f"The result is longer than {MAX_RESULT_CHARS} characters.")
    return text


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else jsonlib.dumps(value, ensure_ascii=False)


def _describe(error: Exception) -> str:
    if isinstance(error, TemplateError) and error.message:
        return error.message
    return f"{type(error).__name__}: {error}"


class _Budget:
    """Characters and values a result may still contain; stops runaway results early."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_RESULT_CHARS

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise ExpressionBoundError(f"The result is larger than {MAX_RESULT_CHARS} characters.")


def _to_json(value: Any, *, budget: _Budget, depth: int) -> object:
    if isinstance(value, Empty):
        budget.spend(1)
        return None
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # raises the undefined/sandbox error it carries
    if value is None or isinstance(value, bool | float):
        budget.spend(1)
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:  # it could not even be written as JSON
            raise refuse(f"the number would exceed {MAX_INT_BITS} bits")
        budget.spend(1)
        return value
    if isinstance(value, str):
        budget.spend(len(value))
        return str(value)  # drops a Markup subclass
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if depth >= MAX_RESULT_DEPTH:
        raise ExpressionError(f"The result is nested deeper than {MAX_RESULT_DEPTH} levels.")
    if isinstance(value, Mapping):
        budget.spend(1)
        return {
            str(key): _to_json(item, budget=budget, depth=depth + 1) for key, item in value.items()
        }
    if isinstance(value, Iterable) and not isinstance(value, bytes | bytearray):
        budget.spend(1)  # lists, tuples, sets, ranges, generators from filters, dict views
        return [_to_json(item, budget=budget, depth=depth + 1) for item in value]
    raise ExpressionError(
        f"The expression produced a value of type {type(value).__name__}, which is not JSON data."
    )
