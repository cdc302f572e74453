"""data.html: extract text, HTML or attributes from an HTML document by CSS selector.

Selectors come from users, so their cost is bounded like an expression's: the document
is at most MAX_HTML_CHARS, a selector at most MAX_SELECTOR_CHARS, at most MAX_MATCHES
elements are taken per selector, and matching stops with an error once the node's time
is up (checked per matched element; soupsieve matches in Python, without regular-
expression backtracking, so each step is short).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

import soupsieve
from bs4 import BeautifulSoup, Tag

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.data import FIELD_NAME_SCHEMA, get_path, set_path
from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

MAX_HTML_CHARS = 5_000_000
MAX_SELECTOR_CHARS = 500
MAX_MATCHES = 10_000
DEFAULT_SECONDS = 10.0


class ExtractHtml(NodeType):
    """Extracts values from HTML by CSS selectors."""

    type = "data.html"
    pure = True
    label = "Extract from HTML"
    description = (
        "Reads an HTML string from a field of each item and extracts the text, inner HTML or an "
        "attribute of the elements a CSS selector matches."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "field": {
                **FIELD_NAME_SCHEMA,
                "description": "The field holding the HTML.",
                "default": "body",
            },
            "extract": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "properties": {
                        "key": FIELD_NAME_SCHEMA,
                        "selector": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_SELECTOR_CHARS,
                        },
                        "value": {
                            "description": "text, html, or attribute (named in 'attribute').",
                            "enum": ["text", "html", "attribute"],
                            "default": "text",
                        },
                        "attribute": {"type": "string", "maxLength": 100},
                        "all": {"type": "boolean", "default": False},
                    },
                    "required": ["key", "selector"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["extract"],
        "additionalProperties": False,
    }

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Every selector compiles."""
        problems = []
        for n, spec in enumerate(params.get("extract") or []):
            try:
                soupsieve.compile(spec.get("selector", ""))
            except (soupsieve.SelectorSyntaxError, TypeError, ValueError) as error:
                problems.append((f"params.extract.{n}.selector", f"Bad CSS selector: {error}"))
        return problems

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Every item with one field per extraction: a string (or null when nothing
        matched), or a list with ``all``. Raises NodeError for HTML over the size bound,
        a bad selector, or matching past the node's time."""
        return {"main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]}

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        field = ctx.params.get("field", "body")
        html = get_path(item, field)
        if not isinstance(html, str) or len(html) > MAX_HTML_CHARS:
            raise NodeError(
                f"Field '{field}' must hold HTML text of at most {MAX_HTML_CHARS} characters.",
                param="params.field",
                item=index,
            )
        deadline = time.monotonic() + (ctx.time_left(default=DEFAULT_SECONDS) or DEFAULT_SECONDS)
        soup = BeautifulSoup(html, "html.parser")
        out = dict(item)
        for n, spec in enumerate(ctx.params["extract"]):
            values = [_value(tag, spec) for tag in _matches(soup, spec, deadline, n)]
            set_path(
                out, spec["key"], values if spec.get("all") else (values[0] if values else None)
            )
        return [out]


def _matches(soup: BeautifulSoup, spec: dict[str, Any], deadline: float, n: int) -> list[Tag]:
    limit = MAX_MATCHES if spec.get("all") else 1
    try:
        selector = soupsieve.compile(spec["selector"])
    except soupsieve.SelectorSyntaxError as error:
        raise NodeError(
            f"Bad CSS selector: {error}", param=f"params.extract.{n}.selector"
        ) from None
    found = []
    for tag in selector.iselect(soup, limit=limit):
        found.append(tag)
        if time.monotonic() > deadline:
            raise NodeError(
                "Selector matching took longer than the node's time.", param=f"params.extract.{n}"
            )
    return found


def _value(tag: Tag, spec: dict[str, Any]) -> Any:
    kind = spec.get("value", "text")
    if kind == "html":
        return tag.decode_contents()
    if kind == "attribute":
        value = tag.get(spec.get("attribute", ""))
        return " ".join(value) if isinstance(value, list) else value
    return tag.get_text(" ", strip=True)
