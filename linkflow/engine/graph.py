"""The workflow graph as the runner sees it, and the graph algorithms validation shares."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PORT = "main"
# The extra port of a node whose on_error is "error_output": failed items leave by it.
ERROR_PORT = "error"
# The version of a stored node that records none (docs/nodes.md, "Versions").
UNVERSIONED = 1
# The node type that may close a loop, and its ports (docs/execution.md, "Loops"): items
# leave in batches by "loop" and come back over the edges into the node from the loop's
# body; when every batch has been round, all that came back leaves by "done".
LOOP_TYPE = "flow.batch"
LOOP_PORT = "loop"
DONE_PORT = "done"


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a graph. ``index`` is its position in the stored ``nodes`` list, which
    breaks ties in the execution order."""

    id: str
    type: str
    index: int
    name: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    disabled: bool = False
    credential: str | None = None
    retry: Mapping[str, Any] | None = None
    timeout_seconds: float | None = None
    on_error: str = "fail"
    # The node type's version the node was saved with; 1 when the stored node has none
    # (every node saved before versions existed behaves as version 1).
    version: int = 1
    # Run for the first input item only (n8n's "Execute Once").
    execute_once: bool = False


@dataclass(frozen=True, slots=True)
class Edge:
    """Items emitted by ``source`` on its ``output`` port flow into ``target``."""

    source: str
    target: str
    output: str = DEFAULT_PORT


@dataclass(frozen=True)
class Graph:
    """An immutable, already validated workflow graph with its lookups precomputed.

    Build it with ``Graph.from_dict`` after ``validate_graph`` returned no problems.
    Constructing a graph with duplicate node ids or edges to unknown nodes raises ValueError;
    a cycle is only detected when the order is asked for.
    """

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    _by_id: dict[str, Node] = field(init=False, repr=False, compare=False)
    _incoming: dict[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)
    _outgoing: dict[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)
    _order: tuple[Node, ...] | None = field(init=False, repr=False, compare=False, default=None)
    # Edges that close a loop (into a flow.batch node from its body), and each loop
    # node's body: left out of the order, run by the loop once per batch (engine/loops.py).
    _back: frozenset[Edge] = field(init=False, repr=False, compare=False)
    _bodies: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)
    _looped: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {node.id: node for node in self.nodes}
        if len(by_id) != len(self.nodes):
            raise ValueError("node ids are not unique")
        incoming: dict[str, list[Edge]] = {node.id: [] for node in self.nodes}
        outgoing: dict[str, list[Edge]] = {node.id: [] for node in self.nodes}
        for edge in self.edges:
            if edge.source not in by_id or edge.target not in by_id:
                raise ValueError(f"edge {edge.source} -> {edge.target} names an unknown node")
            incoming[edge.target].append(edge)
            outgoing[edge.source].append(edge)
        # frozen dataclass: the lookups are computed once here and never change
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_incoming", {k: tuple(v) for k, v in incoming.items()})
        object.__setattr__(self, "_outgoing", {k: tuple(v) for k, v in outgoing.items()})
        types = {node.id: node.type for node in self.nodes}
        pairs = [(edge.source, edge.target, edge.output) for edge in self.edges]
        bodies = loop_bodies(types, pairs)
        back = frozenset(
            edge
            for edge in self.edges
            if edge.target in bodies
            and (
                edge.source in bodies[edge.target]
                or (edge.source == edge.target and edge.output == LOOP_PORT)
            )
        )
        object.__setattr__(self, "_back", back)
        object.__setattr__(self, "_bodies", bodies)
        object.__setattr__(self, "_looped", frozenset().union(*bodies.values()))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Graph:
        """Build a graph from its stored JSON form. Assumes ``validate_graph(raw) == []``;
        on unvalidated input it may raise KeyError, TypeError or ValueError."""
        nodes = tuple(_node_from_dict(item, index) for index, item in enumerate(raw["nodes"]))
        edges = tuple(
            Edge(
                source=item["source"],
                target=item["target"],
                output=item.get("output", DEFAULT_PORT),
            )
            for item in raw.get("edges", ())
        )
        return cls(nodes=nodes, edges=edges)

    def node(self, node_id: str) -> Node:
        """The node with this id; KeyError if there is none."""
        return self._by_id[node_id]

    def find(self, node_id: str) -> Node | None:
        """The node with this id, or None (an id from a request or an older version)."""
        return self._by_id.get(node_id)

    def nodes_of_type(self, *types: str, include_disabled: bool = False) -> tuple[Node, ...]:
        """The nodes of any of ``types``, in stored order.

        Disabled nodes are left out unless ``include_disabled``: a disabled trigger starts
        nothing (docs/nodes.md, "Disabled triggers"); only the webhook rows keep theirs.
        """
        wanted = frozenset(types)
        return tuple(
            node
            for node in self.nodes
            if node.type in wanted and (include_disabled or not node.disabled)
        )

    def incoming(self, node_id: str) -> tuple[Edge, ...]:
        """Edges ending at the node, in stored edge order; KeyError for an unknown id."""
        return self._incoming[node_id]

    def outgoing(self, node_id: str) -> tuple[Edge, ...]:
        """Edges starting at the node, in stored edge order; KeyError for an unknown id."""
        return self._outgoing[node_id]

    def is_back_edge(self, edge: Edge) -> bool:
        """True for an edge that closes a loop: it brings a batch's results back."""
        return edge in self._back

    def loop_body(self, node_id: str) -> tuple[Node, ...]:
        """The nodes a flow.batch node runs once per batch, in execution order (empty
        for any other node)."""
        body = self._bodies.get(node_id)
        if not body:
            return ()
        return tuple(node for node in self.topological_order() if node.id in body)

    def in_loop_body(self, node_id: str) -> bool:
        """True when some flow.batch node runs this node, once per batch."""
        return node_id in self._looped

    def downstream(self, node_id: str) -> set[str]:
        """``node_id`` and every node reachable from it along edges."""
        seen = {node_id}
        stack = [node_id]
        while stack:
            for edge in self._outgoing[stack.pop()]:
                if edge.target not in seen:
                    seen.add(edge.target)
                    stack.append(edge.target)
        return seen

    def topological_order(self) -> tuple[Node, ...]:
        """Every node after all of its sources, ties broken by position in ``nodes``.

        Computed once and cached. Raises ValueError if the graph has a cycle.
        """
        order = self._order
        if order is None:
            ids = topological_sort(
                [node.id for node in self.nodes],
                [(e.source, e.target) for e in self.edges if e not in self._back],
            )
            if ids is None:
                raise ValueError("the graph has a cycle")
            order = tuple(self._by_id[node_id] for node_id in ids)
            object.__setattr__(self, "_order", order)
        return order


def _node_from_dict(raw: Mapping[str, Any], index: int) -> Node:
    return Node(
        id=raw["id"],
        type=raw["type"],
        index=index,
        name=raw.get("name"),
        params=raw.get("params") or {},
        disabled=bool(raw.get("disabled", False)),
        credential=raw.get("credential"),
        retry=raw.get("retry"),
        timeout_seconds=raw.get("timeout_seconds"),
        on_error=raw.get("on_error", "fail"),
        version=int(raw.get("version", UNVERSIONED)),
        execute_once=bool(raw.get("execute_once", False)),
    )


def loop_bodies(
    types: Mapping[str, str | None], edges: Sequence[tuple[str, str, str]]
) -> dict[str, frozenset[str]]:
    """Per flow.batch node, its loop body: every node reachable from its "loop" port
    without passing through the flow.batch node itself. ``types`` maps node id -> type,
    ``edges`` are (source, target, output port); unknown ids are ignored. An edge from
    the body back into the flow.batch node is what closes the loop."""
    if LOOP_TYPE not in types.values():
        return {}  # the common case, on every run: nothing to walk
    successors: dict[str, list[str]] = {node_id: [] for node_id in types}
    for source, target, _ in edges:
        if source in successors and target in successors:
            successors[source].append(target)
    bodies = {}
    for loop_id, type_name in types.items():
        if type_name != LOOP_TYPE:
            continue
        stack = [t for s, t, port in edges if s == loop_id and port == LOOP_PORT and t != loop_id]
        seen = set(stack) & set(types)
        stack = list(seen)
        while stack:
            for target in successors[stack.pop()]:
                if target != loop_id and target not in seen:
                    seen.add(target)
                    stack.append(target)
        bodies[loop_id] = frozenset(seen)
    return bodies


def topological_sort(node_ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """Kahn's algorithm over (source, target) pairs; None when there is a cycle.

    Among the nodes that are ready, the one listed first in ``node_ids`` goes first, so the
    order is stable. Edges naming unknown ids are ignored.
    """
    position = {node_id: index for index, node_id in enumerate(node_ids)}
    successors: dict[str, list[str]] = {node_id: [] for node_id in position}
    pending = dict.fromkeys(position, 0)
    for source, target in edges:
        if source in position and target in position:
            successors[source].append(target)
            pending[target] += 1
    ready = [position[node_id] for node_id, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node_id = node_ids[heapq.heappop(ready)]
        order.append(node_id)
        for target in successors[node_id]:
            pending[target] -= 1
            if pending[target] == 0:
                heapq.heappush(ready, position[target])
    return order if len(order) == len(position) else None


def find_cycles(node_ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The groups of nodes that lie on a cycle (strongly connected components with more than
    one node, or a node with an edge to itself), each listed in ``node_ids`` order.

    Iterative Tarjan, so a long chain cannot exhaust the recursion limit.
    """
    position = {node_id: index for index, node_id in enumerate(node_ids)}
    successors: dict[str, list[str]] = {node_id: [] for node_id in position}
    for source, target in edges:
        if source in position and target in position:
            successors[source].append(target)
    tarjan = _Tarjan(successors)
    for node_id in position:
        if node_id not in tarjan.index:
            tarjan.visit(node_id)
    cycles = [sorted(group, key=position.__getitem__) for group in tarjan.cycles]
    return sorted(cycles, key=lambda group: position[group[0]])


class _Tarjan:
    def __init__(self, successors: dict[str, list[str]]) -> None:
        self.successors = successors
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.cycles: list[list[str]] = []

    def _enter(self, node_id: str) -> None:
        self.index[node_id] = self.low[node_id] = len(self.index)
        self.stack.append(node_id)
        self.on_stack.add(node_id)

    def visit(self, root: str) -> None:
        self._enter(root)
        work = [(root, iter(self.successors[root]))]
        while work:
            node_id, pending = work[-1]
            for target in pending:
                if target not in self.index:
                    self._enter(target)
                    work.append((target, iter(self.successors[target])))
                    break
                if target in self.on_stack:
                    self.low[node_id] = min(self.low[node_id], self.index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    self.low[parent] = min(self.low[parent], self.low[node_id])
                if self.low[node_id] == self.index[node_id]:
                    self._close_component(node_id)

    def _close_component(self, root: str) -> None:
        group: list[str] = []
        while True:
            node_id = self.stack.pop()
            self.on_stack.discard(node_id)
            group.append(node_id)
            if node_id == root:
                break
        if len(group) > 1 or root in self.successors[root]:
            self.cycles.append(group)
