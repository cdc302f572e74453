"""What a node did: the statuses a node ends in and the NodeOutcome that carries its output.

A module of its own so that the runner and the loops it hands flow.batch nodes to
(engine/loops.py) share them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from linkflow.engine.items import ItemRecord
from linkflow.engine.registry import Items

SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
WAITING = "waiting"
# A checkpoint of a node still working through its items (Observer.node_progress).
RUNNING = "running"


@dataclass
class NodeOutcome:
    """What one node did: ``status`` is "succeeded", "failed", "skipped" or "waiting"
    ("running" for a checkpoint); ``output`` maps port -> items (for a failed node that
    handles items one by one: what its succeeded items emitted); ``error`` is set on
    failure, and also on success when ``on_error`` turned failures into items:
    ``{"message", "node_id", "param"?, "item"?, ...}`` (the first failed item's).
    ``resume_at`` is set when the node suspended (status "waiting").

    ``items`` tells how the input items fared and where each output item came from (see
    items.ItemRecord); the host stores it with the outcome and hands it back on resume.
    """

    status: str
    output: dict[str, Items] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    resume_at: datetime | None = None
    items: ItemRecord | None = field(default=None, compare=False)
