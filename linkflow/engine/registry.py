"""Node types: the base class and the registry mapping type names to their classes.

Built-in types are listed as dotted paths and imported on first use, so loading the engine
does not import every node library (and later, every plugin's dependencies).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

Items = list[dict[str, Any]]
# What ``execute_item`` returns for one input item: its output items on "main", or a dict
# of port -> output items for a node that routes (flow.if, flow.switch).
ItemOutput = Items | dict[str, Items]

# How a node type handles its input items (served by the node-types API as ``item_mode``).
PER_ITEM = "per_item"  # one by one through ``execute_item``: errors and retries are per item
BATCH = "batch"  # all at once through ``execute``: it succeeds or fails as a whole

OBJECT_SCHEMA_WITHOUT_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}

# A string holding at least one {{ }} expression: accepted wherever a parameter may be
# computed, and checked for its real type when the node runs.
EXPRESSION_SCHEMA: dict[str, Any] = {"type": "string", "pattern": r"\{\{"}


# In a parameter's schema: the parameter holds the id of another object of the workspace,
# of the kind named (``"workflow"``), which saving checks exists (engine/references.py).
REFERENCE_KEYWORD = "x-linkflow-reference"


def or_expression(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or an expression string that will produce such a value at run time."""
    return {"anyOf": [schema, EXPRESSION_SCHEMA]}


class NodeType:
    """Base class of every node type: its name, UI texts, parameter schema, ports, version
    and how it handles items.

    A node type handles its items one of two ways (``item_mode``):

    - ``"per_item"``: it implements ``execute_item(ctx, item, index)`` (and may implement
      ``setup(ctx)``, run once before the items). The runner calls it per input item, so a
      failing item fails alone: ``on_error`` then applies per item, a retry runs only the
      items that failed, and every output item keeps the index of the input item it came
      from (its lineage). Write this whenever items are independent.
    - ``"batch"``: it implements ``execute(ctx, items)`` and succeeds or fails as a whole
      (code.python, flow.merge, data.aggregate: the items are not independent there).

    Subclasses are stateless between runs; the runner creates an instance per node run, so
    ``setup`` may keep what it prepared on ``self`` for ``execute_item``.
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
    # True when running the node reaches past LinkFlow (a request, a mail, a row, a
    # message): what the editor warns of before a test run runs it for real. Unset, it
    # follows ``pure``; a type that is impure only for being costly or random says False.
    outside_effects: ClassVar[bool | None] = None
    # True for nodes that combine their inputs (flow.merge) and read ``ctx.inputs``, one
    # list per incoming edge. Like every node, they run when any input has items.
    separate_inputs: ClassVar[bool] = False
    item_mode: ClassVar[str] = BATCH
    # For an editor, when the ports depend on the params (see ``ports``): how to compute
    # them, as the node-types API documents. None when ``outputs`` are the ports.
    outputs_from: ClassVar[dict[str, Any] | None] = None
    # The type's current version: what a node saved from now on records (n8n's
    # typeVersion). A change of what the type does bumps it, and the old behaviour stays
    # for nodes that recorded the old number. A stored node without a version is version 1
    # (docs/nodes.md, "Versions"). Version 2 is the first with per-item ``on_error``, for
    # every type, plugins included: they were all written against the whole-node rule.
    version: ClassVar[int] = 2
    # From which version ``on_error`` acts per item (before it: on the whole node). A type
    # written after per-item errors may set it, and ``version``, to 1.
    item_errors_since: ClassVar[int] = 2
    # The credential types a node of this type may name in its ``credential`` field; empty
    # for a type that uses none. Saving checks a named credential against them, and
    # activation and execution refuse a node that needs one and has none
    # (``credential_needed``; workflows/references.py).
    credential_types: ClassVar[tuple[str, ...]] = ()
    # True for a type that works without its credential too (http.request's auth).
    credential_optional: ClassVar[bool] = False

    @classmethod
    def credential_needed(cls, params: Mapping[str, Any], version: int) -> bool:
        """True when a node with these (valid) ``params`` cannot run without a credential:
        by default whenever the type takes one and it is not ``credential_optional``."""
        return bool(cls.credential_types) and not cls.credential_optional

    @classmethod
    def reaches_outside(cls) -> bool:
        """Whether running a node of this type has effects outside LinkFlow."""
        if cls.is_trigger:
            return False
        return (not cls.pure) if cls.outside_effects is None else cls.outside_effects

    @classmethod
    def ports(cls, params: Mapping[str, Any], version: int) -> tuple[str, ...]:
        """The output ports of a node of this type with these (already valid) ``params`` at
        ``version``: ``outputs`` unless the ports depend on the params (flow.switch)."""
        return cls.outputs

    @classmethod
    def handles_items(cls, params: Mapping[str, Any], version: int) -> bool:
        """True when a node with these params goes through ``execute_item`` item by item
        (a type may choose per node: workflow.execute's ``mode``)."""
        return cls.item_mode == PER_ITEM

    @classmethod
    def check_node(cls, params: dict[str, Any], version: int) -> list[tuple[str, str]]:
        """What a schema cannot say about schema-valid ``params``, as (field, message)
        pairs: by default the type's ``check_params(params)`` when it has one."""
        check = getattr(cls, "check_params", None)
        return list(check(params)) if check is not None else []

    def setup(self, ctx: NodeContext) -> None:
        """Prepare what every item needs (resolve the credential...), once per node run of a
        per-item type. Raising here fails every item with that error."""

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> ItemOutput:
        """Handle input item number ``index`` (``item`` is ``ctx``'s item at that index, so
        ``ctx.param(name, item_index=index)`` evaluates against it) and return what it
        emits. Raise NodeError (or let ExpressionError through) to fail this item only;
        Suspend parks the whole node, the items done so far stay done."""
        raise NotImplementedError

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Process the input items and return the items emitted per output port.

        Raise NodeError (or let ExpressionError through) to fail with a useful message;
        any other exception also fails the node, with its type and text as the message.
        For a per-item type this runs ``setup`` and every item in order, failing at the
        first failing item (the runner does not call it: it drives the items itself).
        """
        if not self.handles_items(ctx.params, ctx.version):
            raise NotImplementedError
        self.setup(ctx)
        emitted: dict[str, Items] = {port: [] for port in self.ports(ctx.params, ctx.version)}
        for index, item in enumerate(items):
            for port, produced in item_ports(self.execute_item(ctx, item, index)).items():
                emitted.setdefault(port, []).extend(produced)
        return emitted


def item_ports(output: ItemOutput) -> dict[str, Items]:
    """``execute_item``'s result as port -> items (a plain list is the "main" port)."""
    if isinstance(output, list):
        return {"main": output}
    if isinstance(output, dict):
        return output
    raise TypeError(f"execute_item returned {type(output).__name__}, not a list or dict")


_BUILTIN_PATHS: dict[str, str] = {
    "trigger.manual": "linkflow.engine.nodes.trigger:ManualTrigger",
    "http.request": "linkflow.engine.nodes.http:HttpRequest",
    "data.set": "linkflow.engine.nodes.data:SetFields",
    "flow.if": "linkflow.engine.nodes.flow:If",
    "flow.noop": "linkflow.engine.nodes.flow:NoOp",
    "flow.switch": "linkflow.engine.nodes.flow:Switch",
    "flow.merge": "linkflow.engine.nodes.flow:Merge",
    "flow.wait": "linkflow.engine.nodes.flow:Wait",
    "flow.batch": "linkflow.engine.nodes.flow_batch:Batch",
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
    "data.sort": "linkflow.engine.nodes.data_utils:Sort",
    "data.limit": "linkflow.engine.nodes.data_utils:Limit",
    "data.dedupe": "linkflow.engine.nodes.data_utils:Dedupe",
    "data.rename": "linkflow.engine.nodes.data_utils:Rename",
    "data.summarize": "linkflow.engine.nodes.data_utils:Summarize",
    "data.compare": "linkflow.engine.nodes.data_utils:Compare",
    "data.datetime": "linkflow.engine.nodes.data_datetime:DateTime",
    "data.crypto": "linkflow.engine.nodes.data_crypto:Crypto",
    "data.html": "linkflow.engine.nodes.data_html:ExtractHtml",
    "data.xml": "linkflow.engine.nodes.data_xml:Xml",
    "db.postgres": "linkflow.engine.nodes.db_postgres:Postgres",
    "db.mysql": "linkflow.engine.nodes.db_mysql:MySql",
    "redis.command": "linkflow.engine.nodes.redis_command:RedisCommand",
    "amqp.publish": "linkflow.engine.nodes.amqp_publish:AmqpPublish",
    "mqtt.publish": "linkflow.engine.nodes.mqtt_publish:MqttPublish",
    "nats.publish": "linkflow.engine.nodes.nats_publish:NatsPublish",
    "s3.object": "linkflow.engine.nodes.s3:S3Object",
    "notify.webhook": "linkflow.engine.nodes.notify_webhook:WebhookNotify",
    "flow.stop": "linkflow.engine.nodes.flow_stop:Stop",
    "trigger.error": "linkflow.engine.nodes.trigger_error:ErrorTrigger",
    "trigger.poll": "linkflow.engine.nodes.trigger_poll:PollTrigger",
    "trigger.redis": "linkflow.engine.nodes.trigger_listen:RedisTrigger",
    "trigger.amqp": "linkflow.engine.nodes.trigger_listen:AmqpTrigger",
    "trigger.mqtt": "linkflow.engine.nodes.trigger_listen:MqttTrigger",
    "trigger.nats": "linkflow.engine.nodes.trigger_listen:NatsTrigger",
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
    found = _import(target) if isinstance(target, str) else target
    if not (isinstance(found, type) and issubclass(found, NodeType)) or found.type != name:
        raise TypeError(f"{target!r} is not the NodeType for {name!r}")
    _loaded[name] = found
    return found


def node_types() -> list[type[NodeType]]:
    """Every registered node type, sorted by type name (imports them all)."""
    found = (get_node_type(name) for name in sorted(_targets.copy()))
    return [cls for cls in found if cls is not None]


def _import(dotted_path: str) -> object:
    module_name, _, attribute = dotted_path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
