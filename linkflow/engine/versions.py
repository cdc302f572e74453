"""Which version of its type each node of a stored graph records (n8n's ``typeVersion``).

A node keeps the behaviour of the version it records: the runner and the node types
dispatch on ``Node.version`` where behaviour differs, and nothing is ever upgraded on its
own. A stored node without a version is version 1, the behaviour of every graph saved
before versions existed. A graph saved through the API or the editor is stamped here: a
node keeps the version it states, a node that was already in the stored graph (same id
and type) keeps that node's version, and a new node gets its type's current version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from linkflow.engine.graph import UNVERSIONED
from linkflow.engine.registry import get_node_type


def versions_stamped(graph: Any, *, previous: Any = None) -> Any:
    """A copy of ``graph`` whose every node of a known type has a ``version``, chosen as
    the module docstring says (``previous`` is the graph stored until now, if any).

    Anything that is not a graph (not a dict with a list of nodes), and nodes that are not
    objects or have an unknown type, are left as they are for validation to report.
    Never raises.
    """
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        return graph
    earlier = _versions_by_node(previous)
    nodes = []
    for node in graph["nodes"]:
        if isinstance(node, dict) and "version" not in node:
            version = _version_for(node, earlier)
            if version is not None:
                node = {**node, "version": version}
        nodes.append(node)
    return {**graph, "nodes": nodes}


def versions_pinned(graph: Any) -> Any:
    """``graph`` with every unversioned node recorded as what it is, version 1: for a copy
    (duplicate, export) that must behave like its original."""
    return versions_stamped(graph, previous=graph)


def _version_for(node: dict[str, Any], earlier: Mapping[tuple[Any, Any], int]) -> int | None:
    key = (node.get("id"), node.get("type"))
    if key in earlier:
        return earlier[key]
    try:
        node_type = get_node_type(node["type"]) if isinstance(node.get("type"), str) else None
    except Exception:  # a broken plugin: validation reports the node
        return None
    return node_type.version if node_type is not None else None


def _versions_by_node(graph: Any) -> dict[tuple[Any, Any], int]:
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        return {}
    versions = {}
    for node in graph["nodes"]:
        if isinstance(node, dict):
            version = node.get("version", UNVERSIONED)
            if isinstance(version, int) and not isinstance(version, bool):
                versions[(node.get("id"), node.get("type"))] = version
    return versions
