"""Files that nodes produce (downloads, attachments), kept in the default storage.

``StorageFileStore`` is the host side of the engine's FileStore protocol: a node hands over
bytes and puts the returned ``{"$file": key, "name", "size", "content_type"}`` in its
items. ``file_open`` reads the bytes back (a download view, a node uploading it onward).
Unlike payload references, file references travel inside items, which users and code
nodes can write: a reference is therefore only trusted within the execution it names.
"""

import re
import uuid
from typing import Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from executions.running.payloads import execution_segment, storage_delete_tree, storage_segment

FILES_PREFIX = "files"
_FILE_KEY = re.compile(r"files/([A-Za-z0-9-]+)/(?!\.)[A-Za-z0-9._-]+")


class FileMissing(LookupError):
    """The referenced file is not in storage, or not one of the execution asked about."""

    def __init__(self, key: str) -> None:
        super().__init__(f"The stored file {key!r} does not exist.")
        self.key = key


# Django's File classes are generic only in the stubs: not subscriptable at run time.
class _TypedContent(ContentFile):  # type: ignore[type-arg]
    """Bytes with a content type; S3Storage stores it as the object's Content-Type."""

    def __init__(self, content: bytes, *, content_type: str) -> None:
        super().__init__(content)
        self.content_type = content_type


class StorageFileStore:
    """The FileStore of one execution: files go to ``files/<execution id>/<uuid>-<name>``."""

    def __init__(self, *, execution_id: str) -> None:
        """Raises ValueError for a malformed execution id."""
        self.execution_id = execution_segment(execution_id)

    def save(self, *, name: str, content: bytes, content_type: str) -> dict[str, Any]:
        """Store ``content`` under a fresh key; return the reference for the node's item.

        The uuid keeps two files of the same name apart; ``name`` in the reference is the
        one given (for display and download), only the key uses a sanitised copy.
        Raises whatever the storage raises when the write fails.
        """
        segment = storage_segment(name, fallback="file")
        key = f"{FILES_PREFIX}/{self.execution_id}/{uuid.uuid4().hex}-{segment}"
        stored = default_storage.save(key, _TypedContent(content, content_type=content_type))
        return {"$file": stored, "name": name, "size": len(content), "content_type": content_type}

    def read(self, *, ref: dict[str, Any], limit: int) -> bytes:
        """The bytes of one of this execution's files. Raises KeyError when ``ref`` is not
        a file of this execution (or is gone), ValueError when it is over ``limit``."""
        try:
            with file_open(ref, execution_id=self.execution_id) as handle:
                content = handle.read(limit + 1)
        except (FileMissing, ValueError):
            raise KeyError("not a file of this execution") from None
        if len(content) > limit:
            raise ValueError(f"the file is larger than {limit} bytes")
        return bytes(content)


def file_open(ref: dict[str, Any], *, execution_id: str | None = None) -> "File[bytes]":
    """Open the file a ``$file`` reference names, for reading bytes; the caller closes it.

    Pass ``execution_id`` whenever the reference came from items (anything a user could
    have written): a key of another execution then raises FileMissing, exactly as a file
    that is gone does, so a caller can never learn of another workspace's files.
    Raises ValueError when ``ref`` is not a file reference.
    """
    key = ref.get("$file") if isinstance(ref, dict) else None
    match = _FILE_KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise ValueError(f"Not a file reference: {ref!r}.")
    if execution_id is not None and match[1] != execution_segment(execution_id):
        raise FileMissing(match[0])
    try:
        return default_storage.open(match[0], "rb")
    except FileNotFoundError:
        raise FileMissing(match[0]) from None


def files_delete(*, execution_id: str) -> int:
    """Remove every file stored for the execution; return how many went (idempotent)."""
    return storage_delete_tree(f"{FILES_PREFIX}/{execution_segment(execution_id)}")


def files_carried(data: Any, *, source_execution_id: str, target_execution_id: str) -> Any:
    """``data`` (JSON: items, a trigger input, a node's output) with every reference to a
    file of the source execution replaced by one to a copy stored for the target.

    This is how a file crosses executions (a sub-workflow's input, a re-run's reused
    outputs): the target may only read files in its own name, and the copy lives and is
    deleted with the target. References to any other execution's files are left as they
    are, so a forged one stays unreadable in the target too; a file already gone stays a
    dangling reference (reading it fails as a missing file). Returns ``data`` itself
    when nothing was copied."""
    return files_carried_from(
        data, sources={source_execution_id}, target_execution_id=target_execution_id
    )


def files_carried_from(data: Any, *, sources: set[str], target_execution_id: str) -> Any:
    """``files_carried`` from any of the ``sources`` executions: the caller has checked
    that each is one whose files the target may have (same workflow, same workspace)."""
    allowed = {execution_segment(source) for source in sources}
    store = StorageFileStore(execution_id=target_execution_id)
    copied: dict[str, dict[str, Any]] = {}

    def carry(value: Any) -> Any:
        if isinstance(value, list):
            return [carry(entry) for entry in value]
        if not isinstance(value, dict):
            return value
        key = value.get("$file")
        match = _FILE_KEY.fullmatch(key) if isinstance(key, str) else None
        if match is None or match[1] not in allowed:
            return {name: carry(entry) for name, entry in value.items()}
        if match[0] not in copied:
            copied[match[0]] = _copy(value, store=store, source=match[1])
        return {**value, **copied[match[0]]}

    carried = carry(data)
    return carried if copied else data


def file_executions(data: Any) -> set[str]:
    """The execution ids that the file references in ``data`` name (not yet checked)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for entry in value:
                walk(entry)
        elif isinstance(value, dict):
            key = value.get("$file")
            match = _FILE_KEY.fullmatch(key) if isinstance(key, str) else None
            if match is not None:
                found.add(match[1])
            for entry in value.values():
                walk(entry)

    walk(data)
    return found


def _copy(ref: dict[str, Any], *, store: StorageFileStore, source: str) -> dict[str, Any]:
    try:
        with file_open(ref, execution_id=source) as handle:
            content = handle.read()
    except FileMissing:
        return {}
    name = ref["name"] if isinstance(ref.get("name"), str) else "file"
    content_type = ref.get("content_type")
    if not isinstance(content_type, str):
        content_type = "application/octet-stream"
    return store.save(name=name, content=bytes(content), content_type=content_type)


# The last part of a key as file_store.save writes it: "<32 hex>-<sanitised name>".
_FILE_NAME = re.compile(r"[0-9a-f]{32}-(?!\.)[A-Za-z0-9._-]+")


def execution_file_open(*, execution_id: str, name: str) -> tuple["File[bytes]", str]:
    """Open the file ``name`` (the key's last part) stored for the execution, with the
    name to offer for download. The caller has checked access to the execution: a key is
    only ever looked up inside that execution's own folder. Raises FileMissing for a name
    that is malformed, guessed or gone (all alike)."""
    if not _FILE_NAME.fullmatch(name):
        raise FileMissing(name)
    segment = execution_segment(execution_id)
    handle = file_open({"$file": f"{FILES_PREFIX}/{segment}/{name}"}, execution_id=segment)
    return handle, name.split("-", 1)[1]


def execution_file_names(value: Any, *, execution_id: str) -> list[tuple[str, str]]:
    """(key name, display name) of every file reference of the execution in ``value``
    (JSON), in order, each once: what the run view offers to download."""
    segment = execution_segment(execution_id)
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for entry in node:
                walk(entry)
        elif isinstance(node, dict):
            key = node.get("$file")
            match = _FILE_KEY.fullmatch(key) if isinstance(key, str) else None
            if match is not None and match[1] == segment:
                last = match[0].rsplit("/", 1)[1]
                found.setdefault(last, str(node.get("name") or last))
            for entry in node.values():
                walk(entry)

    walk(value)
    return list(found.items())
