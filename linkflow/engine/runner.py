"""Run a graph: execute its nodes in order, pass items along edges, report to an observer.

The runner does no I/O itself; nodes do theirs through the RunContext, and the observer
(the host) records progress. It is on the hot path of every execution, so per node it only
gathers inputs from precomputed edges, calls the node and reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from linkflow.engine.context import NodeContext, RunContext
from linkflow.engine.errors import NodeError
from linkflow.engine.graph import DEFAULT_PORT, Graph, Node
from linkflow.engine.observer import Observer
from linkflow.engine.registry import Items, NodeType, get_node_type

SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
ATTEMPT = 1  # retries arrive with the scheduler; until then every node runs once


@dataclass
class NodeOutcome:
    """What one node did: ``status`` is "succeeded", "failed" or "skipped"; ``output`` maps
    port -> items (``{}`` unless succeeded); ``error`` is set on failure:
    ``{"message", "node_id", "param"?, "position"?}``."""

    status: str
    output: dict[str, Items] = field(default_factory=dict)
    error: dict[str, Any] | None = None


@dataclass
class RunResult:
    """How a run ended: ``status`` is "succeeded", "failed" or "cancelled".

    ``outcomes`` has every node decided in this run or reused from ``completed``, in run
    order. ``error`` is the failing node's error, or ``{"message": "cancelled"}``.
    ``last_items`` are the items of the last node, in run order, that succeeded and emitted
    any (its "main" port first, else its first non-empty port).
    """

    status: str
    outcomes: dict[str, NodeOutcome]
    error: dict[str, Any] | None
    last_items: Items


def run_graph(
    graph: Graph,
    *,
    context: RunContext,
    observer: Observer,
    completed: Mapping[str, NodeOutcome] | None = None,
) -> RunResult:
    """Run ``graph`` to the end, the first failure, or until ``observer.should_stop()``.

    Nodes run in ``graph.topological_order()``. A node in ``completed`` (outcomes from an
    earlier, interrupted attempt) is not run again and not reported; its output feeds
    its successors. Failed outcomes in ``completed`` are ignored, so those nodes run again.
    A node whose incoming edges bring no items is skipped (only ``node_finished`` is
    called). Any exception from a node becomes a failed outcome and ends the run; only
    exceptions raised by the observer itself propagate.
    """
    try:
        order = graph.topological_order()
    except ValueError as error:  # an unvalidated graph; report it like any failure
        return RunResult(FAILED, {}, {"message": str(error), "node_id": None}, [])
    run = _Run(graph=graph, context=context, observer=observer, completed=completed or {})
    return run.execute(order)


class _Run:
    def __init__(
        self,
        *,
        graph: Graph,
        context: RunContext,
        observer: Observer,
        completed: Mapping[str, NodeOutcome],
    ) -> None:
        self.graph = graph
        self.context = context
        self.observer = observer
        self.completed = completed
        self.outcomes: dict[str, NodeOutcome] = {}
        # what expressions see as `nodes`: node id -> {"items": [...], "json": {...}}
        self.views: dict[str, dict[str, Any]] = {}

    def execute(self, order: tuple[Node, ...]) -> RunResult:
        for node in order:
            reused = self.completed.get(node.id)
            if reused is not None and reused.status != FAILED:
                self._record(node, reused)
                continue
            if self.observer.should_stop():
                return self._result(order, CANCELLED, {"message": "cancelled"})
            outcome = self._decide(node)
            self._record(node, outcome)
            if outcome.status == FAILED:
                return self._result(order, FAILED, outcome.error)
        return self._result(order, SUCCEEDED, None)

    def _decide(self, node: Node) -> NodeOutcome:
        items = self._input(node)
        node_type = _resolve(node.type)
        if self._skips(node, node_type, items):
            return self._skip(node, items)
        return self._execute(node, node_type, items)

    def _skip(self, node: Node, items: Items) -> NodeOutcome:
        now = self.context.clock()
        outcome = NodeOutcome(SKIPPED)
        self.observer.node_finished(
            node_id=node.id,
            node_type=node.type,
            attempt=ATTEMPT,
            input=items,
            outcome=outcome,
            started_at=now,
            finished_at=now,
        )
        return outcome

    def _execute(self, node: Node, node_type: type[NodeType] | None, items: Items) -> NodeOutcome:
        self.observer.node_started(
            node_id=node.id, node_type=node.type, attempt=ATTEMPT, input=items
        )
        started_at = self.context.clock()
        outcome = self._call(node, node_type, items)
        self.observer.node_finished(
            node_id=node.id,
            node_type=node.type,
            attempt=ATTEMPT,
            input=items,
            outcome=outcome,
            started_at=started_at,
            finished_at=self.context.clock(),
        )
        return outcome

    def _input(self, node: Node) -> Items:
        items: Items = []
        for edge in self.graph.incoming(node.id):
            source = self.outcomes.get(edge.source)
            if source is not None:
                items.extend(source.output.get(edge.output, ()))
        return items

    def _skips(self, node: Node, node_type: type[NodeType] | None, items: Items) -> bool:
        is_trigger = node_type.is_trigger if node_type else node.type.startswith("trigger.")
        if is_trigger:
            chosen = self.context.trigger_node_id
            return chosen is not None and chosen != node.id
        return not items  # no items came in, or nothing leads here at all

    def _call(self, node: Node, node_type: type[NodeType] | None, items: Items) -> NodeOutcome:
        if node.disabled:
            port = node_type.outputs[0] if node_type else DEFAULT_PORT
            return NodeOutcome(SUCCEEDED, {port: items})
        if node_type is None:
            return _failed({"message": f"Unknown node type '{node.type}'.", "node_id": node.id})
        ctx = NodeContext(
            node_id=node.id,
            params=node.params,
            run=self.context,
            items=items,
            node_views=self.views,
            attempt=ATTEMPT,
        )
        try:
            output = node_type().execute(ctx, items)
            return NodeOutcome(SUCCEEDED, _checked_output(output, node_type))
        except NodeError as error:
            return _failed(error.locate(node_id=node.id).as_dict())
        # A node is user-facing code calling the outside world: whatever it raises fails
        # the node, never the worker.
        except Exception as error:
            return _failed({"message": f"{type(error).__name__}: {error}", "node_id": node.id})

    def _record(self, node: Node, outcome: NodeOutcome) -> None:
        self.outcomes[node.id] = outcome
        items = _first_items(outcome.output)
        self.views[node.id] = {"items": items, "json": items[0] if items else {}}

    def _result(
        self, order: tuple[Node, ...], status: str, error: dict[str, Any] | None
    ) -> RunResult:
        last_items: Items = []
        for node in reversed(order):
            outcome = self.outcomes.get(node.id)
            if outcome is not None and outcome.status == SUCCEEDED:
                last_items = _first_items(outcome.output)
                if last_items:
                    break
        return RunResult(status, self.outcomes, error, last_items)


def _resolve(type_name: str) -> type[NodeType] | None:
    try:
        return get_node_type(type_name)
    except Exception:  # a broken plugin registration fails its nodes, not the run loop
        return None


def _failed(error: dict[str, Any]) -> NodeOutcome:
    return NodeOutcome(FAILED, {}, error)


def _first_items(output: Mapping[str, Items]) -> Items:
    """The "main" port's items, else the first port that has any."""
    main = output.get(DEFAULT_PORT)
    if main:
        return main
    return next((items for items in output.values() if items), [])


def _checked_output(output: object, node_type: type[NodeType]) -> dict[str, Items]:
    """Reject output a host could not store or route: unknown ports, non-object items."""
    if not isinstance(output, dict):
        raise TypeError(f"{node_type.type} returned {type(output).__name__}, not a dict")
    for port, items in output.items():
        if port not in node_type.outputs:
            raise TypeError(f"{node_type.type} emitted on unknown port {port!r}")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise TypeError(f"{node_type.type} emitted non-object items on port {port!r}")
    return output
