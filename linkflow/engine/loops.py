"""Loops and pages: work a node does in turns, each turn recorded under an iteration index.

A loop is a flow.batch node, the body its "loop" port leads to, and an edge from the body
back into it (graph.loop_bodies). The runner's one pass over the graph leaves the body
out; when it reaches the flow.batch node, ``run_loop`` runs the body once per batch of
``batch_size`` items, each body node's NodeRun carrying the batch's iteration (1, 2, ...),
and emits on "done" everything the body sent back. After each batch the flow.batch node
is checkpointed ("running", with the results so far and the input items done), so a
crash resumes at the next batch, and a body node recorded as done in the batch it crashed
in is not run again either.

An HTTP request that follows pages records each page the same way (``PageLog``): the
page's response as a NodeRun with the page's iteration, committed before the next page is
asked for, so a crash or a retry fetches only the pages not yet stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from linkflow.engine.graph import DONE_PORT, LOOP_PORT, Node
from linkflow.engine.items import ItemRecord, Source
from linkflow.engine.nodes.flow_batch import MAX_ITERATIONS
from linkflow.engine.outcomes import (
    CANCELLED,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    WAITING,
    NodeOutcome,
)
from linkflow.engine.registry import Items

if TYPE_CHECKING:
    from linkflow.engine.runner import _Run

ITERATION_SEPARATOR = "#"


def iteration_key(node_id: str, iteration: int) -> str:
    """The key of a node's outcome in one iteration among a run's ``completed`` outcomes
    (node ids cannot hold "#"; iteration 0, outside any loop, is the plain node id)."""
    return node_id if iteration == 0 else f"{node_id}{ITERATION_SEPARATOR}{iteration}"


def run_loop(run: _Run, node: Node, earlier: NodeOutcome | None) -> tuple[Node, NodeOutcome]:
    """Run the loop of the flow.batch ``node``; return the node that decides how the run
    goes on and its outcome: ``node`` itself (succeeded, skipped, failed when the loop
    would take more than MAX_ITERATIONS batches, cancelled), or the body node that failed
    or suspended (the run then fails, retries or waits as for any node; on resume the
    loop goes on at that batch)."""
    items = [item for per_edge in _forward_inputs(run, node) for item in per_edge]
    body = run.graph.loop_body(node.id)
    if not items or node.disabled:
        outcome = _passed_on(items) if node.disabled and items else NodeOutcome(SKIPPED)
        run._skip(node, items, outcome)
        for member in body:
            run._record(member, run._skip(member, [], NodeOutcome(SKIPPED)))
        return node, outcome
    return _Loop(run, node, body, items).execute(earlier)


class _Loop:
    def __init__(self, run: _Run, node: Node, body: tuple[Node, ...], items: Items) -> None:
        self.run, self.node, self.body, self.items = run, node, body, items
        self.size = int(node.params.get("batch_size", 10))
        self.batches = [items[at : at + self.size] for at in range(0, len(items), self.size)]
        # The edges that bring a batch's results back into the loop node.
        self.back = [e for e in run.graph.incoming(node.id) if run.graph.is_back_edge(e)]
        self.attempt = run._attempt(node)

    def execute(self, earlier: NodeOutcome | None) -> tuple[Node, NodeOutcome]:
        started_at = self.run.context.clock()
        if len(self.batches) > MAX_ITERATIONS:
            return self.node, self._finish(self._too_many(), started_at)
        first, collected = self._resumed(earlier)
        self.run.observer.node_started(
            node_id=self.node.id, node_type=self.node.type, attempt=self.attempt, input=self.items
        )
        for iteration in range(first, len(self.batches) + 1):
            if self.run.observer.should_stop():
                return self.node, NodeOutcome(CANCELLED)
            stopped = self._iterate(iteration)
            if stopped is not None:
                return stopped
            collected.extend(self._came_back())
            self._checkpoint(iteration, collected, started_at)
        record = self._record(len(self.batches), collected)
        done = NodeOutcome(SUCCEEDED, {DONE_PORT: collected, LOOP_PORT: []}, items=record)
        return self.node, self._finish(done, started_at)

    def _resumed(self, earlier: NodeOutcome | None) -> tuple[int, Items]:
        """The first batch still to run and what the batches before it sent back, from the
        loop node's last checkpoint (none: from the first batch)."""
        record = earlier.items if earlier is not None else None
        if earlier is None or earlier.status != RUNNING or record is None:
            return 1, []
        if record.inputs != len(self.items):
            return 1, []  # not the items the checkpoint was made for
        finished = len(record.done) // self.size
        return finished + 1, list(earlier.output.get(DONE_PORT, ()))

    def _iterate(self, iteration: int) -> tuple[Node, NodeOutcome] | None:
        """Run the body on batch ``iteration``; the body node that stopped it and its
        outcome when one failed or suspended."""
        run = self.run
        batch = self.batches[iteration - 1]
        # The batch's items come from the loop's input items (nodes.<id>.item in the body).
        first = (iteration - 1) * self.size
        sources: list[Source] = list(range(first, first + len(batch)))
        record = ItemRecord(inputs=len(self.items), per_item=False, lineage={LOOP_PORT: sources})
        run.outcomes[self.node.id] = NodeOutcome(RUNNING, {LOOP_PORT: batch}, items=record)
        run.iteration = iteration
        try:
            for member in self.body:
                reused = run.completed.get(iteration_key(member.id, iteration))
                if reused is not None and reused.status in (SUCCEEDED, SKIPPED):
                    run._record(member, reused)
                    continue
                outcome = run._decide(member, reused)
                run._record(member, outcome)
                if outcome.status in (WAITING, FAILED):
                    return member, outcome
        finally:
            run.iteration = 0
        return None

    def _came_back(self) -> Items:
        results: Items = []
        for edge in self.back:
            source = self.run.outcomes.get(edge.source)
            if source is not None and source.status == SUCCEEDED:
                results.extend(source.output.get(edge.output, ()))
        return results

    def _record(self, batches_done: int, collected: Items) -> ItemRecord:
        """The loop node's items record: the input items of the finished batches are done
        (what a resumed run counts batches by)."""
        record = ItemRecord(inputs=len(self.items), per_item=True)
        finished = min(batches_done * self.size, len(self.items))
        record.done = {index: {} for index in range(finished)}
        record.lineage = {DONE_PORT: [None] * len(collected)}
        return record

    def _checkpoint(self, iteration: int, collected: Items, started_at: datetime) -> None:
        report = getattr(self.run.observer, "node_progress", None)
        if report is None or iteration == len(self.batches):
            return  # the last batch is stored with the loop node's end
        report(
            node_id=self.node.id,
            node_type=self.node.type,
            attempt=self.attempt,
            input=self.items,
            outcome=NodeOutcome(
                RUNNING, {DONE_PORT: list(collected)}, items=self._record(iteration, collected)
            ),
            started_at=started_at,
        )

    def _too_many(self) -> NodeOutcome:
        error = {
            "message": (
                f"The loop would take {len(self.batches)} batches of {self.size}; at most "
                f"{MAX_ITERATIONS} are allowed. Raise batch_size or split the items first."
            ),
            "node_id": self.node.id,
            "code": "loop_iterations_exceeded",
            "param": "params.batch_size",
        }
        return NodeOutcome(
            FAILED, {}, error, items=ItemRecord(inputs=len(self.items), per_item=False)
        )

    def _finish(self, outcome: NodeOutcome, started_at: datetime) -> NodeOutcome:
        self.run.observer.node_finished(
            node_id=self.node.id,
            node_type=self.node.type,
            attempt=self.attempt,
            input=self.items,
            outcome=outcome,
            started_at=started_at,
            finished_at=self.run.context.clock(),
        )
        return outcome


def _forward_inputs(run: _Run, node: Node) -> list[Items]:
    """The items of the edges into the loop node that are not its loop's way back."""
    inputs = []
    for edge in run.graph.incoming(node.id):
        if run.graph.is_back_edge(edge):
            continue
        source = run.outcomes.get(edge.source)
        inputs.append(list(source.output.get(edge.output, ())) if source else [])
    return inputs


def _passed_on(items: Items) -> NodeOutcome:
    """A disabled loop: its items leave by "done" unchanged, the body does not run."""
    record = ItemRecord(inputs=len(items), per_item=False, skipped="disabled")
    record.done = {index: {DONE_PORT: [item]} for index, item in enumerate(items)}
    return NodeOutcome(SKIPPED, record.merged(items, (DONE_PORT,), on_error="fail"), items=record)


class PageLog:
    """The pages a node following pages (http.request) stored so far, per input item, and
    the way to store the next one: as the node's outcome in the page's iteration,
    committed by the host before the next page is fetched."""

    def __init__(self, run: _Run, node: Node, attempt: int, items: Items) -> None:
        self._run, self._node, self._attempt, self._items = run, node, attempt, items
        self._stored: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        prefix = node.id + ITERATION_SEPARATOR
        self._next = 1
        for key, outcome in run.completed.items():
            if not key.startswith(prefix) or outcome.status != SUCCEEDED:
                continue
            iteration = int(key[len(prefix) :])
            self._next = max(self._next, iteration + 1)
            for index, emitted in (outcome.items.done if outcome.items else {}).items():
                for page in emitted.get("main", ()):
                    self._stored.setdefault(index, []).append((iteration, page))

    def stored(self, index: int) -> Items:
        """The pages stored for input item ``index``, in the order they were fetched."""
        return [page for _, page in sorted(self._stored.get(index, ()), key=lambda p: p[0])]

    def store(self, index: int, page: dict[str, Any], *, started_at: datetime) -> None:
        """Record ``page`` (one response item) of input item ``index`` as done."""
        iteration, self._next = self._next, self._next + 1
        record = ItemRecord(inputs=len(self._items), per_item=True)
        record.done = {index: {"main": [page]}}
        record.lineage = {"main": [index]}
        self._stored.setdefault(index, []).append((iteration, page))
        self._run.observer.node_finished(
            node_id=self._node.id,
            node_type=self._node.type,
            attempt=self._attempt,
            input=[self._items[index]],
            outcome=NodeOutcome(SUCCEEDED, {"main": [page]}, items=record),
            started_at=started_at,
            finished_at=self._run.context.clock(),
            iteration=iteration,
        )


def page_log(run: _Run, node: Node, attempt: int, items: Items) -> PageLog | None:
    """A PageLog for a node that follows pages, outside a loop (in a loop body the batch is
    the checkpoint, and one iteration index per NodeRun is all there is)."""
    if run.iteration or not node.params.get("pagination"):
        return None
    return PageLog(run, node, attempt, items)
