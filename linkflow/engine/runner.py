"""Run a graph: execute its nodes in order, pass items along edges, report to an observer.

The runner does no I/O itself; nodes do theirs through the RunContext, and the observer
(the host) records progress. It is on the hot path of every execution, so per node it only
gathers inputs from precomputed edges, calls the node and reports.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from linkflow.engine.context import NodeContext, NodeViews, RunContext
from linkflow.engine.errors import NodeError, Suspend
from linkflow.engine.graph import DEFAULT_PORT, ERROR_PORT, LOOP_TYPE, Graph, Node
from linkflow.engine.items import ItemRecord, batch_lineage, whole_node_lineage
from linkflow.engine.lineage import ItemTrail
from linkflow.engine.loops import page_log, run_loop
from linkflow.engine.observer import Observer
from linkflow.engine.outcomes import (
    CANCELLED,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    WAITING,
    NodeOutcome,
)
from linkflow.engine.registry import Items, NodeType, get_node_type, item_ports

# A node with outside effects that handles items one by one is checkpointed after an item
# once this many items or seconds went by since the last checkpoint: after a crash, at
# most that much finished work is done again (docs/nodes.md, "Retries").
CHECKPOINT_ITEMS = 10
CHECKPOINT_SECONDS = 1.0
# Back-off grows as backoff_seconds * 2^(attempt-1), randomised by +-20% so that many
# executions failing together do not retry together, and never beyond an hour.
MAX_BACKOFF_SECONDS = 3600.0
JITTER = 0.2


@dataclass
class RunResult:
    """How a run ended: "succeeded", "failed", "cancelled", or "waiting" (parked until
    ``resume_at``: a node suspended, or failed with retries left).

    ``outcomes`` has every node decided in this run or reused from ``completed``, in run
    order. ``error`` is the failing node's error, or ``{"message": "cancelled"}``.
    ``last_items`` are the items of the last node, in run order, that succeeded and emitted
    any (its "main" port first, else its first non-empty port); trigger nodes do not count,
    so a run whose branch did nothing has none (a sync webhook never echoes its request).
    ``response`` is what a webhook.respond node set, if any.
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
    feeds its successors. Failed, "running" (a checkpoint) and "waiting" outcomes there
    run again: a waiting one with ``suspended_until`` set, and a node that handles items
    one by one only for the items its ``items`` record does not show as done.
    ``attempts`` gives the number of failed attempts a node already had (retries continue
    the count). A node whose incoming edges bring no items is skipped (only
    ``node_finished`` is called); so is a disabled node, which passes its items on
    unchanged. A failing node with ``retry`` attempts left parks the run ("waiting");
    one whose ``on_error`` is "continue" or "error_output" emits its failures as items
    (per item from its type's ``item_errors_since`` version on); otherwise the run fails.
    Only exceptions raised by the observer itself propagate.
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
        self.views = NodeViews(
            (node.id for node in graph.nodes), trail=ItemTrail(graph=graph, outcomes=self.outcomes)
        )
        # The batch a loop body runs for (engine/loops.py); 0 outside any loop.
        self.iteration = 0

    def execute(self, order: tuple[Node, ...]) -> RunResult:
        for node in order:
            if self.graph.in_loop_body(node.id):
                continue  # its loop node runs it, once per batch
            reused = self.completed.get(node.id)
            if reused is not None and reused.status in (SUCCEEDED, SKIPPED):
                self._record(node, reused)
                continue
            if self.observer.should_stop():
                return self._result(order, CANCELLED, {"message": "cancelled"})
            if self._past_deadline():
                error = {"message": "The execution exceeded its time limit.", "node_id": node.id}
                return self._result(order, FAILED, {**error, "code": "execution_timeout"})
            if node.type == LOOP_TYPE:
                node, outcome = run_loop(self, node, reused)
            else:
                outcome = self._decide(node, reused)
            self._record(node, outcome)
            if outcome.status == CANCELLED:
                return self._result(order, CANCELLED, {"message": "cancelled"})
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
            return self._skip(node, items, NodeOutcome(SKIPPED))
        if node.disabled:
            return self._skip(node, items, _passed_on(node, node_type, items))
        if node.execute_once and len(items) > 1:
            items, inputs = items[:1], _first_only(inputs)
        suspended_until = earlier.resume_at if earlier and earlier.status == WAITING else None
        done = earlier.items if earlier is not None else None
        return self._execute(node, node_type, items, inputs, suspended_until, done)

    def _skip(self, node: Node, items: Items, outcome: NodeOutcome) -> NodeOutcome:
        now = self.context.clock()
        self.observer.node_finished(
            node_id=node.id,
            node_type=node.type,
            attempt=self._attempt(node),
            input=items,
            outcome=outcome,
            started_at=now,
            finished_at=now,
            **self._at(),
        )
        return outcome

    def _execute(
        self,
        node: Node,
        node_type: type[NodeType] | None,
        items: Items,
        inputs: list[Items],
        suspended_until: datetime | None,
        earlier: ItemRecord | None,
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
            version=node.version,
            pages=page_log(self, node, attempt, items),
        )
        if node_type is None:
            error = {"message": f"Unknown node type '{node.type}'.", "node_id": node.id}
            outcome = _failed(error)
        elif node_type.handles_items(node.params, node.version):
            outcome = self._per_item(node, node_type, ctx, items, earlier, started_at)
        else:
            outcome = self._batch(node, node_type, ctx, items)
        self.observer.node_finished(
            node_id=node.id,
            node_type=node.type,
            attempt=attempt,
            input=items,
            outcome=outcome,
            started_at=started_at,
            finished_at=self.context.clock(),
            **self._at(),
        )
        return outcome

    def _at(self) -> dict[str, int]:
        """The loop batch to report a node run in, for observers (none outside loops)."""
        return {"iteration": self.iteration} if self.iteration else {}

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

    def _batch(
        self, node: Node, node_type: type[NodeType], ctx: NodeContext, items: Items
    ) -> NodeOutcome:
        """A node that takes its items at once: it succeeds or fails as a whole."""
        record = ItemRecord(inputs=len(items), per_item=False)
        try:
            output = node_type().execute(ctx, items)
            output = _checked_output(output, node_type, node_type.ports(node.params, node.version))
            if node_type.pure and node.timeout_seconds is not None:
                # A pure node that overran (in C, between its checks) fails as timed out:
                # its result came too late, and redoing a pure node costs nothing.
                ctx.check_time()
        except Suspend as suspend:
            return NodeOutcome(WAITING, resume_at=suspend.resume_at, items=record)
        except Exception as error:  # see _error_of
            failure = _error_of(node, error)
            record.failed = dict.fromkeys(range(len(items)), failure)
            return self._failures(node, node_type, items, record, {}, failure)
        record.done = {index: {} for index in range(len(items))}
        record.lineage = batch_lineage(output, items, declared=ctx.sources)
        return NodeOutcome(SUCCEEDED, output, _notes(node, ctx), items=record)

    def _per_item(
        self,
        node: Node,
        node_type: type[NodeType],
        ctx: NodeContext,
        items: Items,
        earlier: ItemRecord | None,
        started_at: datetime,
    ) -> NodeOutcome:
        """Run ``execute_item`` for each input item not done in an earlier attempt, in
        order. With ``on_error`` "fail" (or at a type version before per-item errors) the
        first failing item ends the loop: the node fails anyway, so no further outside
        effects are caused; otherwise every item is tried."""
        record = ItemRecord(inputs=len(items), per_item=True)
        if earlier is not None and earlier.per_item and earlier.inputs == len(items):
            record.done = dict(earlier.done)  # what succeeded before is never sent again
        ports = node_type.ports(node.params, node.version)
        stop_at_failure = node.on_error == "fail" or node.version < node_type.item_errors_since
        pending = [index for index in range(len(items)) if index not in record.done]
        instance = node_type()
        checkpoint = _Checkpoint(enabled=not node_type.pure)
        try:
            if pending:
                instance.setup(ctx)
        except Suspend as suspend:
            return NodeOutcome(WAITING, resume_at=suspend.resume_at, items=record)
        except Exception as error:  # see _error_of
            failure = _error_of(node, error)
            record.failed = dict.fromkeys(pending[:1] if stop_at_failure else pending, failure)
            pending = []
        for position, index in enumerate(pending):
            try:
                produced = item_ports(instance.execute_item(ctx, items[index], index))
                record.done[index] = _checked_item(produced, node_type, ports)
            except Suspend as suspend:
                return NodeOutcome(WAITING, resume_at=suspend.resume_at, items=record)
            except Exception as error:  # see _error_of
                record.failed[index] = _error_of(node, error, item=index)
                if stop_at_failure:
                    break
            if position + 1 < len(pending) and checkpoint.due():
                self._checkpoint(node, ctx, items, record, ports, started_at)
        if not record.failed:
            output = record.merged(items, ports, on_error="fail")
            return NodeOutcome(SUCCEEDED, output, _notes(node, ctx), items=record)
        first = record.failed[min(record.failed)]
        return self._failures(node, node_type, items, record, ports, first)

    def _failures(
        self,
        node: Node,
        node_type: type[NodeType],
        items: Items,
        record: ItemRecord,
        ports: tuple[str, ...] | dict[str, Items],
        first: dict[str, Any],
    ) -> NodeOutcome:
        """The outcome of a node some of whose items failed (``first`` is the first error).

        Retries left, or ``on_error`` "fail": the node fails, keeping what the succeeded
        items emitted. Otherwise ``on_error`` turns the failures into items: per item from
        the type's ``item_errors_since`` version on, for the whole node before it."""
        port_names = tuple(ports)
        if node.on_error == "fail" or self._retries_left(node):
            # Only what the succeeded items emitted: the next attempt starts from it.
            output = record.merged(items, (), on_error="fail")
            return NodeOutcome(FAILED, output, first, items=record)
        if node.version < node_type.item_errors_since:
            outcome = _error_as_items(node, NodeOutcome(FAILED, {}, first), items)
            record.lineage = whole_node_lineage(outcome.output, len(items))
            outcome.items = record
            return outcome
        output = record.merged(items, port_names, on_error=node.on_error)
        return NodeOutcome(SUCCEEDED, output, first, items=record)

    def _checkpoint(
        self,
        node: Node,
        ctx: NodeContext,
        items: Items,
        record: ItemRecord,
        ports: tuple[str, ...],
        started_at: datetime,
    ) -> None:
        """Let the host store the items done so far, so a crash does not repeat them."""
        report = getattr(self.observer, "node_progress", None)
        if report is None:
            return
        output = record.merged(items, ports, on_error="fail")
        report(
            node_id=node.id,
            node_type=node.type,
            attempt=ctx.attempt,
            input=items,
            outcome=NodeOutcome(RUNNING, output, items=record),
            started_at=started_at,
            **self._at(),
        )

    def _record(self, node: Node, outcome: NodeOutcome) -> None:
        self.outcomes[node.id] = outcome
        if outcome.status == SKIPPED and not outcome.output:
            self.views.set(node.id, None)  # expressions naming it learn it did not run
            return
        items = _first_items(outcome.output)
        self.views.set(node.id, {"items": items, "json": items[0] if items else {}})

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
            if outcome is not None and outcome.status == SUCCEEDED and not _is_trigger(node):
                last_items = _first_items(outcome.output)
                if last_items:
                    break
        return RunResult(status, self.outcomes, error, last_items, resume_at, self.context.response)


def _first_only(inputs: list[Items]) -> list[Items]:
    """execute_once: only the first item, on the edge it came by."""
    first = next(index for index, per_edge in enumerate(inputs) if per_edge)
    return [per_edge[:1] if index == first else [] for index, per_edge in enumerate(inputs)]


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


def _is_trigger(node: Node) -> bool:
    node_type = _resolve(node.type)
    return node_type.is_trigger if node_type else node.type.startswith("trigger.")


def _failed(error: dict[str, Any]) -> NodeOutcome:
    return NodeOutcome(FAILED, {}, error)


def _error_of(node: Node, error: Exception, *, item: int | None = None) -> dict[str, Any]:
    """A node's failure as stored. A node is user-facing code calling the outside world:
    whatever it raises fails the node (or the item), never the worker."""
    if isinstance(error, NodeError):
        return error.locate(node_id=node.id, item=item).as_dict()
    failure = {"message": f"{type(error).__name__}: {error}", "node_id": node.id}
    return failure if item is None else {**failure, "item": item}


def _passed_on(node: Node, node_type: type[NodeType] | None, items: Items) -> NodeOutcome:
    """A disabled node: its items, unchanged, on its first port, recorded as skipped."""
    ports = node_type.ports(node.params, node.version) if node_type else (DEFAULT_PORT,)
    record = ItemRecord(inputs=len(items), per_item=False, skipped="disabled")
    record.done = {index: {ports[0]: [item]} for index, item in enumerate(items)}
    return NodeOutcome(SKIPPED, record.merged(items, ports[:1], on_error="fail"), items=record)


class _Checkpoint:
    """Says when a node with outside effects should be checkpointed again."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.items = 0
        self.last = time.monotonic()

    def due(self) -> bool:
        if not self.enabled:
            return False
        self.items += 1
        now = time.monotonic()
        if self.items < CHECKPOINT_ITEMS and now - self.last < CHECKPOINT_SECONDS:
            return False
        self.items, self.last = 0, now
        return True


def _checked_item(
    produced: dict[str, Items], node_type: type[NodeType], ports: tuple[str, ...]
) -> dict[str, Items]:
    return _checked_output(produced, node_type, ports)


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


def _checked_output(
    output: object, node_type: type[NodeType], ports: tuple[str, ...]
) -> dict[str, Items]:
    """Reject output a host could not store or route: unknown ports, non-object items."""
    if not isinstance(output, dict):
        raise TypeError(f"{node_type.type} returned {type(output).__name__}, not a dict")
    for port, items in output.items():
        if port not in ports:
            raise TypeError(f"{node_type.type} emitted on unknown port {port!r}")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise TypeError(f"{node_type.type} emitted non-object items on port {port!r}")
    return output
