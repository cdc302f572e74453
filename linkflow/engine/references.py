"""What a graph's nodes refer to outside the graph: credentials and other workflows.

Read from the registry, never listed per node: a node type's ``credential_types`` and
``credential_needed`` say which credential it takes and when it cannot run without one,
and a parameter whose schema carries ``REFERENCE_KEYWORD`` holds another object's id.
The host checks them against its store (workflows/references.py); the engine only finds
them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from linkflow.engine.graph import UNVERSIONED
from linkflow.engine.registry import REFERENCE_KEYWORD, NodeType, get_node_type

CREDENTIAL = "credential"


@dataclass(frozen=True)
class Reference:
    """One reference of node ``node_id``: its ``field`` ("credential", "params.workflow"),
    the ``kind`` of object ("credential", "workflow"), the id it names (None: not set),
    the credential types that fit, and whether the node cannot run without it."""

    node_id: str
    field: str
    kind: str
    value: str | None
    accepts: tuple[str, ...] = ()
    needed: bool = False


def graph_references(graph: Any) -> list[Reference]:
    """Every reference in ``graph``, a graph ``validate_graph`` accepted, in node order.

    A node that takes a credential yields one reference for it, set or not; a disabled
    node never needs one (it does not run), though one it names is still a reference.
    A parameter given by an expression is known only at run time and is not listed.
    """
    found: list[Reference] = []
    for node in graph.get("nodes") or []:
        node_type = get_node_type(node.get("type", ""))
        if node_type is not None:
            found.extend(_node_references(node, node_type))
    return found


def _node_references(node: dict[str, Any], node_type: type[NodeType]) -> Iterator[Reference]:
    node_id, params = str(node["id"]), node.get("params") or {}
    version = int(node.get("version", UNVERSIONED))
    named = node.get(CREDENTIAL) or None
    if node_type.credential_types or named is not None:
        needed = not node.get("disabled") and node_type.credential_needed(params, version)
        yield Reference(
            node_id, CREDENTIAL, CREDENTIAL, named, node_type.credential_types, needed=needed
        )
    properties = node_type.params_schema.get("properties", {})
    for name, schema in properties.items():
        kind = schema.get(REFERENCE_KEYWORD) if isinstance(schema, dict) else None
        value = params.get(name)
        if kind and isinstance(value, str) and value.strip() and "{{" not in value:
            yield Reference(node_id, f"params.{name}", kind, value.strip())
