"""Which response headers a workflow may set on its webhook reply (``webhook.respond``).

What a workflow answers is written by whoever can edit it, and it is served from a
LinkFlow host: a header that sets state in the visitor's browser (``Set-Cookie``,
``Clear-Site-Data``), sends it elsewhere (``Location``, ``Refresh``, ``Link``), loosens the
sandbox LinkFlow puts every reply in (CSP, ``Access-Control-*``, HSTS) or talks to the
proxy in front of LinkFlow (``X-Accel-Redirect``, ``X-Sendfile``) must never pass. So the
rule is an allowlist, not a list of the bad ones:

- the representation headers in ``ALLOWED_HEADERS`` (content type, disposition, language,
  caching and validators, ``Retry-After``);
- custom ``X-`` headers (``X-`` then letters, digits and ``-``), except the names and
  prefixes in ``RESERVED_X_PREFIXES``, which browsers or proxies act on.

Everything else is refused. The same rule is applied when a workflow is saved (a literal
header name; refused with a 400 naming the node and field) and when it runs (a name
computed by an expression; dropped, with a note on the node's run).
"""

from __future__ import annotations

import re

ALLOWED_HEADERS = frozenset(
    {
        "content-type",
        "content-disposition",
        "content-language",
        "cache-control",
        "expires",
        "etag",
        "last-modified",
        "retry-after",
    }
)
# X- names a browser, a proxy or LinkFlow itself gives a meaning to.
RESERVED_X_PREFIXES = (
    "x-frame-options",
    "x-content-type-options",
    "x-xss-protection",
    "x-dns-prefetch-control",
    "x-permitted-cross-domain-policies",
    "x-download-options",
    "x-ua-compatible",
    "x-accel-",  # nginx: internal redirects, buffering, rate
    "x-sendfile",  # Apache, lighttpd: serve a file from the server's disk
    "x-lighttpd-",
    "x-litespeed-",
    "x-reproxy-",  # perlbal: fetch another URL
    "x-forwarded-",
    "x-real-ip",
    "x-csrf",
    "x-linkflow-",
)
MAX_VALUE_CHARS = 4096
_CUSTOM = re.compile(r"x-[a-z0-9-]*[a-z0-9]")
# A value holding a line break or NUL would split or break the response.
_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_name_refusal(name: str) -> str | None:
    """Why a workflow may not set the header ``name`` (any case), or None if it may."""
    lowered = name.lower()
    if lowered in ALLOWED_HEADERS:
        return None
    if _CUSTOM.fullmatch(lowered) and not lowered.startswith(RESERVED_X_PREFIXES):
        return None
    return (
        f"A webhook reply may not set the header '{name}': allowed are "
        "Content-Type, Content-Disposition, Content-Language, Cache-Control, Expires, ETag, "
        "Last-Modified, Retry-After and custom X- headers (not X-Frame-Options and others "
        "a browser or proxy acts on)."
    )


def header_value_refusal(name: str, value: str) -> str | None:
    """Why ``value`` cannot be sent as the header ``name``, or None if it can."""
    if _UNSENDABLE.search(value):
        return f"The value of header '{name}' holds a line break or control character."
    if len(value) > MAX_VALUE_CHARS:
        return f"The value of header '{name}' is longer than {MAX_VALUE_CHARS} characters."
    return None


def reply_headers_split(headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``(kept, dropped)``: the headers a reply may carry, and the others with the reason
    each was dropped. Never raises."""
    kept: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name, value in headers.items():
        reason = header_name_refusal(name) or header_value_refusal(name, value)
        if reason is None:
            kept[name] = value
        else:
            dropped[name] = reason
    return kept, dropped
