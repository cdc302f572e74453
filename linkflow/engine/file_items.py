"""File items on the engine side: recognising a ``$file`` reference and reading its bytes
through the host's FileStore, for nodes that send a file on (http.request, notify.email).

A reference is ``{"$file": key, "name", "size", "content_type"}`` as the FileStore made
it. Items are user data, so a reference may be forged: the host reads only files of the
running execution and refuses any other key exactly as a missing file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from linkflow.engine.errors import NodeError

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

FILE_KEY = "$file"


@dataclass(frozen=True, slots=True)
class FileContent:
    """A file item's bytes with the name and content type its reference gives."""

    name: str
    content: bytes
    content_type: str


def is_file_ref(value: Any) -> bool:
    """True for an object carrying a string ``$file`` key (not yet a proof it is real)."""
    return isinstance(value, dict) and isinstance(value.get(FILE_KEY), str)


def file_read(
    ctx: NodeContext, ref: Any, *, limit: int, param: str, item: int | None = None
) -> FileContent:
    """The bytes of the file ``ref`` names, at most ``limit`` of them.

    Raises NodeError naming ``param`` (and ``item``) when ``ref`` is no file reference,
    the host stores no files, the file is not one of this execution's (another
    execution's, forged, or already expired) or it is larger than ``limit``."""
    if not is_file_ref(ref):
        raise NodeError(
            f'Expected a file item\'s reference ({{"$file": ...}}), got {type(ref).__name__}.',
            param=param,
            item=item,
        )
    if ctx.run.files is None:
        raise NodeError("No file storage is available here.", param=param, item=item)
    try:
        content = ctx.run.files.read(ref=ref, limit=limit)
    except KeyError:
        raise NodeError(
            f"The file {ref.get('name')!r} is not one of this execution's files.",
            param=param,
            item=item,
        ) from None
    except ValueError:
        raise NodeError(
            f"The file {ref.get('name')!r} is larger than {limit} bytes.", param=param, item=item
        ) from None
    name = ref.get("name") if isinstance(ref.get("name"), str) and ref.get("name") else "file"
    content_type = ref.get("content_type")
    if not isinstance(content_type, str) or not content_type:
        content_type = "application/octet-stream"
    return FileContent(name=name, content=content, content_type=content_type)
