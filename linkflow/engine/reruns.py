"""Which nodes a re-run reuses and which it runs again, when the version run may differ
from the one that recorded the outputs (a workflow fixed after a failure).

A recorded output stands for what a node computes from its inputs. It is reused only when
the node is outside the re-run's start (``from_node`` and everything downstream of it), has
a recorded output, and computes the same thing in the version run: the same type and type
version, params, credential, ``disabled`` and ``on_error`` (which port failed items take),
and the same incoming edges in the same order (a merge reads its inputs in edge order).
Anything downstream of a node that runs runs too: its input may change. Retry and timeout
settings only matter while a node runs, so changing them keeps a recorded output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from linkflow.engine.graph import Graph, Node


@dataclass(frozen=True)
class RerunPlan:
    """The nodes of the version run, in execution order: ``reused`` keep their recorded
    output, ``runs`` run again."""

    reused: tuple[str, ...]
    runs: tuple[str, ...]


def rerun_plan(
    *, recorded: Graph, target: Graph, from_node: str | None, reusable: Iterable[str]
) -> RerunPlan:
    """Plan a re-run of ``target`` from ``from_node`` (None: everything runs, a retry),
    reusing outputs ``recorded`` (the version that ran) holds for the ``reusable`` nodes
    (those with a succeeded or skipped run), as the module docstring says.

    Raises KeyError when ``from_node`` is not a node of ``target`` (the caller checks), and
    ValueError for a graph with a cycle (a validated graph has none).
    """
    order = [node.id for node in target.topological_order()]
    if from_node is None:
        return RerunPlan(reused=(), runs=tuple(order))
    target.node(from_node)
    have = set(reusable)
    starts = {from_node} | {
        node_id
        for node_id in order
        if node_id not in have or not _computes_alike(recorded, target, node_id)
    }
    again: set[str] = set()
    for node_id in starts:
        if node_id not in again:
            again |= target.downstream(node_id)
    return RerunPlan(
        reused=tuple(n for n in order if n not in again),
        runs=tuple(n for n in order if n in again),
    )


def _computes_alike(recorded: Graph, target: Graph, node_id: str) -> bool:
    try:
        before = recorded.node(node_id)
    except KeyError:
        return False  # a node new in the version run
    return _signature(recorded, before) == _signature(target, target.node(node_id))


def _signature(graph: Graph, node: Node) -> tuple[Any, ...]:
    incoming = tuple((edge.source, edge.output) for edge in graph.incoming(node.id))
    return (
        node.type,
        node.version,
        dict(node.params),
        node.credential,
        node.disabled,
        node.on_error,
        incoming,
    )
