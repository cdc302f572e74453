"""How one node run handled its input items: which succeeded, which failed, and where each
output item came from (its lineage).

The runner keeps an ItemRecord per node run. The host stores ``as_meta()`` beside the
node's output (never inside the items: the user's JSON stays the user's) and gives it back
with ``from_meta`` when the execution goes on: a retry or a resumed run then skips the
items an earlier attempt already did, and merges their results in input order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from linkflow.engine.graph import DEFAULT_PORT, ERROR_PORT

Items = list[dict[str, Any]]
# Per port, for each output item, the index of the input item it came from (None: unknown,
# as for batch nodes, which see their items only as a whole).
Lineage = dict[str, list[int | None]]


@dataclass
class ItemRecord:
    """``inputs`` items came in. ``done`` maps the index of each succeeded input item to
    what it emitted per port; ``failed`` the index of each failed one to its error. Items
    in neither were not tried (a node failing at its first bad item stops there).
    ``per_item`` is False for a batch node; ``skipped`` says why a node was skipped
    ("disabled"). ``lineage`` describes the outcome's output, set when it is built."""

    inputs: int
    per_item: bool
    done: dict[int, dict[str, Items]] = field(default_factory=dict)
    failed: dict[int, dict[str, Any]] = field(default_factory=dict)
    skipped: str | None = None
    lineage: Lineage = field(default_factory=dict)

    def merged(self, items: Items, ports: tuple[str, ...], *, on_error: str) -> dict[str, Items]:
        """The node's output: every port of ``ports`` (possibly empty), the items each
        succeeded input emitted, in input order; failed inputs too with ``on_error``
        "continue" (on "main") or "error_output" (on "error"), each as a copy of the input
        item with ``error`` beside its fields. Sets ``lineage`` to match."""
        output: dict[str, Items] = {port: [] for port in ports}
        lineage: Lineage = {port: [] for port in ports}
        for index in range(self.inputs):
            if index in self.done:
                emitted = self.done[index]
            elif index in self.failed and on_error in ("continue", "error_output"):
                port = DEFAULT_PORT if on_error == "continue" else ERROR_PORT
                emitted = {port: [{**items[index], "error": self.failed[index]}]}
            else:
                continue
            for port, produced in emitted.items():
                output.setdefault(port, []).extend(produced)
                lineage.setdefault(port, []).extend([index] * len(produced))
        self.lineage = lineage
        return output

    def counts(self) -> dict[str, int]:
        """``{"succeeded", "failed", "not_run"}``: how many input items fared which way."""
        succeeded, failed = len(self.done), len(self.failed)
        return {
            "succeeded": succeeded,
            "failed": failed,
            "not_run": max(self.inputs - succeeded - failed, 0),
        }

    def as_meta(self) -> dict[str, Any]:
        """The JSON the host stores: mode, counts, lineage, and (per item) which input
        indexes are done and failed, so a later attempt can go on from it."""
        meta: dict[str, Any] = {
            "mode": "per_item" if self.per_item else "batch",
            "inputs": self.inputs,
            "counts": self.counts(),
            "lineage": self.lineage,
        }
        if self.per_item:
            meta["done"] = sorted(self.done)
            meta["failed"] = sorted(self.failed)
        if self.skipped:
            meta["skipped"] = self.skipped
        return meta


def from_meta(meta: Any, output: Mapping[str, Items]) -> ItemRecord | None:
    """The record ``as_meta`` stored, with what each done item emitted rebuilt from the
    stored ``output`` through the lineage; None when ``meta`` is absent or unusable."""
    if not isinstance(meta, dict) or not isinstance(meta.get("inputs"), int):
        return None
    record = ItemRecord(
        inputs=meta["inputs"],
        per_item=meta.get("mode") == "per_item",
        skipped=meta.get("skipped"),
        lineage=meta.get("lineage") or {},
    )
    done = {index for index in meta.get("done") or () if isinstance(index, int)}
    record.done = {index: {} for index in sorted(done)}
    for port, produced in (output or {}).items():
        sources = record.lineage.get(port) or []
        for item, source in zip(produced, sources, strict=False):
            if source in done:
                record.done[source].setdefault(port, []).append(item)
    return record


def whole_node_lineage(output: Mapping[str, Items], inputs: int) -> Lineage:
    """Lineage of the version-1 ``on_error`` items: one per input on "error", or a single
    error item on "main" that stands for all of them."""
    if ERROR_PORT in output:
        return {ERROR_PORT: list(range(inputs)) or [None]}
    return {port: [None] * len(produced) for port, produced in output.items()}
