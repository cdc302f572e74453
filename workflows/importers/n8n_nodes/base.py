"""What every n8n node mapper gets and gives back.

A mapper reads one n8n node (``Source``) and returns a ``Mapped``: the LinkFlow node(s)
it becomes (usually one; a few n8n nodes need a helper node after them, e.g. the HTTP
request's body unwrapping), the LinkFlow port each n8n output index leaves by, and what
the report says about it. Parameters are translated through ``Context.value`` so every
expression is recorded with the parameter it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.importers.n8n_expressions import (
    Scope,
    Translation,
    literal,
    translate_operand,
    translate_value,
)

MAPPED = "mapped"
WARNINGS = "mapped_with_warnings"
NOT_MAPPED = "not_mapped"


@dataclass
class Source:
    """One node of the n8n document, as read by ``workflows.importers.n8n``."""

    name: str
    type: str  # without the "n8n-nodes-base." prefix
    full_type: str
    version: float
    parameters: dict[str, Any]
    raw: dict[str, Any]

    def param(self, path: str, default: Any = None) -> Any:
        """The parameter at a dotted path ("options.timeout"), or ``default``."""
        value: Any = self.parameters
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value


@dataclass
class ExpressionRecord:
    parameter: str
    original: str
    status: str  # "translated" | "kept"
    reason: str | None = None


@dataclass
class Context:
    """The state shared by the mappers of one import."""

    scope: Scope
    node_id: str
    # n8n workflow id -> LinkFlow workflow id, for Execute Workflow nodes imported together
    workflow_ids: dict[str, str] = field(default_factory=dict)
    expressions: list[ExpressionRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def value(self, raw: Any, parameter: str) -> Any:
        """``raw`` with its n8n expressions translated; each one recorded."""
        return self._record(translate_value(raw, self.scope), parameter)

    def operand(self, raw: Any, parameter: str) -> str:
        """``raw`` as one Jinja expression (see translate_operand); recorded."""
        return str(self._record(translate_operand(raw, self.scope), parameter))

    def _record(self, translation: Translation, parameter: str) -> Any:
        kept = {original for original, _ in translation.kept}
        reasons = dict(translation.kept)
        for original in translation.expressions:
            self.expressions.append(ExpressionRecord(parameter, original, "translated"))
        for original in kept:
            # the whole value was kept: its expressions are not translated after all
            for record in self.expressions:
                if record.parameter == parameter and record.original in original:
                    record.status, record.reason = "kept", reasons[original]
            if not any(r.parameter == parameter and r.status == "kept" for r in self.expressions):
                self.expressions.append(
                    ExpressionRecord(parameter, original, "kept", reasons[original])
                )
        for warning in translation.warnings:
            self.warn(warning)
        return translation.value

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass
class Mapped:
    """The LinkFlow side of one n8n node. ``nodes[0]`` receives the node's input edges,
    ``nodes[-1]`` is the one its output edges leave from (and the one expressions read
    as ``$('Name')``); ``ports`` maps n8n output index -> port of that last node."""

    nodes: list[dict[str, Any]]
    status: str = MAPPED
    reason: str | None = None
    ports: dict[int, str] = field(default_factory=lambda: {0: "main"})
    edges: list[dict[str, Any]] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)


class NotMapped(Exception):
    """This node (or this typeVersion, or these settings) has no LinkFlow counterpart."""


def placeholder(source: Source, node_id: str, reason: str) -> Mapped:
    """A node LinkFlow cannot run as n8n did: a Python code node that fails with the
    reason, so the run stops there instead of going on with wrong data, and the n8n
    parameters stay visible in the code for whoever finishes it by hand."""
    import json

    kept = json.dumps(source.parameters, indent=2, ensure_ascii=False)[:50_000]
    # "{{" would read as a LinkFlow expression in the saved graph: the copy is for reading
    kept = kept.replace("{{", "{ {").replace("}}", "} }")
    reason = reason.replace("{{", "{ {").replace("}}", "} }")
    code = (
        f"# Imported from n8n: {source.full_type} v{source.version} was not mapped.\n"
        f"# Reason: {reason}\n"
        "# Its n8n parameters, for rewriting this node by hand:\n"
        + "".join(f"#   {line}\n" for line in kept.splitlines())
        + f"raise NotImplementedError({literal('Not mapped from n8n: ' + reason)})\n"
    )
    node = {"id": node_id, "type": "code.python", "name": source.name, "params": {"code": code}}
    outputs = max(1, _n8n_output_count(source))
    return Mapped([node], NOT_MAPPED, reason, ports=dict.fromkeys(range(outputs), "main"))


def _n8n_output_count(source: Source) -> int:
    return 2 if source.type in ("if",) else 1


def version_check(source: Source, versions: tuple[float, ...]) -> None:
    """Raise NotMapped unless the node's typeVersion is one the mapper reads."""
    if source.version not in versions:
        known = ", ".join(_version_text(v) for v in versions)
        raise NotMapped(f"typeVersion {_version_text(source.version)} is not read (reads {known})")


def _version_text(version: float) -> str:
    return str(int(version)) if float(version).is_integer() else str(version)
