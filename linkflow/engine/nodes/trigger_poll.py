"""trigger.poll: on a cron schedule, read an HTTP endpoint or an RSS/Atom feed and start a
run for each item not seen before.

The engine part is pure: the node's schema, turning a fetched body into items
(``poll_items``) and naming each item's key (``poll_key``). The host fetches (through
the guarded HTTP client, under the address policy), keeps the seen-set and starts the
executions (executions/sources/polling.py); in the run the node emits its item like any trigger.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.expressions import evaluate
from linkflow.engine.nodes.data import ABSENT, get_path
from linkflow.engine.nodes.trigger import ScheduleTrigger
from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

MAX_ITEMS_PER_POLL = 1000
DEFAULT_ITEMS_PER_POLL = 100
# Feed entry fields handed on (feedparser's names); the rest of an entry is feedparser's.
FEED_FIELDS = ("id", "title", "link", "summary", "published", "updated", "author")


class PollTrigger(NodeType):
    """Started by the scheduler for each new item of a polled endpoint or feed."""

    type = "trigger.poll"
    pure = True
    label = "Poll"
    description = (
        "On a cron schedule, reads a URL (JSON or an RSS/Atom feed) and starts a run for "
        "each item whose key was not seen before."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            **ScheduleTrigger.params_schema["properties"],
            "url": {"type": "string", "minLength": 1, "maxLength": 2000},
            "source": {
                "description": "'json': the body is JSON; 'feed': RSS or Atom.",
                "enum": ["json", "feed"],
                "default": "json",
            },
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string", "maxLength": 4000},
                "maxProperties": 50,
            },
            "items_path": {
                "description": "json: the dotted path of the list of items in the body "
                "(empty: the body is the list).",
                "type": "string",
                "maxLength": 200,
                "default": "",
            },
            "key": {
                "description": "What makes an item the same item: a field path ('id', "
                "'data.guid') or an expression ({{ json.id }}-{{ json.version }}).",
                "type": "string",
                "minLength": 1,
                "maxLength": 500,
                "default": "id",
            },
            "first_poll": {
                "description": "'remember': the first poll only records what is there; "
                "'emit': it starts a run for every item.",
                "enum": ["remember", "emit"],
                "default": "remember",
            },
            "max_items": {
                "description": "New items started per poll at most; the rest wait for the "
                "next poll.",
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_ITEMS_PER_POLL,
                "default": DEFAULT_ITEMS_PER_POLL,
            },
        },
        "required": ["cron", "url"],
        "additionalProperties": False,
    }
    is_trigger = True

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """As trigger.schedule for ``cron`` and ``timezone``."""
        return ScheduleTrigger.check_params(params)

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Emit the new item the host started the run for. Never fails."""
        return {"main": [dict(ctx.run.trigger_input or {})]}


def poll_items(*, params: dict[str, Any], body: bytes, content_type: str = "") -> Items:
    """The items of a fetched ``body``: for "json", the list at ``items_path`` (objects
    as they are, other values as ``{"value": ...}``; a single object is one item); for
    "feed", one item per RSS/Atom entry with FEED_FIELDS. Raises NodeError for a body
    that is not what the source says."""
    if params.get("source", "json") == "feed":
        return _feed_items(body)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise NodeError(f"The response is not JSON: {error}", param="params.url") from None
    path = params.get("items_path") or ""
    found = get_path(data, path) if path and isinstance(data, dict) else data
    if found is ABSENT:
        raise NodeError(f"The response has no '{path}'.", param="params.items_path")
    listed = found if isinstance(found, list) else [found]
    return [item if isinstance(item, dict) else {"value": item} for item in listed]


def _feed_items(body: bytes) -> Items:
    # feedparser parses what it is given and fetches nothing; it never resolves external
    # entities (its XML parser has them off) and falls back to a loose parser otherwise.
    import feedparser

    parsed = feedparser.parse(body)
    if parsed.bozo and not parsed.entries:
        raise NodeError(f"The feed could not be read: {parsed.bozo_exception}", param="params.url")
    items = []
    for entry in parsed.entries:
        item = {name: str(entry[name]) for name in FEED_FIELDS if entry.get(name)}
        items.append(item)
    return items


def poll_key(*, item: dict[str, Any], key: str) -> str | None:
    """The item's key as a hash (sha256 hex of its JSON text), or None when the path is
    missing or the expression gives null or "" (such items cannot be told apart and are
    skipped). Raises ExpressionError for an expression that fails."""
    if "{{" in key:
        value = evaluate(key, names={"json": item}, path="params.key")
    else:
        value = get_path(item, key)
    if value is ABSENT or value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
