"""Keeping credential secrets out of what LinkFlow stores and logs.

A resolver (credentials.services.CredentialResolver) knows which secret values it handed
to nodes. While it is alive it is "active": the logging filter below redacts the secrets
of every active resolver, and the execution recorder redacts those of its execution's
resolver from each NodeRun's input, output and error.

This module imports nothing of Django: the logging configuration loads it early.
"""

import logging
import re
import threading
import weakref
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

REDACTED = "[REDACTED]"
# Shorter values ("1", "abc") would blank out ordinary data everywhere.
MIN_SECRET_LENGTH = 4


class SecretSource(Protocol):
    def used_secrets(self) -> frozenset[str]: ...


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (JSON data: dicts, lists, strings, numbers...) with every occurrence of
    each secret of at least MIN_SECRET_LENGTH characters replaced by "[REDACTED]", in
    strings at any depth and in object keys. Returns ``value`` itself when nothing matches
    the length rule; never changes its argument."""
    pattern = _pattern(frozenset(s for s in secrets if len(s) >= MIN_SECRET_LENGTH))
    return value if pattern is None else _walk(value, pattern)


@lru_cache(maxsize=512)
def _pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    if not secrets:
        return None
    # Longest first, so a secret containing another is replaced whole.
    ordered = sorted(secrets, key=len, reverse=True)
    return re.compile("|".join(re.escape(s) for s in ordered))


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
    """The secrets the running execution's resolver handed to its nodes so far."""
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
        secrets = active_secrets()
        if not secrets:
            return True
        message = record.getMessage()
        redacted = redact(message, secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True
