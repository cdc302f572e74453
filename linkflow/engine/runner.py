"""Run a graph: execute its nodes in order, pass items along edges, report to an observer.

The runner does no I/O itself; nodes do theirs through the RunContext, and the observer
(the host) records progress. It is on the hot path of every execution, so per node it only
gathers inputs from precomputed edges, calls the node and reports.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from linkflow.engine.context import NodeContext, RunContext
from linkflow.engine.errors import NodeError, Suspend
from linkflow.engine.graph import DEFAULT_PORT, ERROR_PORT, Graph, Node
from linkflow.engine.observer import Observer
from linkflow.engine.registry import Items, NodeType, get_node_type

SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
WAITING = "waiting"
# Back-off grows as backoff_seconds * 2^(attempt-1), randomised by +-20% so that many
# executions failing together do not retry together, and never beyond an hour.
MAX_BACKOFF_SECONDS = 3600.0
JITTER = 0.2


@dataclass
class NodeOutcome:
    """What one node did: ``status`` is "succeeded", "failed", "skipped" or "waiting";
    ``output`` maps port -> items; ``error`` is set on failure, and also on success when
    ``on_error`` turned the failure into items: ``{"message", "node_id", "param"?, ...}``,
    or when the node left notes (``NodeContext.note``): ``{..., "warning": true}``.
    ``resume_at`` is set when the node suspended (status "waiting")."""

    status: str
    output: dict[str, Items] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    resume_at: datetime | None = None


@dataclass
class RunResult:
    """How a run ended: "succeeded", "failed", "cancelled", or "waiting" (parked until
    ``resume_at``: a node suspended, or failed with retries left).

    ``outcomes`` has every node decided in this run or reused from ``completed``, in run
    order. ``error`` is the failing node's error, or ``{"message": "cancelled"}``.
    ``last_items`` are the items of the last node, in run order, that succeeded and emitted
    any (its "main" port first, else its first non-empty port). ``response`` is what a
    webhook.respond node set, if any.
    """

    status: str
    outcomes: dict[str, NodeOutcome]
    error: dict[str, Any] | None
    last_items: Items
    resume_at: datetime | None = None
    response: dict[str, Any] | None = None


def run_graph(
    graph: Graph,
    *,
    context: RunContext,
    observer: Observer,
    completed: Mapping[str, NodeOutcome] | None = None,
    attempts: Mapping[str, int] | None = None,
) -> RunResult:
    """Run ``graph`` to the end, the first failure, a suspension, or until
    ``observer.should_stop()``.

    Nodes run in ``graph.topological_order()``. A node in ``completed`` (outcomes recorded
    by an earlier run of this execution) is not run again and not reported; its output
    feeds its successors. Failed outcomes there are ignored, so those nodes run again; a
    "waiting" one runs again with ``suspended_until`` set. ``attempts`` gives the number
    of failed attempts a node already had (retries continue the count).
    A node whose incoming edges bring no items is skipped (only ``node_finished`` is
    called). A failing node with ``retry`` attempts left parks the run ("waiting"); one
    whose ``on_error`` is "continue" or "error_output" emits its error as items; otherwise
    the run fails. Only exceptions raised by the observer itself propagate.
    """
    try:
        order = graph.topological_order()
    except ValueError as error:  # an unvalidated graph; report it like any failure
        return RunResult(FAILED, {}, {"message": str(error), "node_id": None}, [])
    run = _Run(
        graph=graph,
        context=context,
        observer=observer,
        completed=completed or {},
        attempts=attempts or {},
    )
    return run.execute(order)


class _Run:
    def __init__(
        self,
        *,
        graph: Graph,
        context: RunContext,
        observer: Observer,
        completed: Mapping[str, NodeOutcome],
        attempts: Mapping[str, int],
    ) -> None:
        self.graph = graph
        self.context = context
        self.observer = observer
        self.completed = completed
        self.attempts = attempts
        self.outcomes: dict[str, NodeOutcome] = {}
        # what expressions see as `nodes`: node id -> {"items": [...], "json": {...}}
        self.views: dict[str, dict[str, Any]] = {}

    def execute(self, order: tuple[Node, ...]) -> RunResult:
        for node in order:
            reused = self.completed.get(node.id)
            if reused is not None and reused.status in (SUCCEEDED, SKIPPED):
                self._record(node, reused)
                continue
            if self.observer.should_stop():
                return self._result(order, CANCELLED, {"message": "cancelled"})
            if self._past_deadline():
                error = {"message": "The execution exceeded its time limit.", "node_id": node.id}
                return self._result(order, FAILED, {**error, "code": "execution_timeout"})
            outcome = self._decide(node, reused)
            self._record(node, outcome)
            if outcome.status == WAITING:
                return self._result(order, WAITING, None, resume_at=outcome.resume_at)
            if outcome.status == FAILED:
                retry_at = self._retry_at(node)
                if retry_at is not None:
                    return self._result(order, WAITING, outcome.error, resume_at=retry_at)
                return self._result(order, FAILED, outcome.error)
        return self._result(order, SUCCEEDED, None)

    def _past_deadline(self) -> bool:
        deadline = self.context.deadline
        return deadline is not None and self.context.clock() >= deadline

    def _attempt(self, node: Node) -> int:
        return self.attempts.get(node.id, 0) + 1

    def _retry_at(self, node: Node) -> datetime | None:
        """When to try the failed node again, or None when its retries are used up."""
        retry = node.retry or {}
        attempt = self._attempt(node)
        if attempt >= int(retry.get("max_attempts", 1)):
            return None
        base = float(retry.get("backoff_seconds", 1.0)) * 2 ** (attempt - 1)
        delay = min(base, MAX_BACKOFF_SECONDS) * random.uniform(1 - JITTER, 1 + JITTER)
        return self.context.clock() + timedelta(seconds=delay)

    def _decide(self, node: Node, earlier: NodeOutcome | None) -> NodeOutcome:
        node_type = _resolve(node.type)
        inputs = self._inputs(node)
        items = [item for per_edge in inputs for item in per_edge]
        if self._skips(node, node_type, items):
            return self._skip(node, items)
        suspended_until = earlier.resume_at if earlier and earlier.status == WAITING else None
        return self._execute(node, node_type, items, inputs, suspended_until)

    def _skip(self, node: Node, items: Items) -> NodeOutcome:
        now = self.context.clock()
        outcome = NodeOutcome(SKIPPED)
        self.observer.node_finished(
            node_id=node.id,
            node_type=node.type,
            attempt=self._attempt(node),
            input=items,
            outcome=outcome,
            started_at=now,
            finished_at=now,
        )
        return outcome

    def _execute(
        self,
        node: Node,
        node_type: type[NodeType] | None,
        items: Items,
        inputs: list[Items],
        suspended_until: datetime | None,
    ) -> NodeOutcome:
        attempt = self._attempt(node)
        self.observer.node_started(
            node_id=node.id, node_type=node.type, attempt=attempt, input=items
        )
        started_at = self.context.clock()
        ctx = NodeContext(
            node_id=node.id,
            params=node.params,
            run=self.context,
            items=items,
            node_views=self.views,
            attempt=attempt,
            inputs=inputs,
            credential_id=node.credential,
            timeout_seconds=node.timeout_seconds,
            suspended_until=suspended_until,
        )
        outcome = self._call(node, node_type, ctx, items)
        if outcome.status == FAILED and node.on_error != "fail" and not self._retries_left(node):
            outcome = _error_as_items(node, outcome, items)
        self.observer.node_finished(
            node_id=node.id,
            node_type=node.type,
            attempt=attempt,
            input=items,
            outcome=outcome,
            started_at=started_at,
            finished_at=self.context.clock(),
        )
        return outcome

    def _retries_left(self, node: Node) -> bool:
        return self._attempt(node) < int((node.retry or {}).get("max_attempts", 1))

    def _inputs(self, node: Node) -> list[Items]:
        """The items of each incoming edge, in edge order."""
        inputs: list[Items] = []
        for edge in self.graph.incoming(node.id):
            source = self.outcomes.get(edge.source)
            inputs.append(list(source.output.get(edge.output, ())) if source else [])
        return inputs

    def _skips(self, node: Node, node_type: type[NodeType] | None, items: Items) -> bool:
        is_trigger = node_type.is_trigger if node_type else node.type.startswith("trigger.")
        if is_trigger:
            chosen = self.context.trigger_node_id
            return chosen is not None and chosen != node.id
        return not items  # no items came in, or nothing leads here at all

    def _call(
        self, node: Node, node_type: type[NodeType] | None, ctx: NodeContext, items: Items
    ) -> NodeOutcome:
        if node.disabled:
            port = node_type.outputs[0] if node_type else DEFAULT_PORT
            return NodeOutcome(SUCCEEDED, {port: items})
        if node_type is None:
            return _failed({"message": f"Unknown node type '{node.type}'.", "node_id": node.id})
        try:
            output = node_type().execute(ctx, items)
            if node_type.pure and node.timeout_seconds is not None:
                # A pure node that overran (in C, between its checks) fails as timed out:
                # its result came too late, and redoing a pure node costs nothing.
                ctx.check_time()
            return NodeOutcome(SUCCEEDED, _checked_output(output, node_type), _notes(node, ctx))
        except Suspend as suspend:
            return NodeOutcome(WAITING, resume_at=suspend.resume_at)
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
        self,
        order: tuple[Node, ...],
        status: str,
        error: dict[str, Any] | None,
        *,
        resume_at: datetime | None = None,
    ) -> RunResult:
        last_items: Items = []
        for node in reversed(order):
            outcome = self.outcomes.get(node.id)
            if outcome is not None and outcome.status == SUCCEEDED:
                last_items = _first_items(outcome.output)
                if last_items:
                    break
        return RunResult(status, self.outcomes, error, last_items, resume_at, self.context.response)


def _resolve(type_name: str) -> type[NodeType] | None:
    try:
        return get_node_type(type_name)
    except Exception:  # a broken plugin registration fails its nodes, not the run loop
        return None


def _notes(node: Node, ctx: NodeContext) -> dict[str, Any] | None:
    """A succeeded node's notes, stored where a run's problems are, marked as a warning."""
    if not ctx.notes:
        return None
    return {"message": " ".join(ctx.notes), "node_id": node.id, "warning": True}


def _failed(error: dict[str, Any]) -> NodeOutcome:
    return NodeOutcome(FAILED, {}, error)


def _error_as_items(node: Node, failed: NodeOutcome, items: Items) -> NodeOutcome:
    """on_error "continue": the error goes on as the item(s) of "main"; "error_output":
    the input items, each with the error, leave by the "error" port. The run goes on."""
    error = failed.error or {"message": "failed", "node_id": node.id}
    if node.on_error == "continue":
        return NodeOutcome(SUCCEEDED, {DEFAULT_PORT: [{"error": error}]}, error)
    carried = [{**item, "error": error} for item in items] or [{"error": error}]
    return NodeOutcome(SUCCEEDED, {ERROR_PORT: carried}, error)


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
