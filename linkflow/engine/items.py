"""How one node run handled its input items: which succeeded, which failed, and where each
output item came from (its lineage).

The runner keeps an ItemRecord per node run. The host stores ``as_meta()`` beside the
node's output (never inside the items: the user's JSON stays the user's) and gives it back
with ``from_meta`` when the execution goes on: a retry or a resumed run then skips the
items an earlier attempt already did, and merges their results in input order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from linkflow.engine.graph import DEFAULT_PORT, ERROR_PORT

Items = list[dict[str, Any]]
# Where one output item came from: the index of its input item (the node's input items
# being its incoming edges' items one after the other), the indexes of several (a merged
# or aggregated item), or None: unknown.
Source = int | list[int] | None
# Per port, the source of each output item.
Lineage = dict[str, list[Source]]


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
            if isinstance(source, int) and source in done:
                record.done[source].setdefault(port, []).append(item)
    return record


def whole_node_lineage(output: Mapping[str, Items], inputs: int) -> Lineage:
    """Lineage of the version-1 ``on_error`` items: one per input on "error", or a single
    error item on "main" that stands for all of them."""
    if ERROR_PORT in output:
        return {ERROR_PORT: list(range(inputs)) or [None]}
    return {port: [None] * len(produced) for port, produced in output.items()}


def batch_lineage(
    output: Mapping[str, Items], items: Items, *, declared: Lineage | None = None
) -> Lineage:
    """Where each output item of a node that took its ``items`` at once came from.

    Per port: what the node declared (NodeContext.record_sources), when it gave one
    source per item. Else, per item: the input item it is (data.sort, data.limit pass
    the same objects on), or None: left to ``inferred_sources`` when an expression needs
    it, so a run that never asks pays nothing for it."""
    positions: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        positions.setdefault(id(item), []).append(index)
    lineage: Lineage = {}
    for port, produced in output.items():
        given = (declared or {}).get(port)
        if given is not None and len(given) == len(produced):
            lineage[port] = list(given)
            continue
        sources: list[Source] = []
        for item in produced:
            same = positions.get(id(item))
            sources.append(None if not same else same[0] if len(same) == 1 else list(same))
        lineage[port] = sources
    return lineage


def inferred_sources(
    output: Mapping[str, Items], items: Items, *, port: str, known: list[Source] | None
) -> list[Source]:
    """The sources of ``port``'s items, those ``known`` kept, the unknown ones inferred:
    an input item equal to the output item (a code.python node returning its items
    sorted or filtered; equal items are matched in order, so a stable sort pairs right),
    else n8n's rules for nodes that do not say: from a single input item, or to a single
    output item, the first input item; as many items out (on that port alone) as in, by
    position; otherwise still None."""
    produced = output.get(port) or []
    known = known if known is not None and len(known) == len(produced) else [None] * len(produced)
    alone = [name for name, emitted in output.items() if emitted] == [port]
    by_rule = _rule_sources(len(items), len(produced), alone=alone)
    equal = _EqualItems(items)
    sources: list[Source] = []
    for position, (item, source) in enumerate(zip(produced, known, strict=True)):
        if source is None or source == []:
            match = equal.take(item)
            source = match if match is not None else by_rule(position)
        sources.append(source)
    return sources


class _EqualItems:
    """Input items by their JSON text, indexed on first use (most batch nodes pass their
    items on as they are, and never need it)."""

    def __init__(self, items: Items) -> None:
        self._items = items
        self._by_text: dict[str, list[int]] | None = None

    def take(self, item: dict[str, Any]) -> int | None:
        """The first input item equal to ``item`` not taken yet (the last one again once
        all are: a repeated item comes from it too); None when none is equal."""
        if self._by_text is None:
            self._by_text = {}
            for index, candidate in enumerate(self._items):
                self._by_text.setdefault(_text(candidate), []).append(index)
        indexes = self._by_text.get(_text(item))
        if not indexes:
            return None
        return indexes.pop(0) if len(indexes) > 1 else indexes[0]


def _text(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, default=str)


def _rule_sources(inputs: int, outputs: int, *, alone: bool) -> Callable[[int], Source]:
    """n8n's assignPairedItems, for an output item that is none of the input items."""
    if inputs == 1 or (alone and outputs == 1 and inputs > 1):
        return lambda position: 0
    if alone and inputs == outputs:
        return lambda position: position
    return lambda position: None
