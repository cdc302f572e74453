"""Large NodeRun payloads live in the default storage; the row keeps a small reference.

A NodeRun's input and output are stored inline unless their compact JSON is larger than
``settings.LINKFLOW_PAYLOAD_INLINE_MAX_BYTES``. Then the JSON goes to
``payloads/<execution id>/<name>.json`` in ``default_storage`` (the file system when
embedded, an S3-compatible bucket when distributed) and the row holds
``{"$ref": key, "size": bytes, "items": count}``.

References are only ever produced here and kept as a whole NodeRun column, never inside
items, so their shape is checked strictly: an item a user built cannot pass for one.
The storage helpers at the bottom are shared with ``executions/running/files.py``.
"""

import contextlib
import json
import os
import re
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

PAYLOADS_PREFIX = "payloads"
# Built once: json.dumps() with non-default options builds an encoder per call, which
# measured ~25 % of the cost of encoding a typical 20-item output.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_REF_KEYS = frozenset({"$ref", "size", "items"})
# Exactly the keys payload_store writes (a storage may add a suffix before ".json").
_REF_KEY = re.compile(r"payloads/[A-Za-z0-9-]+/(?!\.)[A-Za-z0-9._-]+\.json")
_EXECUTION_ID = re.compile(r"[A-Za-z0-9-]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PayloadMissing(LookupError):
    """A reference points at an object that is no longer in storage (cleaned up or lost)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"The stored payload {key!r} does not exist.")
        self.key = key


def payload_store(*, execution_id: str, name: str, data: Any) -> Any:
    """Return ``data`` itself when its compact JSON fits inline, else store it and return a
    reference ``{"$ref": key, "size": bytes, "items": len(data) if a list}``.

    ``name`` (like ``"<node_id>-<attempt>-output"``) is reduced to a safe file name.
    Storing a name twice (a worker redoing an attempt) gets a new key on the file system
    and replaces the object on S3; the returned reference always names what was written.
    Raises TypeError/ValueError for data JSON cannot encode, ValueError for an execution
    id that is not a UUID-like token, and whatever the storage raises when a write fails.
    """
    text = _ENCODER.encode(data)
    if "\\u0000" in text or (not text.isascii() and not _encodable(text)):
        # PostgreSQL's jsonb refuses NUL and lone surrogates: a node that emitted them (a
        # binary HTTP body, say) must not leave its execution unrecordable.
        data = storable(data)
        text = _ENCODER.encode(data)
    limit = settings.LINKFLOW_PAYLOAD_INLINE_MAX_BYTES
    # str.isascii() is O(1) on CPython, so the usual ASCII payload is measured for free.
    if text.isascii() and len(text) <= limit:
        return data
    raw = text.encode()
    if len(raw) <= limit:
        return data
    key = f"{PAYLOADS_PREFIX}/{execution_segment(execution_id)}/{storage_segment(name)}.json"
    ref: dict[str, Any] = {"$ref": default_storage.save(key, ContentFile(raw)), "size": len(raw)}
    if isinstance(data, list):
        ref["items"] = len(data)
    return ref


def storable(value: Any) -> Any:
    """``value`` with NUL characters and lone surrogates in its strings (and keys)
    replaced by U+FFFD, the only JSON text PostgreSQL cannot store."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {_clean(str(key)): storable(item) for key, item in value.items()}
    return value


def _clean(text: str) -> str:
    if "\x00" not in text and _encodable(text):
        return text
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def payload_is_ref(value: Any) -> bool:
    """True when ``value`` is a reference made by payload_store (cheap for anything else)."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("$ref"), str)
        and isinstance(value.get("size"), int)
        and value.keys() <= _REF_KEYS
        and _REF_KEY.fullmatch(value["$ref"]) is not None
    )


def payload_load(value: Any) -> Any:
    """Return ``value`` itself, or, for a reference, the data it points at.

    Raises PayloadMissing when the object is gone (e.g. removed by payloads_delete),
    json.JSONDecodeError when it is not JSON, and whatever the storage raises otherwise.
    """
    if not payload_is_ref(value):
        return value
    key = value["$ref"]
    try:
        with default_storage.open(key, "rb") as stored:
            raw = stored.read()
    except FileNotFoundError:
        raise PayloadMissing(key) from None
    return json.loads(raw)


def payloads_delete(*, execution_id: str) -> int:
    """Remove every payload stored for the execution; return how many objects went.

    References to them then raise PayloadMissing. Idempotent: an execution without
    payloads gives 0. Raises ValueError for a malformed execution id.
    """
    return storage_delete_tree(f"{PAYLOADS_PREFIX}/{execution_segment(execution_id)}")


# --- storage helpers, shared with files.py ------------------------------------------------
def execution_segment(execution_id: str) -> str:
    """The execution id as one key segment; ValueError unless it is a plain token.

    Validated, not cleaned: a blank or mangled id would put one execution's objects under
    another's prefix, and deleting it would take the wrong objects (or all of them).
    """
    segment = str(execution_id)
    if not _EXECUTION_ID.fullmatch(segment):
        raise ValueError(f"Not an execution id: {execution_id!r}.")
    return segment


def storage_segment(name: str, *, max_length: int = 100, fallback: str = "payload") -> str:
    """``name`` as one safe key segment: no separators, no leading dot, bounded length.

    A short extension survives truncation so the storage can still guess the content type.
    """
    segment = _UNSAFE.sub("_", name).lstrip("._") or fallback
    if len(segment) <= max_length:
        return segment
    stem, dot, extension = segment.rpartition(".")
    if dot and stem and len(extension) <= 10:
        return f"{stem[: max_length - len(extension) - 1]}.{extension}"
    return segment[:max_length]


def storage_delete_tree(prefix: str) -> int:
    """Delete every object under ``prefix`` in the default storage; return the count."""
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:  # the file system has no such directory: nothing was stored
        return 0
    count = sum(storage_delete_tree(f"{prefix}/{directory}") for directory in directories)
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
    _remove_empty_directory(prefix)
    return count + len(files)


def _remove_empty_directory(prefix: str) -> None:
    # Object stores have no directories; on a file system one empty directory per execution
    # would otherwise pile up for ever.
    try:
        path = default_storage.path(prefix)
    except NotImplementedError:
        return
    with contextlib.suppress(OSError):
        os.rmdir(path)
