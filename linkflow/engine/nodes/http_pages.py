"""http.request's pagination: follow pages until a stop condition, the end, or max_pages.

The next page is found from the last response (item ``{"status", "headers", "body"}``):

- ``link_header``: the ``Link`` header's ``rel="next"`` URL (GitHub, many REST APIs);
- ``next_url``: an expression on the response, e.g. ``{{ json.body.next }}``;
- ``increment``: a query parameter counted up from ``start`` by ``step`` (page, offset);
- ``cursor``: a query parameter set to an expression on the response (``{{ json.body.cursor }}``).

It stops when there is no next URL or cursor, when ``stop_when`` (an expression on the
last response) is true, for ``increment`` also at a page whose body is empty, and at
``max_pages`` (with a note on the node's run). Every page is one request through the same
client, so the address policy checks every page's URL (and every redirect) like the first.
Each page is stored before the next is asked for (engine/loops.PageLog): a resumed or
retried node fetches only the pages it has not stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx

from linkflow.engine.errors import NodeError

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext
    from linkflow.engine.nodes.http import _Request

MODES = ("link_header", "next_url", "increment", "cursor")
DEFAULT_MAX_PAGES = 100
MAX_PAGES = 1000

PAGINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Follow pages and emit one response item per page.",
    "properties": {
        "mode": {"enum": list(MODES)},
        "next_url": {"type": "string", "minLength": 1},
        "parameter": {"type": "string", "minLength": 1},
        "start": {"type": "integer", "default": 1},
        "step": {"type": "integer", "minimum": 1, "default": 1},
        "cursor": {"type": "string", "minLength": 1},
        "stop_when": {"type": "string", "minLength": 1},
        "max_pages": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGES,
            "default": DEFAULT_MAX_PAGES,
        },
    },
    "required": ["mode"],
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"mode": {"const": "next_url"}}}, "then": {"required": ["next_url"]}},
        {
            "if": {"properties": {"mode": {"const": "increment"}}},
            "then": {"required": ["parameter"]},
        },
        {
            "if": {"properties": {"mode": {"const": "cursor"}}},
            "then": {"required": ["parameter", "cursor"]},
        },
    ],
}

# Fetch one request and return its response item (http.py's exchange and item).
Fetch = Callable[["_Request"], dict[str, Any]]


def follow_pages(
    ctx: NodeContext, index: int, first: _Request, fetch: Fetch
) -> list[dict[str, Any]]:
    """Every page's response item for input item ``index``, in order, starting with the
    pages stored by an earlier attempt (not fetched again)."""
    options = dict(ctx.params["pagination"])
    max_pages = int(options.get("max_pages", DEFAULT_MAX_PAGES))
    pages = ctx.pages.stored(index) if ctx.pages is not None else []
    request: _Request | None = first
    if pages:
        request = _next(ctx, options, first, pages)
    while request is not None:
        if len(pages) >= max_pages:
            ctx.note(f"Stopped after max_pages ({max_pages}) pages; there were more.")
            break
        started_at = ctx.run.clock()
        page = fetch(request)
        pages.append(page)
        if ctx.pages is not None:
            ctx.pages.store(index, page, started_at=started_at)
        request = _next(ctx, options, first, pages)
    return pages


def _next(
    ctx: NodeContext, options: dict[str, Any], first: _Request, pages: list[dict[str, Any]]
) -> _Request | None:
    """The request of the page after ``pages``, or None when the last one ends the list."""
    last = pages[-1]
    stop_when = options.get("stop_when")
    if stop_when is not None and _truthy(
        ctx.evaluate(stop_when, current=last, path="params.pagination.stop_when")
    ):
        return None
    mode = options["mode"]
    if mode == "link_header":
        return _at_url(first, _link_next(last))
    if mode == "next_url":
        found = ctx.evaluate(options["next_url"], current=last, path="params.pagination.next_url")
        return _at_url(first, _joined(last, found))
    if mode == "increment":
        if _empty(last.get("body")):
            return None
        value = int(options.get("start", 1)) + int(options.get("step", 1)) * len(pages)
        return replace(first, query={**first.query, options["parameter"]: value})
    cursor = ctx.evaluate(options["cursor"], current=last, path="params.pagination.cursor")
    if cursor in (None, "", [], {}):
        return None
    if not isinstance(cursor, str | int | float) or isinstance(cursor, bool):
        raise NodeError(
            "The pagination cursor must be a string or a number.", param="params.pagination.cursor"
        )
    return replace(first, query={**first.query, options["parameter"]: cursor})


def _at_url(first: _Request, url: str | None) -> _Request | None:
    # The next URL carries its own query: the first request's is not added to it again.
    return None if not url else replace(first, url=url, query={})


def _link_next(page: dict[str, Any]) -> str | None:
    header = (page.get("headers") or {}).get("link")
    if not header:
        return None
    links = httpx.Response(200, headers={"link": header}).links
    target = links.get("next", {}).get("url")
    return _joined(page, target)


def _joined(page: dict[str, Any], found: Any) -> str | None:
    """``found`` as an absolute URL, relative ones against the page's own URL."""
    if found in (None, ""):
        return None
    if not isinstance(found, str):
        raise NodeError("The next page's URL must be a string.", param="params.pagination")
    base = page.get("url")
    return str(httpx.URL(base).join(found)) if isinstance(base, str) else found


def _empty(body: Any) -> bool:
    return body in (None, "", [], {})


def _truthy(value: Any) -> bool:
    return bool(value) and value != "false"
