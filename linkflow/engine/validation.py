"""Check a stored workflow graph before it is saved or run, reporting every problem.

Field paths follow one rule: a problem about a node carries its ``node_id`` and a field
relative to that node ("type", "params.url", "retry.max_attempts"); when the node has no
usable id, or the problem is about the graph, the field is absolute ("nodes[0].id",
"edges[2].target"). Problems about node ids always use the absolute "nodes[i].id".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from linkflow.engine.expressions import syntax_errors
from linkflow.engine.graph import (
    DEFAULT_PORT,
    DONE_PORT,
    ERROR_PORT,
    LOOP_PORT,
    LOOP_TYPE,
    UNVERSIONED,
    find_cycles,
    loop_bodies,
)
from linkflow.engine.registry import EXPRESSION_SCHEMA, NodeType, get_node_type

MAX_NODES = 500
MAX_EDGES = 2_000
MAX_NODE_ID_CHARS = 64
NODE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
TRIGGER_FAMILY = "trigger."
EDGE_KEYS = frozenset({"source", "target", "output"})

# The per-node keys other than id, type and params, which get their own problem codes.
NODE_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {},
        "type": {},
        "params": {},
        "name": {"type": "string", "maxLength": 200},
        "position": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            "required": ["x", "y"],
            "additionalProperties": False,
        },
        "credential": {"type": ["string", "null"], "maxLength": 200},
        "retry": {
            "title": "Retry",
            "description": "Run the node again when it fails, waiting backoff_seconds, then"
            " twice as long each time.",
            "type": "object",
            "properties": {
                "max_attempts": {
                    "title": "Attempts",
                    "description": "Runs in all, the first included.",
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10,
                },
                "backoff_seconds": {
                    "title": "Back-off (s)",
                    "description": "The wait before the second attempt; it doubles after.",
                    "type": "number",
                    "minimum": 0,
                    "maximum": 3600,
                },
            },
            "additionalProperties": False,
        },
        "timeout_seconds": {
            "title": "Timeout (s)",
            "description": "The node fails when one run of it takes longer.",
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 3600,
        },
        "on_error": {
            "title": "On error",
            "description": "fail: the execution fails; continue: the error goes on as an"
            " item; error_output: failed items leave by an extra 'error' port.",
            "enum": ["fail", "continue", "error_output"],
            "default": "fail",
        },
        "execute_once": {
            "title": "Execute once",
            "description": "Run the node for the first input item only.",
            "type": "boolean",
            "default": False,
        },
        "disabled": {
            "title": "Disabled",
            "description": "A disabled node passes its input through unchanged.",
            "type": "boolean",
            "default": False,
        },
        # Free text for the people editing the workflow; the runner never reads it.
        "notes": {
            "title": "Notes",
            "description": "For the people editing this workflow; never used in a run.",
            "type": "string",
            "maxLength": 10_000,
        },
        # The node type's version the node was saved with (registry.NodeType.version).
        "version": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}
_SETTINGS_VALIDATOR = Draft202012Validator(NODE_SETTINGS_SCHEMA)
# The settings every node takes beside its parameters, as the editor's panel shows them
# (name, credential and position have their own widgets there).
EDITABLE_SETTINGS = ("retry", "timeout_seconds", "on_error", "execute_once", "disabled", "notes")


def node_settings_schema() -> dict[str, Any]:
    """The JSON Schema of a node's own settings (``EDITABLE_SETTINGS``): the same for every
    node type, the part of ``NODE_SETTINGS_SCHEMA`` a person sets in the editor."""
    properties = NODE_SETTINGS_SCHEMA["properties"]
    return {
        "type": "object",
        "properties": {name: properties[name] for name in EDITABLE_SETTINGS},
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class Problem:
    """One reason a graph cannot be saved. ``code`` is stable; ``message`` is for people."""

    code: str
    message: str
    node_id: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """``{"code", "message", "node_id", "field"}``, ready for an API error's details."""
        return asdict(self)


def validate_graph(raw: object) -> list[Problem]:
    """Every problem with ``raw`` as a stored graph; an empty list means it is valid.

    Never raises, whatever ``raw`` is: structural nonsense is reported as
    "graph_malformed". See the module docstring for how ``field`` is written.
    """
    try:
        return _GraphChecker(raw).check()
    except Exception as error:  # a safety net: callers rely on this never raising
        return [Problem("graph_malformed", f"The graph could not be checked: {error!r}.")]


@dataclass
class _NodeInfo:
    index: int
    id: str | None
    type: type[NodeType] | None
    type_name: str | None
    # on_error "error_output" gives the node an extra "error" port
    extra_ports: tuple[str, ...] = ()
    version: int = UNVERSIONED
    # The type's ports for this node's params and version; None when they are unknown
    # (unknown type, or params too broken to tell), so edges from it are not checked.
    ports: tuple[str, ...] | None = None


class _GraphChecker:
    def __init__(self, raw: object) -> None:
        self.raw = raw
        self.problems: list[Problem] = []
        self._reported: set[Problem] = set()
        self.nodes: dict[str, _NodeInfo] = {}  # by id, first occurrence of each id
        self.edge_pairs: list[tuple[str, str]] = []
        self.edge_ports: list[tuple[str, str, str]] = []  # (source, target, output)

    def report(
        self, code: str, message: str, *, node_id: str | None = None, field: str | None = None
    ) -> None:
        problem = Problem(code, message, node_id, field)
        if problem not in self._reported:  # jsonschema can report one cause twice
            self._reported.add(problem)
            self.problems.append(problem)

    def check(self) -> list[Problem]:
        if not isinstance(self.raw, dict):
            self.report("graph_malformed", "The graph must be a JSON object.")
            return self.problems
        nodes, edges = self.raw.get("nodes"), self.raw.get("edges", [])
        if not self._check_lists(nodes, edges):
            return self.problems
        infos = [self._check_node(index, node) for index, node in enumerate(nodes)]
        if isinstance(edges, list):
            for index, edge in enumerate(edges):
                self._check_edge(index, edge)
        self._check_cycles()
        self._check_trigger_present(infos)
        return self.problems

    def _check_lists(self, nodes: object, edges: object) -> TypeGuard[list[Any]]:
        """False when nothing more can be checked."""
        if not isinstance(edges, list):
            self.report("graph_malformed", "'edges' must be a list.", field="edges")
        elif len(edges) > MAX_EDGES:
            self.report("graph_malformed", f"A graph has at most {MAX_EDGES} edges.", field="edges")
            return False
        if not isinstance(nodes, list) or not nodes:
            self.report("graph_malformed", "'nodes' must be a non-empty list.", field="nodes")
            return False
        if len(nodes) > MAX_NODES:
            self.report("graph_malformed", f"A graph has at most {MAX_NODES} nodes.", field="nodes")
            return False
        return True

    # nodes

    def _check_node(self, index: int, node: object) -> _NodeInfo:
        if not isinstance(node, dict):
            self.report("graph_malformed", "A node must be a JSON object.", field=f"nodes[{index}]")
            return _NodeInfo(index, None, None, None)
        info = _NodeInfo(index, self._check_node_id(index, node.get("id")), None, None)
        info.type_name, info.type = self._check_node_type(info, node)
        if node.get("on_error") == "error_output":
            info.extra_ports = (ERROR_PORT,)
        if info.id is not None:
            self.nodes.setdefault(info.id, info)  # edges refer to the first node of an id
        self._check_settings(info, node)
        info.version = self._check_version(info, node.get("version", UNVERSIONED))
        self._check_params(info, node.get("params", {}))
        return info

    def _check_version(self, info: _NodeInfo, version: object) -> int:
        """The node's version when it is one its type has, else 1 (after reporting it)."""
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            return UNVERSIONED  # the settings schema reported it
        if info.type is not None and version > info.type.version:
            self.report(
                "node_version_unknown",
                f"Node type '{info.type_name}' has versions 1 to {info.type.version}, "
                f"not {version}.",
                node_id=info.id,
                field=self._node_field(info, "version"),
            )
            return UNVERSIONED
        return version

    def _check_node_id(self, index: int, node_id: object) -> str | None:
        field = f"nodes[{index}].id"
        if not isinstance(node_id, str) or not NODE_ID_PATTERN.fullmatch(node_id):
            self.report(
                "graph_malformed",
                "A node id must be a non-empty string of letters, digits, '_' and '-'.",
                field=field,
            )
            return None
        if len(node_id) > MAX_NODE_ID_CHARS:
            self.report(
                "graph_malformed",
                f"A node id has at most {MAX_NODE_ID_CHARS} characters.",
                field=field,
            )
            return None
        if node_id in self.nodes:
            first = self.nodes[node_id].index
            self.report(
                "node_id_duplicate",
                f"Node id '{node_id}' is already used by nodes[{first}].",
                node_id=node_id,
                field=field,
            )
        return node_id

    def _node_field(self, info: _NodeInfo, relative: str) -> str:
        return relative if info.id is not None else f"nodes[{info.index}].{relative}"

    def _check_node_type(
        self, info: _NodeInfo, node: dict[str, Any]
    ) -> tuple[str | None, type[NodeType] | None]:
        type_name = node.get("type")
        field = self._node_field(info, "type")
        if not isinstance(type_name, str) or not type_name:
            self.report(
                "graph_malformed", "A node needs a 'type' string.", node_id=info.id, field=field
            )
            return None, None
        node_type = get_node_type(type_name)
        if node_type is None:
            self.report(
                "node_type_unknown",
                f"Unknown node type '{type_name}'.",
                node_id=info.id,
                field=field,
            )
        return type_name, node_type

    def _check_settings(self, info: _NodeInfo, node: dict[str, Any]) -> None:
        for error in _SETTINGS_VALIDATOR.iter_errors(node):
            for relative, message in _describe_schema_error(error):
                self.report(
                    "graph_malformed",
                    message,
                    node_id=info.id,
                    field=self._node_field(info, relative),
                )

    def _check_params(self, info: _NodeInfo, params: object) -> None:
        field = self._node_field(info, "params")
        if not isinstance(params, dict):
            self.report(
                "graph_malformed", "'params' must be a JSON object.", node_id=info.id, field=field
            )
            return
        if info.type is None:
            return
        schema_errors = list(_params_validator(info.type).iter_errors(params))
        for error in schema_errors:
            for relative, message in _describe_schema_error(error, prefix="params"):
                self.report(
                    "node_params_invalid",
                    message,
                    node_id=info.id,
                    field=self._node_field(info, relative),
                )
        if not schema_errors:
            self._check_params_custom(info, params)
            info.ports = info.type.ports(params, info.version)
        for expression_error in syntax_errors(params, path="params"):
            relative = expression_error.param or "params"
            self.report(
                "node_params_invalid",
                _located_message(expression_error),
                node_id=info.id,
                field=self._node_field(info, relative),
            )

    def _check_params_custom(self, info: _NodeInfo, params: dict[str, Any]) -> None:
        """Run the node type's own ``check_node(params, version) -> [(field, message)]``
        (by default its ``check_params(params)``), for what a schema cannot say (a cron
        expression, a time zone, distinct port names). Only called on params the schema
        accepted, so the check may rely on their shape."""
        assert info.type is not None
        for relative, message in info.type.check_node(params, info.version):
            self.report(
                "node_params_invalid",
                message,
                node_id=info.id,
                field=self._node_field(info, relative),
            )

    # edges

    def _check_edge(self, index: int, edge: object) -> None:
        if not isinstance(edge, dict):
            self.report(
                "graph_malformed", "An edge must be a JSON object.", field=f"edges[{index}]"
            )
            return
        for key in sorted(set(edge) - EDGE_KEYS, key=str):
            self.report(
                "graph_malformed", f"Unknown edge key '{key}'.", field=f"edges[{index}].{key}"
            )
        source = self._edge_end(index, edge, "source")
        target = self._edge_end(index, edge, "target")
        if source is not None:
            self._check_edge_port(index, source, edge.get("output", DEFAULT_PORT))
        if target is not None and self._is_trigger(target):
            self.report(
                "trigger_has_inputs",
                f"Trigger '{target.id}' cannot have incoming edges.",
                node_id=target.id,
                field=f"edges[{index}].target",
            )
        if source is not None and target is not None:
            assert source.id is not None and target.id is not None
            self.edge_pairs.append((source.id, target.id))
            output = edge.get("output", DEFAULT_PORT)
            self.edge_ports.append(
                (source.id, target.id, output if isinstance(output, str) else "")
            )

    def _edge_end(self, index: int, edge: dict[str, Any], key: str) -> _NodeInfo | None:
        node_id = edge.get(key)
        if not isinstance(node_id, str):
            self.report(
                "graph_malformed",
                f"An edge needs a '{key}' node id string.",
                field=f"edges[{index}].{key}",
            )
            return None
        if node_id not in self.nodes:
            self.report(
                "edge_node_unknown",
                f"Edge {key} '{node_id}' is not a node of this graph.",
                field=f"edges[{index}].{key}",
            )
            return None
        return self.nodes[node_id]

    def _check_edge_port(self, index: int, source: _NodeInfo, port: object) -> None:
        field = f"edges[{index}].output"
        if not isinstance(port, str) or not port:
            self.report(
                "graph_malformed",
                "An edge 'output' must be a port name.",
                node_id=source.id,
                field=field,
            )
        elif source.ports is not None and port not in (*source.ports, *source.extra_ports):
            ports = ", ".join((*source.ports, *source.extra_ports))
            self.report(
                "edge_port_unknown",
                f"Node '{source.id}' has no output '{port}' (it has: {ports}).",
                node_id=source.id,
                field=field,
            )

    # whole graph

    def _check_cycles(self) -> None:
        bodies = loop_bodies({k: v.type_name for k, v in self.nodes.items()}, self.edge_ports)
        self._check_loops(bodies)
        forward = [
            (source, target)
            for source, target, port in self.edge_ports
            if not _closes_loop(bodies, source, target, port)
        ]
        for cycle in find_cycles(list(self.nodes), forward):
            self.report(
                "graph_cycle",
                f"Nodes {', '.join(cycle)} form a cycle.",
                node_id=cycle[0],
                field="edges",
            )

    def _check_loops(self, bodies: dict[str, frozenset[str]]) -> None:
        """A loop is a flow.batch node, the body its "loop" port leads to, and at least one
        edge from the body back into it. The body may lead nowhere else (its results
        leave by "done") and may hold no other loop: one iteration index per NodeRun."""
        for loop_id, body in bodies.items():
            closing = [
                s
                for s, t, port in self.edge_ports
                if t == loop_id and _closes_loop(bodies, s, t, port)
            ]
            if body and not closing:
                self.report(
                    "graph_loop_open",
                    f"The loop of '{loop_id}' never comes back: connect the last node of "
                    f"its body to '{loop_id}'.",
                    node_id=loop_id,
                    field="edges",
                )
            for node_id in sorted(body, key=lambda n: self.nodes[n].index):
                if self.nodes[node_id].type_name == LOOP_TYPE:
                    self.report(
                        "graph_loop_nested",
                        f"'{node_id}' is a loop inside the loop of '{loop_id}'; loops "
                        "cannot be nested (call a sub-workflow from the loop instead).",
                        node_id=node_id,
                        field="edges",
                    )
            after = self._after_done(loop_id)
            for source, target, _ in self.edge_ports:
                if source in body and source not in after and target in after:
                    self.report(
                        "graph_loop_leak",
                        f"'{source}' is in the loop of '{loop_id}' and cannot lead to "
                        f"'{target}', which comes after the loop; use its 'done' output.",
                        node_id=source,
                        field="edges",
                    )

    def _after_done(self, loop_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [t for s, t, port in self.edge_ports if s == loop_id and port == DONE_PORT]
        while stack:
            node_id = stack.pop()
            if node_id not in seen and node_id != loop_id:
                seen.add(node_id)
                stack.extend(t for s, t, _ in self.edge_ports if s == node_id)
        return seen

    def _is_trigger(self, info: _NodeInfo) -> bool:
        if info.type is not None:
            return info.type.is_trigger
        return info.type_name is not None and info.type_name.startswith(TRIGGER_FAMILY)

    def _check_trigger_present(self, infos: list[_NodeInfo]) -> None:
        if not any(self._is_trigger(info) for info in infos):
            self.report(
                "trigger_missing", "A workflow needs at least one trigger node.", field="nodes"
            )


def _closes_loop(bodies: dict[str, frozenset[str]], source: str, target: str, port: str) -> bool:
    body = bodies.get(target)
    if body is None:
        return False
    return source in body or (source == target and port == LOOP_PORT)


# One validator per node type, built on first use. A dict rather than functools.cache:
# mypy (2.4) refuses a class object narrowed from `type[X] | None` as cache's Hashable key.
_params_validators: dict[type[NodeType], Draft202012Validator] = {}


def _params_validator(node_type: type[NodeType]) -> Draft202012Validator:
    validator = _params_validators.get(node_type)
    if validator is None:
        validator = _params_validators[node_type] = Draft202012Validator(node_type.params_schema)
    return validator


def _describe_schema_error(
    error: ValidationError, *, prefix: str = ""
) -> Iterator[tuple[str, str]]:
    """(field, message) pairs for one schema error; a missing or unknown property is
    reported at that property's own path."""
    base = _join_path(prefix, error.absolute_path)
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        # jsonschema raises one error per missing name without saying which; report them
        # all and let the checker drop the repeats
        for name in (name for name in error.validator_value if name not in instance):
            yield _join_path(base, [name]), f"'{name}' is required."
        return
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for name in sorted((key for key in error.instance if key not in known), key=str):
            yield _join_path(base, [str(name)]), f"Unknown key '{name}'."
        return
    detail = _most_relevant(error)
    yield base, f"Invalid value at {base or 'top level'}: {detail.message}."


def _most_relevant(error: ValidationError) -> ValidationError:
    """For "a value, or an expression" (anyOf) the useful complaint is about the value."""
    if not error.context:
        return error
    about_value = [sub for sub in error.context if sub.schema != EXPRESSION_SCHEMA]
    return best_match(about_value or error.context)


def _join_path(prefix: str, parts: Any) -> str:
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _located_message(error: Exception) -> str:
    position = getattr(error, "position", None)
    where = f" (at character {position})" if position is not None else ""
    return f"{error}{where}"
