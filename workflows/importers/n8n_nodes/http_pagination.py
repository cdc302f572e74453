"""n8n's HTTP Request pagination option (v4.1+) as http.request's ``pagination``.

n8n reads the last response as ``$response`` and counts pages in ``$pageCount`` (pages
fetched so far); LinkFlow evaluates the same expressions with ``json`` as the last
response. Mapped: "response contains next URL" (``{{ $response.<path> }}``), "update a
query parameter" with ``{{ $pageCount }}`` arithmetic (page/offset) or a value read from
the response (a cursor), completion on an empty response or on an expression of the
response, and the page limit. Anything else keeps only the first page, with a warning.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Context

_RESPONSE_PATH = re.compile(r"^=\{\{\s*\$response((?:\.[A-Za-z_]\w*|\[\d+\]|\['[^']*'\])+)\s*\}\}$")
_PAGE_COUNT = re.compile(r"^=\{\{\s*\$pageCount\s*(?:([+*])\s*(\d+))?\s*\}\}$")
# n8n fetches pages without limit unless told; LinkFlow's bound is its maximum.
UNLIMITED_PAGES = 1000


def pagination(options: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """The ``pagination`` parameter for n8n's pagination options, or None (with a
    warning) when they cannot be followed as n8n did."""
    settings = (options.get("pagination") or {}).get("pagination") or {}
    mode = settings.get("paginationMode", "off")
    if mode == "off":
        return None
    result = _mode(mode, settings)
    if result is None:
        ctx.warn("pagination is not kept: only the first page is fetched")
        return None
    complete = settings.get("paginationCompleteWhen", "responseIsEmpty")
    if complete == "other":
        stop = _response_expression(settings.get("completeExpression", ""))
        if stop is None:
            ctx.warn("pagination is not kept: its complete expression is not read")
            return None
        result["stop_when"] = stop
    elif complete != "responseIsEmpty":
        ctx.warn("pagination is not kept: completion on status codes is not read")
        return None
    if settings.get("limitPagesFetched"):
        result["max_pages"] = max(1, min(int(settings.get("maxRequests", 100)), UNLIMITED_PAGES))
    else:
        result["max_pages"] = UNLIMITED_PAGES
        ctx.warn(f"pagination stops after {UNLIMITED_PAGES} pages (n8n had no limit)")
    if settings.get("requestInterval"):
        ctx.warn("pagination's interval between requests is not kept")
    return result


def _mode(mode: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    if mode == "responseContainsNextURL":
        next_url = _response_expression(settings.get("nextURL", ""))
        return None if next_url is None else {"mode": "next_url", "next_url": next_url}
    if mode != "updateAParameterInEachRequest":
        return None
    entries = (settings.get("parameters") or {}).get("parameters") or []
    if len(entries) != 1 or entries[0].get("type", "qs") != "qs" or not entries[0].get("name"):
        return None  # one query parameter is what LinkFlow updates
    name, value = str(entries[0]["name"]), str(entries[0].get("value", ""))
    counted = _PAGE_COUNT.match(value)
    if counted:
        op, number = counted.group(1), int(counted.group(2) or 0)
        if op == "*":  # an offset: 0, n, 2n, ... counted from the second request on
            return {"mode": "increment", "parameter": name, "start": 0, "step": number or 1}
        return {"mode": "increment", "parameter": name, "start": number, "step": 1}
    cursor = _response_expression(value)
    return None if cursor is None else {"mode": "cursor", "parameter": name, "cursor": cursor}


def _response_expression(value: Any) -> str | None:
    """``={{ $response.body.next }}`` as ``{{ json.body.next }}``; None for anything else."""
    found = _RESPONSE_PATH.match(str(value or "").strip())
    return None if found is None else "{{ json" + found.group(1) + " }}"
