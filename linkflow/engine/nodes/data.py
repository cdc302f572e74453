"""Data nodes: reshape items."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class SetFields(NodeType):
    """Sets fields on every item, from literals or expressions."""

    type = "data.set"
    pure = True
    label = "Set fields"
    description = "Adds or overwrites fields on each item; dotted names create nested objects."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "fields": {
                "description": "Field name ('address.city' nests) to value or expression.",
                "type": "object",
                "propertyNames": {
                    "minLength": 1,
                    "maxLength": 200,
                    "pattern": r"^[^.]+(\.[^.]+)*$",
                },
            },
            "keep_only": {
                "description": "Emit only the set fields instead of the item plus the fields.",
                **or_expression({"type": "boolean"}),
                "default": False,
            },
        },
        "required": ["fields"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """One output item per input item: a copy of it (or ``{}`` with keep_only) with the
        evaluated fields set. Input items are never modified. Raises ExpressionError for a
        failing field expression, NodeError if ``fields`` does not evaluate to an object."""
        return {"main": [self._set_fields(ctx, index, item) for index, item in enumerate(items)]}

    def _set_fields(self, ctx: NodeContext, index: int, item: dict[str, Any]) -> dict[str, Any]:
        fields = ctx.param("fields", item_index=index)
        if not isinstance(fields, dict):
            raise NodeError("Parameter 'fields' must be an object.", param="params.fields")
        result = {} if ctx.param("keep_only", item_index=index, default=False) else dict(item)
        for name, value in fields.items():
            _set_path(result, name.split("."), value)
        return result


def _set_path(target: dict[str, Any], parts: list[str], value: Any) -> None:
    # Nested objects are copied on the way down: they may be shared with the input item.
    for part in parts[:-1]:
        child = target.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        target[part] = child
        target = child
    target[parts[-1]] = value
