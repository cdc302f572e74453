"""Node types: the base class and the registry mapping type names to their classes.

Built-in types are listed as dotted paths and imported on first use, so loading the engine
does not import every node library (and later, every plugin's dependencies).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

Items = list[dict[str, Any]]

OBJECT_SCHEMA_WITHOUT_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}

# A string holding at least one {{ }} expression: accepted wherever a parameter may be
# computed, and checked for its real type when the node runs.
EXPRESSION_SCHEMA: dict[str, Any] = {"type": "string", "pattern": r"\{\{"}


def or_expression(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or an expression string that will produce such a value at run time."""
    return {"anyOf": [schema, EXPRESSION_SCHEMA]}


class NodeType:
    """Base class of every node type: its name, UI texts, parameter schema, ports and
    ``execute``.

    Subclasses are stateless; the runner creates an instance per execution.
    """

    type: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    params_schema: ClassVar[dict[str, Any]] = OBJECT_SCHEMA_WITHOUT_PARAMS
    outputs: ClassVar[tuple[str, ...]] = ("main",)
    is_trigger: ClassVar[bool] = False
    # True when running the node has no effect outside the execution (no network, no
    # storage): the host may batch the record of such nodes, since redoing one is harmless.
    pure: ClassVar[bool] = False
    # True for nodes that combine their inputs (flow.merge) and read ``ctx.inputs``, one
    # list per incoming edge. Like every node, they run when any input has items.
    separate_inputs: ClassVar[bool] = False

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Process the input items and return the items emitted per output port.

        Raise NodeError (or let ExpressionError through) to fail with a useful message;
        any other exception also fails the node, with its type and text as the message.
        """
        raise NotImplementedError


_BUILTIN_PATHS: dict[str, str] = {
    "trigger.manual": "linkflow.engine.nodes.trigger:ManualTrigger",
    "http.request": "linkflow.engine.nodes.http:HttpRequest",
    "data.set": "linkflow.engine.nodes.data:SetFields",
    "flow.if": "linkflow.engine.nodes.flow:If",
    "flow.noop": "linkflow.engine.nodes.flow:NoOp",
    "flow.switch": "linkflow.engine.nodes.flow:Switch",
    "flow.merge": "linkflow.engine.nodes.flow:Merge",
    "flow.wait": "linkflow.engine.nodes.flow:Wait",
    "data.filter": "linkflow.engine.nodes.data:Filter",
    "data.split": "linkflow.engine.nodes.data:Split",
    "data.aggregate": "linkflow.engine.nodes.data:Aggregate",
    "trigger.webhook": "linkflow.engine.nodes.trigger:WebhookTrigger",
    "trigger.schedule": "linkflow.engine.nodes.trigger:ScheduleTrigger",
    "webhook.respond": "linkflow.engine.nodes.respond:RespondToWebhook",
    "workflow.execute": "linkflow.engine.nodes.subworkflow:ExecuteWorkflow",
    "code.python": "linkflow.engine.nodes.code:PythonCode",
    "notify.email": "linkflow.engine.nodes.notify:Email",
    "notify.slack": "linkflow.engine.nodes.notify:Slack",
    "flow.stop": "linkflow.engine.nodes.flow_stop:Stop",
    "trigger.error": "linkflow.engine.nodes.trigger_error:ErrorTrigger",
    "trigger.poll": "linkflow.engine.nodes.trigger_poll:PollTrigger",
}

_targets: dict[str, str | type[NodeType]] = dict(_BUILTIN_PATHS)
_loaded: dict[str, type[NodeType]] = {}
_lock = threading.Lock()


def register(type_name: str, target: str | type[NodeType]) -> None:
    """Make a node type available: ``target`` is a "package.module:ClassName" path, imported
    on first use, or the class itself.

    This is where plugins hook in. Raises ValueError if the name is already registered,
    so a plugin cannot silently replace a built-in type.
    """
    with _lock:
        if type_name in _targets:
            raise ValueError(f"node type {type_name!r} is already registered")
        _targets[type_name] = target


PLUGIN_GROUP = "linkflow.nodes"


def load_plugins() -> list[str]:
    """Register the node types that installed packages declare in the ``linkflow.nodes``
    entry point group (name = node type, value = "package.module:ClassName").

    Imports nothing yet: each class loads on first use. Names already registered are left
    alone (a plugin cannot replace a built-in). Returns the names added.
    """
    added = []
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        with _lock:
            if entry.name in _targets:
                continue
            _targets[entry.name] = entry.value
        added.append(entry.name)
    return added


def unregister(type_name: str) -> None:
    """Remove a registered node type (for tests and plugin unloading); no-op if unknown."""
    with _lock:
        _targets.pop(type_name, None)
        _loaded.pop(type_name, None)


def get_node_type(name: str) -> type[NodeType] | None:
    """The node type class registered under ``name``, or None for an unknown name.

    A registered path that cannot be imported, or that names something other than a
    NodeType subclass with the same ``type``, raises (ImportError, AttributeError,
    TypeError): that is a deployment bug, not bad user input.
    """
    cls = _loaded.get(name)
    if cls is not None:
        return cls
    target = _targets.get(name)
    if target is None:
        return None
    cls = _import(target) if isinstance(target, str) else target
    if not (isinstance(cls, type) and issubclass(cls, NodeType)) or cls.type != name:
        raise TypeError(f"{target!r} is not the NodeType for {name!r}")
    _loaded[name] = cls
    return cls


def node_types() -> list[type[NodeType]]:
    """Every registered node type, sorted by type name (imports them all)."""
    found = (get_node_type(name) for name in sorted(_targets.copy()))
    return [cls for cls in found if cls is not None]


def _import(dotted_path: str) -> object:
    module_name, _, attribute = dotted_path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
