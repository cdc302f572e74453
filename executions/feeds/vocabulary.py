"""The vocabulary of the live feeds: event kinds, feed groups, and the events' payloads.

An event is JSON data naming its execution, workspace and workflow; ``seq`` and
``published_at`` are added when it is published (publisher.py numbers it through log.py).
The kinds and group names are sent to browsers and stored in the log: they never change.
"""

import json
from typing import Any

EXECUTION_STARTED = "execution.started"
EXECUTION_WAITING = "execution.waiting"
EXECUTION_FINISHED = "execution.finished"
NODE_STARTED = "node.started"
NODE_FINISHED = "node.finished"

# A node's first output item is sent whole up to this size (as JSON), else cut.
FIRST_ITEM_MAX_CHARS = 1024


def execution_group(execution_id: object) -> str:
    return f"execution.{execution_id}"


def workspace_group(workspace_id: object) -> str:
    return f"workspace.{workspace_id}.executions"


def event_build(
    *, type: str, execution_id: object, workspace_id: object, workflow_id: object, **data: Any
) -> dict[str, Any]:
    """An event (JSON data) of the execution; ``seq`` and ``published_at`` come at publish."""
    return {
        "type": type,
        "execution": str(execution_id),
        "workspace": str(workspace_id),
        "workflow": str(workflow_id),
        **data,
    }


def output_summary(output: dict[str, list[Any]]) -> dict[str, Any]:
    """What a live view shows of a node's output: items per port and the first item.

    The first item of the first port that has one is sent as is when its JSON is at most
    ``FIRST_ITEM_MAX_CHARS`` long; a longer one is sent as its JSON text cut to that length
    under ``"truncated": true``. The full output is in the execution's record.
    """
    counts = {port: len(items) for port, items in output.items() if isinstance(items, list)}
    first = next((items[0] for items in output.values() if isinstance(items, list) and items), None)
    if first is None:
        return {"items": counts, "first_item": None, "truncated": False}
    text = json.dumps(first, default=str, separators=(",", ":"))
    if len(text) <= FIRST_ITEM_MAX_CHARS:
        return {"items": counts, "first_item": first, "truncated": False}
    return {"items": counts, "first_item": text[:FIRST_ITEM_MAX_CHARS], "truncated": True}
