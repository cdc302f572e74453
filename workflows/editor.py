"""Pure helpers of the graph editor: automatic layout and the diff of two versions.

Both take stored graphs (DESIGN.md "Workflow graph") that may be invalid in places: an
old version, or a graph the user is still fixing. They never raise on odd shapes; what
they cannot read they leave out.
"""

from __future__ import annotations

from typing import Any

# Canvas geometry shared with graph.js: a node box and the gaps between layers and rows.
NODE_WIDTH = 180
NODE_HEIGHT = 64
LAYER_GAP = 90
ROW_GAP = 36
MARGIN = 40

# The credential types a node type can use (the engine's node types do not declare them;
# the node modules read the credential's fields by these types).
CREDENTIAL_TYPES: dict[str, tuple[str, ...]] = {
    "http.request": ("http_basic", "http_bearer", "http_header", "oauth2_client"),
    "notify.email": ("smtp",),
    "notify.slack": ("slack",),
    "trigger.webhook": ("webhook_auth",),
    "trigger.redis": ("redis",),
    "trigger.amqp": ("amqp",),
    "trigger.mqtt": ("mqtt",),
    "trigger.nats": ("nats",),
}

# Node keys compared one by one in a diff; "params" is compared per parameter.
_SETTINGS = (
    "type",
    "name",
    "credential",
    "retry",
    "timeout_seconds",
    "on_error",
    "execute_once",
    "disabled",
    "notes",
)


def _nodes(graph: Any) -> list[dict[str, Any]]:
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if not isinstance(nodes, list):
        return []
    return [n for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)]


def _edges(graph: Any) -> list[dict[str, Any]]:
    edges = graph.get("edges") if isinstance(graph, dict) else None
    if not isinstance(edges, list):
        return []
    return [
        e
        for e in edges
        if isinstance(e, dict)
        and isinstance(e.get("source"), str)
        and isinstance(e.get("target"), str)
    ]


def _layers(ids: list[str], edges: list[dict[str, Any]]) -> dict[str, int]:
    """Each node's layer: the length of the longest path reaching it from a source.

    Edges closing a cycle (possible in a graph being edited) are ignored, so the walk
    always ends.
    """
    known = set(ids)
    parents: dict[str, list[str]] = {i: [] for i in ids}
    for edge in edges:
        if edge["source"] in known and edge["target"] in known:
            parents[edge["target"]].append(edge["source"])
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node_id: str) -> int:
        if node_id in layer:
            return layer[node_id]
        visiting.add(node_id)
        above = [depth(p) + 1 for p in parents[node_id] if p not in visiting]
        visiting.discard(node_id)
        layer[node_id] = max(above, default=0)
        return layer[node_id]

    for node_id in ids:
        depth(node_id)
    return layer


def graph_layout(graph: Any) -> dict[str, dict[str, float]]:
    """A position ``{"x", "y"}`` for every node: its saved ``position`` when it has one,
    else a place in a left-to-right layered layout (a column per layer, nodes of a layer
    ordered by the average row of their parents so edges cross less)."""
    nodes = _nodes(graph)
    ids = list(dict.fromkeys(n["id"] for n in nodes))
    edges = _edges(graph)
    layer = _layers(ids, edges)
    parents: dict[str, list[str]] = {i: [] for i in ids}
    for edge in edges:
        if edge["target"] in parents and edge["source"] in layer:
            parents[edge["target"]].append(edge["source"])
    row: dict[str, float] = {}
    columns: dict[int, list[str]] = {}
    for node_id in ids:
        columns.setdefault(layer[node_id], []).append(node_id)
    for number in sorted(columns):
        column = columns[number]
        order = {node_id: index for index, node_id in enumerate(column)}

        def weight(node_id: str, order: dict[str, int] = order) -> tuple[float, int]:
            placed = [row[p] for p in parents[node_id] if p in row]
            return (sum(placed) / len(placed) if placed else order[node_id], order[node_id])

        for index, node_id in enumerate(sorted(column, key=weight)):
            row[node_id] = index
    positions = {
        node_id: {
            "x": MARGIN + layer[node_id] * (NODE_WIDTH + LAYER_GAP),
            "y": MARGIN + row[node_id] * (NODE_HEIGHT + ROW_GAP),
        }
        for node_id in ids
    }
    for node in nodes:
        saved = node.get("position")
        if isinstance(saved, dict) and all(
            isinstance(saved.get(k), int | float) and not isinstance(saved.get(k), bool)
            for k in ("x", "y")
        ):
            positions[node["id"]] = {"x": saved["x"], "y": saved["y"]}
    return positions


def graph_with_layout(graph: Any, layout: dict[str, Any] | None = None) -> Any:
    """A copy of ``graph`` where every node has a ``position``: where the user last dragged
    it (``layout``, the workflow's saved positions), else the one saved in the graph, else
    the automatic one (see ``graph_layout``)."""
    if not isinstance(graph, dict):
        return graph
    # The layout also keeps the sticky notes under a key no node id can equal.
    positions = {**graph_layout(graph), **(layout or {})}
    nodes = [
        {**n, "position": positions[n["id"]]}
        if isinstance(n, dict) and n.get("id") in positions
        else n
        for n in graph.get("nodes") or []
    ]
    return {**graph, "nodes": nodes}


def _edge_key(edge: dict[str, Any]) -> tuple[str, str, str]:
    return (edge["source"], str(edge.get("output") or "main"), edge["target"])


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The node's changed fields: settings by name, parameters as ``params.<name>``."""
    found = [
        {"field": key, "old": old.get(key), "new": new.get(key)}
        for key in _SETTINGS
        if old.get(key) != new.get(key)
    ]
    old_params, new_params = _params(old), _params(new)
    for name in sorted({*old_params, *new_params}, key=str):
        if old_params.get(name, _ABSENT) != new_params.get(name, _ABSENT):
            found.append(
                {
                    "field": f"params.{name}",
                    "old": old_params.get(name),
                    "new": new_params.get(name),
                }
            )
    return found


def _params(node: dict[str, Any]) -> dict[str, Any]:
    params = node.get("params")
    return params if isinstance(params, dict) else {}


_ABSENT = object()


def version_diff(old: Any, new: Any) -> dict[str, Any]:
    """What changed from graph ``old`` to graph ``new``.

    ``{"nodes_added": [node], "nodes_removed": [node], "nodes_changed": [{"id", "type",
    "changes": [{"field", "old", "new"}]}], "nodes_moved": [id], "edges_added": [edge],
    "edges_removed": [edge], "same": bool}``. Nodes are matched by id and edges by
    (source, output, target); a node only dragged elsewhere is "moved", not "changed".
    """
    old_nodes = {n["id"]: n for n in _nodes(old)}
    new_nodes = {n["id"]: n for n in _nodes(new)}
    changed, moved = [], []
    for node_id in (i for i in new_nodes if i in old_nodes):
        before, after = old_nodes[node_id], new_nodes[node_id]
        changes = _changes(before, after)
        if changes:
            changed.append({"id": node_id, "type": after.get("type"), "changes": changes})
        elif before.get("position") != after.get("position"):
            moved.append(node_id)
    old_edges = {_edge_key(e): e for e in _edges(old)}
    new_edges = {_edge_key(e): e for e in _edges(new)}
    diff: dict[str, Any] = {
        "nodes_added": [n for i, n in new_nodes.items() if i not in old_nodes],
        "nodes_removed": [n for i, n in old_nodes.items() if i not in new_nodes],
        "nodes_changed": changed,
        "nodes_moved": moved,
        "edges_added": [e for k, e in new_edges.items() if k not in old_edges],
        "edges_removed": [e for k, e in old_edges.items() if k not in new_edges],
    }
    diff["same"] = not any(diff.values())
    return diff


def node_catalog() -> list[dict[str, Any]]:
    """Every node type as the editor's palette and side panel need it: the same fields as
    the API's node-type list, plus the credential types it can use."""
    from linkflow.engine import node_settings_schema, node_types

    from .api.node_types import node_type_ports

    settings = node_settings_schema()
    return [
        {
            "type": cls.type,
            "family": cls.type.split(".")[0],
            "label": cls.label,
            "description": cls.description,
            "is_trigger": cls.is_trigger,
            "params_schema": cls.params_schema,
            **node_type_ports(cls),
            "credential_types": list(CREDENTIAL_TYPES.get(cls.type, ())),
            "settings_schema": settings,
        }
        for cls in node_types()
    ]
