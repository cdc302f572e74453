"""Sticky notes on the editor's canvas: Markdown text in a coloured, resizable box.

They live in the workflow's ``layout`` (beside the nodes' places, under ``NOTES_KEY``,
which no node id can equal), not in the graph: a note changes no version, runs never see
it, and restoring an old version leaves the notes as they are.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from linkflow.core.errors import ErrorCode, LinkflowError

# Not a valid node id (those are [A-Za-z0-9_-]+), so it never collides with a position.
NOTES_KEY = "@notes"
NOTE_COLORS = ("yellow", "blue", "green", "pink", "purple", "grey")
MAX_NOTES = 200
MAX_NOTE_CHARS = 10_000
_COORDINATE = {"type": "number", "minimum": -1_000_000, "maximum": 1_000_000}
_SIZE = {"type": "number", "minimum": 60, "maximum": 4000}

NOTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "x": _COORDINATE,
        "y": _COORDINATE,
        "width": _SIZE,
        "height": _SIZE,
        "color": {"enum": list(NOTE_COLORS)},
        "text": {"type": "string", "maxLength": MAX_NOTE_CHARS},
    },
    "required": ["id", "x", "y", "width", "height", "color", "text"],
    "additionalProperties": False,
}
_NOTES_VALIDATOR = Draft202012Validator(
    {"type": "array", "maxItems": MAX_NOTES, "items": NOTE_SCHEMA}
)


def layout_notes(layout: Any) -> list[dict[str, Any]]:
    """The sticky notes kept in a workflow's ``layout``; ``[]`` when it has none or the
    stored value is not a list (never raises)."""
    notes = layout.get(NOTES_KEY) if isinstance(layout, dict) else None
    return [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []


def notes_checked(notes: Any) -> list[dict[str, Any]]:
    """``notes`` when it is a list of at most ``MAX_NOTES`` notes of ``NOTE_SCHEMA`` with
    distinct ids; else raises ``validation_error`` (400) naming ``notes`` and the first
    problem."""
    error = next(iter(_NOTES_VALIDATOR.iter_errors(notes)), None)
    if error is None:
        ids = [note["id"] for note in notes]
        if len(set(ids)) == len(ids):
            return list(notes)
        message = "Every note needs its own id."
    else:
        where = ".".join(str(step) for step in error.absolute_path)
        message = (f"{where}: " if where else "") + error.message[:300]
    raise LinkflowError(
        ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details={"notes": [message]}
    )
