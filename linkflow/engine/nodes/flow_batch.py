"""flow.batch (n8n's Loop Over Items): the node that runs a loop body once per batch.

The runner does not call ``execute`` for it: the loop (engine/loops.py) hands each batch
to the body through the "loop" port and emits what came back on "done". The type holds
what the registry, validation and the editor need: the schema, the ports, the texts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.graph import DONE_PORT, LOOP_PORT
from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

# A loop runs at most this many batches in one execution: the bound of a loop's work
# and of its NodeRuns (docs/execution.md, "Loops").
MAX_ITERATIONS = 1000
MAX_BATCH_SIZE = 10_000


class Batch(NodeType):
    """Hands its items, ``batch_size`` at a time, to the nodes its "loop" port leads to;
    the items those send back over the edge into this node leave by "done" at the end."""

    type = "flow.batch"
    pure = True
    label = "Loop over items"
    description = (
        "Runs the nodes after 'loop' once per batch of items; emits everything they "
        "send back on 'done'."
    )
    outputs = (DONE_PORT, LOOP_PORT)
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "batch_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_BATCH_SIZE,
                "default": 10,
                "description": "How many items each turn of the loop gets.",
            },
        },
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Outside a loop run (a graph whose loop the runner did not see): all items at
        once, as one batch that came straight back."""
        return {DONE_PORT: list(items), LOOP_PORT: []}
