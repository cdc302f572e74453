"""Item lineage walked back through a run: which item of an earlier node an item descends
from (``nodes.<id>.item`` in expressions, n8n's ``$('Node').item``).

Every node run records, per output item, the input item(s) it came from (items.py); a
node's input items are its incoming edges' items one after the other. From an item of
the current node's input, the walk goes to the output item of the node that sent it, then
to that item's sources, and so on until it reaches the node asked for. Paths that fail
(a branch that does not lead there) are dropped as long as one succeeds; paths that
arrive at different items make the answer ambiguous. This follows n8n's resolution of
``pairedItem``, errors included: no path back, lineage unknown, several matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from linkflow.engine.errors import ExpressionError
from linkflow.engine.graph import Graph
from linkflow.engine.items import ItemRecord, Items, Source, inferred_sources

# One item of one node's output: (node id, port, position on that port).
Step = tuple[str, str, int]


class Outcome(Protocol):
    """What the walk reads of a node's outcome (runner.NodeOutcome)."""

    @property
    def output(self) -> Mapping[str, Items]: ...

    @property
    def items(self) -> ItemRecord | None: ...


class ItemTrail:
    """The lineage of one run: its graph and the outcomes recorded so far (the runner's
    own mapping, read as nodes finish)."""

    def __init__(self, *, graph: Graph, outcomes: Mapping[str, Outcome]) -> None:
        self._graph = graph
        self._outcomes = outcomes
        self._ancestors: dict[str, frozenset[str]] = {}
        self._inferred: dict[tuple[str, str], tuple[Outcome, list[Source]]] = {}

    def origin(
        self, *, node_id: str, index: int, target: str, inputs: Sequence[Items] | None = None
    ) -> dict[str, Any]:
        """The item of ``target``'s output that input item ``index`` of ``node_id``
        descends from. ``inputs`` are the node's items per incoming edge when they differ
        from its sources' outputs (a node run once takes only the first item).

        Raises ExpressionError when ``target`` does not lead to ``node_id``, when a node
        on the way did not record where an item came from, or when the paths back reach
        different items of ``target``."""
        if target not in self._ancestors_of(node_id):
            raise ExpressionError(
                f"No path back to node '{target}': no connection leads from it to this node."
            )
        start = self._sent(node_id, index, inputs)
        if start is None:
            raise ExpressionError(f"Input item {index} of this node came from no other node.")
        found = self._resolve(start, target, {})
        node, port, position = found
        return self._outcomes[node].output[port][position]

    def _resolve(self, step: Step, target: str, memo: dict[Step, Step | ExpressionError]) -> Step:
        # Merges and aggregates make the lineage a DAG: without the memo a walk could
        # visit the same item once per path to it.
        known = memo.get(step)
        if known is None:
            try:
                known = self._resolve_uncached(step, target, memo)
            except ExpressionError as error:
                known = error
            memo[step] = known
        if isinstance(known, ExpressionError):
            raise known
        return known

    def _resolve_uncached(
        self, step: Step, target: str, memo: dict[Step, Step | ExpressionError]
    ) -> Step:
        node_id, _, position = step
        if node_id == target:
            return step
        found: list[Step] = []
        errors: list[ExpressionError] = []
        for source in self._sources(step):
            previous = self._sent(node_id, source, None)
            if previous is None:
                errors.append(ExpressionError(f"No path back to node '{target}'."))
                continue
            try:
                found.append(self._resolve(previous, target, memo))
            except ExpressionError as error:
                errors.append(error)
        if not found:
            raise errors[0]
        if len(set(found)) > 1:
            raise ExpressionError(
                f"Multiple matching items: item {position} of node '{node_id}' comes from "
                f"{len(set(found))} different items of node '{target}', so which one is "
                "meant is ambiguous; pick one by position (first(), all()) instead."
            )
        return found[0]

    def _sources(self, step: Step) -> list[int]:
        node_id, port, position = step
        sources = self._lineage(node_id, port)
        source = sources[position] if position < len(sources) else None
        if source is None or source == []:
            raise ExpressionError(
                f"Paired item data from node '{node_id}' is unavailable: it did not record "
                f"which input item its item {position} came from (a node that reshapes its "
                "items as a whole, such as code.python changing their number)."
            )
        return [source] if isinstance(source, int) else list(source)

    def _lineage(self, node_id: str, port: str) -> list[Source]:
        """The sources of ``port``'s items, those the node run did not record inferred
        from its input and output items (items.inferred_sources), once per node run (a
        loop body's nodes run again per batch)."""
        outcome = self._outcomes.get(node_id)
        if outcome is None:
            return []
        cached = self._inferred.get((node_id, port))
        if cached is not None and cached[0] is outcome:
            return cached[1]
        record = outcome.items
        recorded = record.lineage.get(port) if record is not None else None
        if recorded is None or None in recorded:
            items = self._input_items(node_id)
            known = inferred_sources(outcome.output, items, port=port, known=recorded)
        else:
            known = list(recorded)
        self._inferred[(node_id, port)] = (outcome, known)
        return known

    def _input_items(self, node_id: str) -> Items:
        edges = [e for e in self._graph.incoming(node_id) if not self._graph.is_back_edge(e)]
        items: Items = []
        for edge in edges:
            outcome = self._outcomes.get(edge.source)
            items.extend(outcome.output.get(edge.output, ()) if outcome is not None else ())
        return items

    def _sent(self, node_id: str, index: int, inputs: Sequence[Items] | None) -> Step | None:
        """The output item that became input item ``index`` of ``node_id``."""
        edges = [e for e in self._graph.incoming(node_id) if not self._graph.is_back_edge(e)]
        if inputs is not None and len(inputs) == len(edges):
            sizes = [len(items) for items in inputs]
        else:
            sizes = [self._edge_size(edge.source, edge.output) for edge in edges]
        for edge, size in zip(edges, sizes, strict=True):
            if index < size:
                return (edge.source, edge.output, index)
            index -= size
        return None

    def _edge_size(self, source: str, port: str) -> int:
        outcome = self._outcomes.get(source)
        return len(outcome.output.get(port, ())) if outcome is not None else 0

    def _ancestors_of(self, node_id: str) -> frozenset[str]:
        known = self._ancestors.get(node_id)
        if known is None:
            seen: set[str] = set()
            pending = [node_id]
            while pending:
                for edge in self._graph.incoming(pending.pop()):
                    if edge.source not in seen:
                        seen.add(edge.source)
                        pending.append(edge.source)
            known = self._ancestors[node_id] = frozenset(seen)
        return known
