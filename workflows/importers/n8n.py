"""n8n workflow exports read and converted into LinkFlow graphs, with a report.

``read_document`` checks the shape of an export (what n8n's "Download" and
``n8n export:workflow`` write: ``nodes`` with ``name``/``type``/``typeVersion``/
``parameters``/``position``, ``connections`` by node name and output index,
``settings``, ``pinData``) and raises ``DocumentError`` naming the field at fault.
``convert`` maps every node through ``n8n_nodes.MAPPERS`` and answers a ``Conversion``:
the graph, the editor layout, the save policy from n8n's settings, and the report (per
node mapped / mapped with warnings / not mapped, per expression translated / kept, the
credentials each node needs, n8n's sticky notes and pinned data). Pure Python, no
database: the service in ``workflows.importers.service`` stores the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from linkflow.engine import validate_graph
from linkflow.engine.versions import versions_stamped
from workflows.importers.n8n_expressions import Scope
from workflows.importers.n8n_nodes import MAPPERS, NOT_AVAILABLE
from workflows.importers.n8n_nodes.base import (
    MAPPED,
    NOT_MAPPED,
    WARNINGS,
    Context,
    Mapped,
    NotMapped,
    Source,
    placeholder,
)

FORMAT = "n8n"
MAX_NODES = 400
_PREFIXES = ("n8n-nodes-base.", "@n8n/n8n-nodes-base.")
_ID_CLEAN = re.compile(r"[^A-Za-z0-9_-]+")
_STICKY = "stickyNote"


class DocumentError(ValueError):
    """The document is not an n8n workflow export; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def looks_like_n8n(document: Any) -> bool:
    """True for an n8n export: ``nodes`` (objects with a ``type``) and ``connections``,
    and no LinkFlow ``graph``."""
    if not isinstance(document, dict) or "graph" in document:
        return False
    nodes = document.get("nodes")
    if not isinstance(nodes, list) or not isinstance(document.get("connections", {}), dict):
        return False
    return "connections" in document or any(
        isinstance(n, dict) and str(n.get("type", "")).startswith(("n8n-nodes-base.", "@n8n/"))
        for n in nodes
    )


@dataclass
class Document:
    name: str
    id: str | None
    nodes: list[Source]
    stickies: list[dict[str, Any]]
    connections: dict[str, Any]
    settings: dict[str, Any]
    pin_data: dict[str, Any]
    raw_nodes: list[dict[str, Any]]


def read_document(document: Any) -> Document:
    """The export's parts, checked. Raises DocumentError("document" | "nodes[i].name"
    | "connections" …) for a document of the wrong shape."""
    if not isinstance(document, dict):
        raise DocumentError("document", "Expected an n8n workflow: a JSON object with nodes.")
    nodes = document.get("nodes")
    if not isinstance(nodes, list):
        raise DocumentError("nodes", "An n8n workflow has a list of nodes.")
    if len(nodes) > MAX_NODES:
        raise DocumentError("nodes", f"At most {MAX_NODES} nodes can be imported at once.")
    connections = document.get("connections", {})
    if not isinstance(connections, dict):
        raise DocumentError("connections", "Expected an object of connections by node name.")
    name = document.get("name") or "Imported from n8n"
    if not isinstance(name, str):
        raise DocumentError("name", "Expected text.")
    sources, stickies, seen = [], [], set()
    for index, raw in enumerate(nodes):
        where = f"nodes[{index}]"
        if not isinstance(raw, dict):
            raise DocumentError(where, "Each node is an object.")
        node_name, node_type = raw.get("name"), raw.get("type")
        if not isinstance(node_name, str) or not node_name.strip():
            raise DocumentError(f"{where}.name", "Each node needs a name.")
        if node_name in seen:
            raise DocumentError(f"{where}.name", f"Two nodes are named {node_name!r}.")
        seen.add(node_name)
        if not isinstance(node_type, str) or not node_type:
            raise DocumentError(f"{where}.type", "Each node needs a type.")
        version = raw.get("typeVersion", 1)
        if isinstance(version, bool) or not isinstance(version, int | float):
            raise DocumentError(f"{where}.typeVersion", "Expected a number.")
        parameters = raw.get("parameters", {})
        if not isinstance(parameters, dict):
            raise DocumentError(f"{where}.parameters", "Expected an object.")
        short = _short_type(node_type)
        if short == _STICKY:
            stickies.append(raw)
            continue
        sources.append(Source(node_name, short, node_type, float(version), parameters, raw))
    for source_name, outputs in connections.items():
        if not isinstance(outputs, dict):
            raise DocumentError(f"connections.{source_name}", "Expected an object of outputs.")
    raw_settings, raw_pins = document.get("settings"), document.get("pinData")
    settings: dict[str, Any] = raw_settings if isinstance(raw_settings, dict) else {}
    pin_data: dict[str, Any] = raw_pins if isinstance(raw_pins, dict) else {}
    workflow_id = document.get("id")
    return Document(
        name=name.strip()[:200] or "Imported from n8n",
        id=str(workflow_id) if isinstance(workflow_id, str | int) else None,
        nodes=sources,
        stickies=stickies,
        connections=connections,
        settings=settings,
        pin_data=pin_data,
        raw_nodes=nodes,
    )


def _short_type(node_type: str) -> str:
    for prefix in _PREFIXES:
        if node_type.startswith(prefix):
            return node_type[len(prefix) :]
    return node_type  # community or LangChain nodes: reported as not mapped


@dataclass
class Conversion:
    """What an import makes: a graph that validates, its layout, the workflow's save
    policy, and the report."""

    name: str
    graph: dict[str, Any]
    layout: dict[str, dict[str, float]]
    settings: dict[str, bool]
    report: dict[str, Any]
    n8n_id: str | None = None
    subworkflow_refs: list[str] = field(default_factory=list)
    # node id -> (port, items): n8n's pinned data, on every node the n8n node became
    pinned: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)


def convert(document: Any, *, workflow_ids: dict[str, str] | None = None) -> Conversion:
    """Convert an n8n export. ``workflow_ids`` maps n8n workflow ids to LinkFlow ids for
    Execute Workflow nodes whose child is imported together. Raises DocumentError for a
    document of the wrong shape; a node that cannot be mapped never fails the import (it
    becomes a placeholder that fails when run, and the report says why)."""
    doc = read_document(document)
    ids = _node_ids(doc.nodes)
    timezone = str(doc.settings.get("timezone") or "UTC")
    if timezone == "DEFAULT":
        timezone = "UTC"
    exits = dict(ids)
    mapped = _map_all(doc, ids, exits, timezone, workflow_ids or {})
    new_exits = {name: m.nodes[-1]["id"] for name, (m, _ctx) in mapped.items()}
    if new_exits != exits:  # helper nodes after some nodes: expressions read the last one
        mapped = _map_all(doc, ids, new_exits, timezone, workflow_ids or {})
    graph, layout, notes = _assemble(doc, mapped)
    _demote_invalid(doc, graph, mapped, ids)
    graph, layout, notes = _assemble(doc, mapped)
    report = _report(doc, mapped, ids, notes, timezone)
    refs = [
        str(
            (s.param("workflowId") or {}).get("value")
            if isinstance(s.param("workflowId"), dict)
            else s.param("workflowId")
        )
        for s in doc.nodes
        if s.type == "executeWorkflow" and s.param("workflowId")
    ]
    # Every LinkFlow node an n8n node became is pinned with its items: the helper nodes
    # after an HTTP request then hand the pin on unchanged, and the request never runs.
    pinned = {
        node["id"]: ("main", _pin_items(items))
        for name, items in doc.pin_data.items()
        if name in mapped and isinstance(items, list)
        for node in mapped[name][0].nodes
    }
    return Conversion(
        doc.name, graph, layout, _save_policy(doc.settings), report, doc.id, refs, pinned
    )


def _pin_items(items: list[Any]) -> list[dict[str, Any]]:
    """n8n pins items as ``{"json": {...}}`` (older exports: the object itself)."""
    out = []
    for item in items:
        if isinstance(item, dict) and set(item) <= {"json", "binary", "pairedItem"}:
            item = item.get("json", {})
        out.append(item if isinstance(item, dict) else {"value": item})
    return out


def _node_ids(sources: list[Source]) -> dict[str, str]:
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for source in sources:
        base = _ID_CLEAN.sub("_", source.name).strip("_")[:50] or "node"
        candidate, suffix = base, 2
        while candidate.lower() in taken or candidate == "start":
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(candidate.lower())
        ids[source.name] = candidate
    return ids


def _map_all(
    doc: Document,
    ids: dict[str, str],
    exits: dict[str, str],
    timezone: str,
    workflow_ids: dict[str, str],
) -> dict[str, tuple[Mapped, Context]]:
    result = {}
    for source in doc.nodes:
        scope = Scope(node_ids=exits, workflow_name=doc.name, timezone=timezone)
        ctx = Context(scope=scope, node_id=ids[source.name], workflow_ids=workflow_ids)
        result[source.name] = (_map_one(source, ctx), ctx)
    return result


def _map_one(source: Source, ctx: Context) -> Mapped:
    mapper = MAPPERS.get(source.type)
    if mapper is None:
        reason = (
            NOT_AVAILABLE.get(source.type) or f"LinkFlow has no counterpart of {source.full_type}"
        )
        return placeholder(source, ctx.node_id, reason)
    try:
        mapped = mapper(source, ctx)
    except NotMapped as refusal:
        return placeholder(source, ctx.node_id, str(refusal))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        # Public exports hold shapes no mapper foresaw (an expression where a number was,
        # a list for an object): one such node never fails the whole import.
        reason = f"its parameters have a shape the importer does not read ({error})"
        return placeholder(source, ctx.node_id, reason[:500])
    if mapped.status == MAPPED and (
        ctx.warnings or any(e.status == "kept" for e in ctx.expressions)
    ):
        mapped.status = WARNINGS
    _node_settings(source, mapped, ctx)
    return mapped


_ON_ERROR = {
    "stopWorkflow": "fail",
    "continueRegularOutput": "continue",
    "continueErrorOutput": "error_output",
}


def _node_settings(source: Source, mapped: Mapped, ctx: Context) -> None:
    """disabled, onError, retryOnFail / maxTries / waitBetweenTries, executeOnce, notes."""
    raw = source.raw
    main = next((n for n in mapped.nodes if n["id"] == ctx.node_id), mapped.nodes[0])
    main["name"] = source.name[:200]
    if raw.get("disabled"):
        for node in mapped.nodes:
            node["disabled"] = True
    on_error = _ON_ERROR.get(raw.get("onError", "stopWorkflow"))
    if raw.get("continueOnFail") and "onError" not in raw:
        on_error = "continue"
    if on_error and on_error != "fail":
        main["on_error"] = on_error
        if on_error == "error_output":
            count = max(mapped.ports) + 1 if mapped.ports else 1
            mapped.ports[count] = "error"
            if main is not mapped.nodes[-1]:
                ctx.warn("error output of a node with helper nodes is not kept")
                main["on_error"] = "continue"
                mapped.ports.pop(count)
    if raw.get("retryOnFail"):
        tries = int(raw.get("maxTries", 3) or 3)
        wait_ms = float(raw.get("waitBetweenTries", 1000) or 0)
        main["retry"] = {
            "max_attempts": max(1, min(tries, 10)),
            "backoff_seconds": min(wait_ms / 1000, 3600),
        }
        ctx.warn(
            "retries back off exponentially from waitBetweenTries (n8n waits the same each time)"
        )
        if mapped.status == MAPPED:
            mapped.status = WARNINGS
    if raw.get("executeOnce"):
        # The first node the n8n node became sees its input; the rest see only its output.
        mapped.nodes[0]["execute_once"] = True
    if raw.get("alwaysOutputData"):
        ctx.warn("the node setting 'alwaysOutputData' is not kept")
        if mapped.status == MAPPED:
            mapped.status = WARNINGS


def _assemble(
    doc: Document, mapped: dict[str, tuple[Mapped, Context]]
) -> tuple[dict[str, Any], dict[str, dict[str, float]], list[dict[str, Any]]]:
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    layout: dict[str, dict[str, float]] = {}
    for source in doc.nodes:
        result, _ctx = mapped[source.name]
        x, y = _position(source.raw.get("position"))
        for offset, node in enumerate(result.nodes):
            node = dict(node)
            node["position"] = {"x": x + 40 * offset, "y": y + 40 * offset}
            layout[node["id"]] = dict(node["position"])
            nodes.append(node)
        edges += result.edges
    incoming: list[tuple[str, int, dict[str, Any]]] = []
    for source_name, outputs in doc.connections.items():
        if source_name not in mapped:
            continue
        result, ctx = mapped[source_name]
        for kind, per_output in outputs.items():
            if kind != "main":
                ctx.warn(f"'{kind}' connections (AI nodes) are not kept")
                continue
            for index, targets in enumerate(per_output or []):
                port = result.ports.get(index)
                for target in targets or []:
                    if not isinstance(target, dict) or target.get("node") not in mapped:
                        continue
                    if port is None:
                        ctx.warn(
                            f"output {index} has no LinkFlow counterpart: its connection is dropped"
                        )
                        continue
                    target_mapped, _target_ctx = mapped[target["node"]]
                    input_index = int(target.get("index", 0) or 0)
                    only = getattr(target_mapped, "only_input", None)
                    if only is not None and input_index != only:
                        continue
                    edge = {
                        "source": result.nodes[-1]["id"],
                        "target": target_mapped.nodes[0]["id"],
                    }
                    if port != "main":
                        edge["output"] = port
                    if edge not in edges and not any(e == edge for _, _, e in incoming):
                        incoming.append((edge["target"], input_index, edge))
    # flow.merge reads its inputs in edge order: n8n's input 1 first, then input 2
    incoming.sort(key=lambda entry: entry[1])
    edges += [edge for _, _, edge in incoming]
    if not any(_is_trigger(n["type"]) for n in nodes):
        roots = [n["id"] for n in nodes if not any(e["target"] == n["id"] for e in edges)]
        nodes.insert(
            0,
            {
                "id": "start",
                "type": "trigger.manual",
                "name": "Start",
                "position": {"x": -240, "y": 0},
            },
        )
        layout["start"] = {"x": -240, "y": 0}
        edges = [{"source": "start", "target": root} for root in roots] + edges
    notes = [
        {
            "name": sticky.get("name"),
            "content": (sticky.get("parameters") or {}).get("content", ""),
            "position": dict(zip(("x", "y"), _position(sticky.get("position")), strict=True)),
            "width": (sticky.get("parameters") or {}).get("width"),
            "height": (sticky.get("parameters") or {}).get("height"),
        }
        for sticky in doc.stickies
    ]
    return {"nodes": nodes, "edges": edges}, layout, notes


def _is_trigger(node_type: str) -> bool:
    return node_type.startswith("trigger.")


def _position(raw: Any) -> tuple[float, float]:
    if (
        isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
    ):
        return max(min(float(raw[0]), 1e6), -1e6), max(min(float(raw[1]), 1e6), -1e6)
    return 0.0, 0.0


def _demote_invalid(
    doc: Document,
    graph: dict[str, Any],
    mapped: dict[str, tuple[Mapped, Context]],
    ids: dict[str, str],
) -> None:
    """A mapping LinkFlow's validation refuses becomes a placeholder, so the import
    still succeeds and the report says what was refused."""
    owner = {node["id"]: name for name, (m, _c) in mapped.items() for node in m.nodes}
    # checked as it will be saved: new nodes get their type's current version
    for problem in validate_graph(versions_stamped(graph)):
        name = owner.get(problem.node_id or "")
        if name is None:
            continue
        result, ctx = mapped[name]
        if result.status == NOT_MAPPED:
            continue
        source = next(s for s in doc.nodes if s.name == name)
        reason = (
            f"LinkFlow refused the mapped node: {problem.field or ''} {problem.message}".strip()
        )
        demoted = placeholder(source, ids[name], reason)
        demoted.ports = {index: "main" for index in result.ports}
        mapped[name] = (demoted, ctx)


def _save_policy(settings: dict[str, Any]) -> dict[str, bool]:
    policy = {}
    if settings.get("saveDataSuccessExecution") == "none":
        policy["save_succeeded"] = False
    if settings.get("saveDataErrorExecution") == "none":
        policy["save_failed"] = False
    if settings.get("saveManualExecutions") is False:
        policy["save_manual"] = False
    return policy


def _credential_names(raw: dict[str, Any]) -> list[str]:
    credentials = raw.get("credentials")
    if not isinstance(credentials, dict):
        return []
    names = []
    for kind, value in credentials.items():
        label = value.get("name") if isinstance(value, dict) else value
        names.append(f"{kind}: {label}" if label else str(kind))
    return names


def _report(
    doc: Document,
    mapped: dict[str, tuple[Mapped, Context]],
    ids: dict[str, str],
    notes: list[dict[str, Any]],
    timezone: str,
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for source in doc.nodes:
        result, ctx = mapped[source.name]
        expressions = (
            [
                {
                    "parameter": e.parameter,
                    "original": e.original,
                    "status": e.status,
                    "reason": e.reason,
                }
                for e in ctx.expressions
            ]
            if result.status != NOT_MAPPED
            else []
        )
        entries.append(
            {
                "name": source.name,
                "id": ids[source.name],
                "n8n_type": source.full_type,
                "type_version": source.version,
                "linkflow_type": result.nodes[0]["type"] if result.status != NOT_MAPPED else None,
                "linkflow_nodes": [n["id"] for n in result.nodes],
                "status": result.status,
                "reason": result.reason,
                "warnings": list(ctx.warnings) if result.status != NOT_MAPPED else [],
                "credentials": _credential_names(source.raw) + result.credentials,
                "expressions": expressions,
            }
        )
    statuses = [e["status"] for e in entries]
    all_expressions = [x for e in entries for x in e["expressions"]]
    pinned = {ids[name]: items for name, items in doc.pin_data.items() if name in ids}
    workflow_notes = []
    if doc.settings.get("executionOrder") == "v0":
        workflow_notes.append(
            "n8n's legacy execution order (v0) is not kept: nodes run in graph order."
        )
    if pinned:
        workflow_notes.append(
            "Pinned data becomes the workflow's pinned data: test runs use it, production "
            "executions never do."
        )
    if timezone != "UTC":
        workflow_notes.append(
            f"$now, $today and schedules use the workflow's time zone {timezone}."
        )
    return {
        "format": FORMAT,
        "workflow": doc.name,
        "n8n_id": doc.id,
        "summary": {
            "nodes": len(entries),
            "mapped": statuses.count(MAPPED),
            "mapped_with_warnings": statuses.count(WARNINGS),
            "not_mapped": statuses.count(NOT_MAPPED),
            "expressions": len(all_expressions),
            "translated": sum(1 for x in all_expressions if x["status"] == "translated"),
            "kept": sum(1 for x in all_expressions if x["status"] == "kept"),
        },
        "nodes": entries,
        "notes": notes,
        "pinned_data": pinned,
        "workflow_notes": workflow_notes,
    }
