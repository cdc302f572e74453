"""Keeping credential secrets out of what LinkFlow stores, shows and logs (best effort).

A resolver (credentials.services.CredentialResolver) knows which secret values it handed
to nodes, and those its execution inherited from a sub-workflow's caller. While it is
alive it is "active": the logging filter below redacts the secrets of every active
resolver, and the execution recorder redacts those of its execution's resolver from each
NodeRun's input, output and error (and so from payload files, events and webhook answers).

Each secret is looked for as itself and in the forms it commonly takes on its way through
HTTP and code (``derived_forms``): base64 (standard and URL-safe, padded or not, and
inside a longer base64 text such as basic auth's ``user:secret``), percent-encoding,
hex and JSON escaping. A transformation outside that list (reversing, splitting,
encrypting the value) is not caught: docs/security/redaction.md says what is.

This module imports nothing of Django: the logging configuration loads it early.
"""

import base64
import json
import logging
import re
import threading
import weakref
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
# Shorter values ("1", "abc") would blank out ordinary data everywhere, and redacting
# them would hide nothing: three characters are guessed faster than they are read.
MIN_SECRET_LENGTH = 4
# A secret met inside a longer base64 text ("user:secret" in basic auth) shows as a run
# of base64 characters that depends on its offset; a run this short would match random
# base64 data (an image, a hash) by chance, so shorter runs are not looked for.
MIN_EMBEDDED_BASE64 = 12
# Percent-encoding variants: RFC 3986 (Python's quote), keeping "/" (paths) and
# JavaScript's encodeURIComponent, which leaves !'()* alone.
_PERCENT_SAFE = ("", "/", "!'()*")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
# Compact and not ASCII-only: the text the redactor scans before walking a value.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


class SecretSource(Protocol):
    def used_secrets(self) -> frozenset[str]: ...


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (JSON data: dicts, lists, strings, numbers...) with every occurrence of
    each secret of at least MIN_SECRET_LENGTH characters, or of one of its derived forms,
    replaced by "[REDACTED]", in strings at any depth and in object keys. Returns
    ``value`` itself when nothing matches; never changes its argument."""
    redactor = redactor_for(frozenset(secrets))
    return value if redactor is None else redactor.redact(value)


def derived_forms(secret: str) -> frozenset[str]:
    """The secret and the forms it commonly takes when a node or a server passes it on:
    base64 (standard and URL-safe, with and without padding, and the runs that stand for
    it inside a longer base64 text, whatever its offset), percent-encoding (upper- and
    lower-case escapes, ``+`` for spaces), hex (both cases) and JSON escaping. Empty for
    a secret shorter than MIN_SECRET_LENGTH."""
    if len(secret) < MIN_SECRET_LENGTH:
        return frozenset()
    raw = secret.encode("utf-8", "surrogatepass")
    forms = {secret, raw.hex(), raw.hex().upper(), *_json_forms(secret)}
    for encoded in _base64_forms(raw):
        forms.add(encoded)
        forms.update(_percent_forms(encoded))
    forms.update(_percent_forms(secret))
    return frozenset(forms)


def _json_forms(text: str) -> set[str]:
    escaped = {json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    # Some encoders (PHP's, by default) escape "/" too.
    return escaped | {form.replace("/", "\\/") for form in escaped}


def _percent_forms(text: str) -> set[str]:
    forms = {quote(text, safe=safe) for safe in _PERCENT_SAFE} | {quote_plus(text, safe="")}
    lower = {_PERCENT_ESCAPE.sub(lambda m: m.group().lower(), form) for form in forms}
    return (forms | lower) - {text}


def _base64_forms(raw: bytes) -> set[str]:
    padded = base64.b64encode(raw).decode("ascii")
    forms = {padded, padded.rstrip("=")}
    for offset in range(3):
        # Encoded after ``offset`` unknown bytes and before unknown ones: keep only the
        # characters made of the secret's bits alone.
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        run = encoded[(offset * 8 + 5) // 6 : ((offset + len(raw)) * 8) // 6]
        if len(run) >= MIN_EMBEDDED_BASE64:
            forms.add(run)
    urlsafe = {form.replace("+", "-").replace("/", "_") for form in forms}
    return forms | urlsafe


class Redactor:
    """Redaction for one set of secrets, its derived forms precomputed once.

    Most values hold no secret, so ``redact`` first looks for the forms in the value's
    compact JSON text (one C-speed encoding and a substring search per form) and walks
    the value only when one occurs. Each form is looked for as it appears inside JSON
    text (escaped), so a form in any string or key of the value is always found.
    """

    def __init__(self, secrets: frozenset[str]) -> None:
        forms = frozenset().union(*(derived_forms(s) for s in secrets))
        # Longest first, so a form containing another is replaced whole.
        ordered = sorted(forms, key=len, reverse=True)
        self.forms: tuple[str, ...] = tuple(ordered)
        self.pattern = re.compile("|".join(re.escape(form) for form in ordered))
        self._in_json = tuple({json.dumps(f, ensure_ascii=False)[1:-1] for f in ordered})

    def redact(self, value: Any) -> Any:
        """See ``redact``."""
        if isinstance(value, str):
            return self.redact_text(value)
        try:
            text = _ENCODER.encode(value)
        except (TypeError, ValueError):  # not JSON data (a tuple key, a huge int): walk it
            return _walk(value, self.pattern)
        if not any(form in text for form in self._in_json):
            return value
        return _walk(value, self.pattern)

    def redact_text(self, text: str) -> str:
        """``text`` with every form replaced by "[REDACTED]" (``text`` itself if none)."""
        if not any(form in text for form in self.forms):
            return text
        return self.pattern.sub(REDACTED, text)


@lru_cache(maxsize=512)
def redactor_for(secrets: frozenset[str]) -> Redactor | None:
    """The (cached) Redactor of ``secrets``; None when none is long enough to redact."""
    usable = frozenset(s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH)
    return Redactor(usable) if usable else None


def _walk(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, dict):
        return {_walk(k, pattern): _walk(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, pattern) for v in value]
    return value


# --- Active resolvers ------------------------------------------------------------------
_lock = threading.Lock()
_active: "weakref.WeakSet[Any]" = weakref.WeakSet()
_by_execution: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()


def track(source: SecretSource, *, execution_id: str | None = None) -> None:
    """Make ``source``'s secrets redacted from logs (and from its execution's records)
    until it is garbage-collected, i.e. until its execution's run is over."""
    with _lock:
        _active.add(source)
        if execution_id is not None:
            _by_execution[execution_id] = source


def active_secrets() -> frozenset[str]:
    """The secrets handed out by every resolver still alive in this process."""
    with _lock:
        sources = list(_active)
    if not sources:
        return frozenset()
    return frozenset().union(*(s.used_secrets() for s in sources))


def execution_secrets(execution_id: object) -> frozenset[str]:
    """The secrets the running execution's resolver handed to its nodes so far, and
    those the execution inherited from its caller."""
    with _lock:
        source = _by_execution.get(str(execution_id))
    return source.used_secrets() if source is not None else frozenset()


def redact_execution(execution_id: object, value: Any) -> Any:
    """``value`` with the secrets used by the execution so far redacted (see ``redact``)."""
    secrets = execution_secrets(execution_id)
    return redact(value, secrets) if secrets else value


class SecretFilter(logging.Filter):
    """A logging filter (for handlers) that redacts active resolvers' secrets from each
    record's message and traceback. Costs one empty-set check while none are active."""

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = redactor_for(active_secrets())
        if redactor is None:
            return True
        message = record.getMessage()
        redacted = redactor.redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.redact_text(record.stack_info)
        return True
