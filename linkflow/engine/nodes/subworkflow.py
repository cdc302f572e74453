"""The sub-workflow node: runs another workflow of the workspace through the host.

What the called workflow receives depends on the node's version (docs/nodes.md,
"Sub-workflows"): from version 3 its trigger emits the caller's items, one item each
(with ``fields``: the items those fields build), and the items its last node emitted
come back as this node's output. Versions 1 and 2 hand it one item ``{"items": [...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.registry import EXPRESSION_SCHEMA, REFERENCE_KEYWORD, Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

# From this version the child's trigger emits the items themselves, not {"items": [...]}.
ITEMS_AS_ITEMS_SINCE = 3


class ExecuteWorkflow(NodeType):
    """Hands its items to another workflow and emits what that workflow returns."""

    type = "workflow.execute"
    # Not pure: it starts another execution, which a replay must not start twice.
    pure = False
    label = "Execute workflow"
    description = "Runs another workflow with the items as its input."
    # 3: the called workflow's trigger emits the items one each (was one {"items": [...]}).
    version = 3
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "workflow": {
                "description": "The id of the workflow to run, or an expression giving it.",
                "type": "string",
                "minLength": 1,
                # A literal id must name a workflow of the workspace (checked on save).
                REFERENCE_KEYWORD: "workflow",
            },
            "mode": {
                "description": (
                    "'once': all items to one run of the workflow; 'per_item' (version 2): "
                    "one run per item, results and errors per item, in input order."
                ),
                "enum": ["once", "per_item"],
                "default": "once",
            },
            "wait": {
                "description": "Wait for its last items; else emit its execution id at once.",
                "type": "boolean",
                "default": True,
            },
            "fields": {
                "description": (
                    "Version 3: the fields of each item handed over, by name (values may be "
                    "expressions on the item); without it each item goes as it is. Checked "
                    "at save against the inputs the called workflow's trigger declares."
                ),
                "anyOf": [
                    {
                        "type": "object",
                        "propertyNames": {"minLength": 1, "maxLength": 200},
                        "maxProperties": 200,
                    },
                    EXPRESSION_SCHEMA,
                ],
            },
        },
        "required": ["workflow"],
        "additionalProperties": False,
    }

    @classmethod
    def handles_items(cls, params: Mapping[str, Any], version: int) -> bool:
        """Item by item in ``per_item`` mode; ``once`` hands all items over as a batch."""
        return version >= 2 and params.get("mode", "once") == "per_item"

    @classmethod
    def check_node(cls, params: dict[str, Any], version: int) -> list[tuple[str, str]]:
        """``fields`` exists from version 3 on: an older node keeps its old item shape."""
        if "fields" in params and version < ITEMS_AS_ITEMS_SINCE:
            return [("params.fields", "'fields' needs version 3 of workflow.execute.")]
        return []

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        """``per_item`` mode: run the workflow with this one item (``workflow`` and
        ``fields`` evaluated against it) and emit what it returns; the key is the node's
        idempotency key and the item's index, so a repeated call of one item finds its own
        child run. Errors as in ``execute``."""
        handed = [self._handed(ctx, item, index)]
        return self._call(ctx, handed, index, key=f"{ctx.idempotency_key}:{index}")

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Call ``ctx.run.subworkflows.run`` once with all items (built by ``fields`` from
        version 3) and this node's idempotency key, and emit the items it returns on
        "main" (with ``wait`` false: ``[{"execution_id": ...}]``). ``workflow`` is
        evaluated with the first item as ``json``. Raises NodeError when the host offers
        no sub-workflows, the id is not a non-empty string or ``fields`` is not an object;
        NodeError and Suspend from the host pass through."""
        if self.handles_items(ctx.params, ctx.version):
            return super().execute(ctx, items)
        handed = [self._handed(ctx, item, index) for index, item in enumerate(items)]
        first = 0 if items else None
        return {"main": self._call(ctx, handed, first, key=ctx.idempotency_key)}

    def _handed(self, ctx: NodeContext, item: dict[str, Any], index: int) -> dict[str, Any]:
        """The item the called workflow receives for input ``index``."""
        if ctx.version < ITEMS_AS_ITEMS_SINCE or "fields" not in ctx.params:
            return item
        fields = ctx.param("fields", item_index=index)
        if not isinstance(fields, dict):
            raise NodeError(
                f"'fields' must give an object, got {type(fields).__name__}.",
                param="params.fields",
            )
        return fields

    def _call(self, ctx: NodeContext, items: Items, index: int | None, *, key: str) -> Items:
        runner = ctx.run.subworkflows
        if runner is None:
            raise NodeError("Sub-workflows are not available here.")
        workflow_id = ctx.param("workflow", item_index=index)
        if not isinstance(workflow_id, str) or not workflow_id.strip():
            raise NodeError(
                f"'workflow' must be a workflow id, got {workflow_id!r}.",
                param="params.workflow",
            )
        returned = runner.run(
            workflow_id=workflow_id.strip(),
            items=items,
            wait=bool(ctx.params.get("wait", True)),
            key=key,
            as_items=ctx.version >= ITEMS_AS_ITEMS_SINCE,
        )
        return list(returned)


_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def declared_inputs(graph: Any) -> list[dict[str, Any]] | None:
    """The inputs a stored graph's manual triggers declare (``params.inputs``), or None
    when none declares any: such a workflow takes whatever its callers hand over."""
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    declared: list[dict[str, Any]] = []
    found = False
    for node in nodes if isinstance(nodes, list) else ():
        if isinstance(node, dict) and node.get("type") == "trigger.manual":
            inputs = (node.get("params") or {}).get("inputs")
            if isinstance(inputs, list):
                found = True
                declared.extend(entry for entry in inputs if isinstance(entry, dict))
    return declared if found else None


def caller_problems(
    params: Mapping[str, Any], declared: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """What is wrong with a workflow.execute node's ``fields`` against the ``declared``
    inputs of the workflow it calls, as (field, message) pairs: a field the workflow does
    not declare, a required one missing, a literal value of the wrong type (expressions
    are checked when they run). A node without a ``fields`` object passes its items as
    they are and cannot be checked here: no problems. Never raises."""
    fields = params.get("fields")
    if not isinstance(fields, dict):
        return []
    by_name = {entry.get("name"): entry for entry in declared}
    problems = [
        (f"params.fields.{name}", f"The called workflow declares no input '{name}'.")
        for name in fields
        if name not in by_name
    ]
    for name, entry in by_name.items():
        if entry.get("required") and name not in fields:
            problems.append((f"params.fields.{name}", f"The input '{name}' is required."))
        elif name in fields and not _fits(fields[name], entry.get("type", "any")):
            expected = entry.get("type")
            problems.append((f"params.fields.{name}", f"The input '{name}' is a {expected}."))
    return problems


def _fits(value: Any, expected: str) -> bool:
    if isinstance(value, str) and "{{" in value:
        return True  # an expression: its value is known only when it runs
    allowed = _TYPE_CHECKS.get(expected)
    if allowed is None:
        return True
    if isinstance(value, bool) and bool not in allowed:
        return False  # True is an int to Python, not a number to a workflow
    return isinstance(value, allowed)
