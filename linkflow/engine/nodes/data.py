"""Data nodes: reshape items (set, rename and remove fields; filter; split lists; aggregate).

Also home of the small helpers other node modules share: dotted field paths and the
schema of a per-item condition.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.registry import PER_ITEM, Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

# A field name as written in params: "total", or "address.city" to reach into objects.
# Names are literal, never computed, so an expression marker is refused outright.
FIELD_NAME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^(?!.*\{\{)[^.]+(\.[^.]+)*$",
}

# A per-item condition: usually an expression, truthy in the Python sense.
CONDITION_SCHEMA: dict[str, Any] = {
    "description": "Usually an expression such as {{ json.total > 100 }}.",
    "type": ["boolean", "string", "number", "null"],
}


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


def get_path(item: dict[str, Any], name: str) -> Any:
    """The value at the dotted ``name`` inside ``item``, or ABSENT when some step of the
    path is missing or not an object. Never raises."""
    value: Any = item
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return ABSENT
        value = value[part]
    return value


def set_path(target: dict[str, Any], name: str, value: Any) -> None:
    """Set the dotted ``name`` in ``target`` to ``value``, creating objects on the way (a
    non-object in the way is replaced). Only ``target`` and copies are modified."""
    parts = name.split(".")
    # Nested objects are copied on the way down: they may be shared with the input item.
    for part in parts[:-1]:
        child = target.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        target[part] = child
        target = child
    target[parts[-1]] = value


def pop_path(target: dict[str, Any], name: str) -> Any:
    """Remove the dotted ``name`` from ``target`` and return its value, or ABSENT (changing
    nothing that matters) when it is not there. Only ``target`` and copies are modified."""
    parts = name.split(".")
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            return ABSENT
        child = dict(child)  # copied: it may be shared with the input item
        target[part] = child
        target = child
    return target.pop(parts[-1], ABSENT)


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for error messages ("absent" for ABSENT)."""
    if value is ABSENT:
        return "absent"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


_JSON_TYPE_NAMES: dict[type, str] = {str: "string", list: "list", dict: "object"}


class SetFields(NodeType):
    """Sets, renames and removes fields on every item."""

    type = "data.set"
    pure = True
    label = "Set fields"
    description = (
        "Adds or overwrites fields on each item, then renames and removes fields; "
        "dotted names reach into nested objects."
    )
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
            "rename": {
                "description": "Old field name to new field name, applied after 'fields'.",
                "type": "object",
                "propertyNames": FIELD_NAME_SCHEMA,
                "additionalProperties": FIELD_NAME_SCHEMA,
            },
            "remove": {
                "description": "Field names to drop, applied after 'rename'.",
                "type": "array",
                "items": FIELD_NAME_SCHEMA,
            },
        },
        "additionalProperties": False,
    }

    item_mode = PER_ITEM

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        """One output item per input item: a copy of it (or ``{}`` with keep_only) with the
        evaluated ``fields`` set, then ``rename`` applied (a missing old field is skipped,
        an existing new field is overwritten), then ``remove`` (missing fields ignored).
        Input items are never modified. Raises ExpressionError for a failing field
        expression, NodeError if ``fields`` does not evaluate to an object."""
        rename: dict[str, str] = ctx.params.get("rename") or {}
        remove: list[str] = ctx.params.get("remove") or []
        result = self._set_fields(ctx, index, item)
        for old, new in rename.items():
            value = pop_path(result, old)
            if value is not ABSENT:
                set_path(result, new, value)
        for name in remove:
            pop_path(result, name)
        return [result]

    def _set_fields(self, ctx: NodeContext, index: int, item: dict[str, Any]) -> dict[str, Any]:
        fields = ctx.param("fields", item_index=index, default={})
        if not isinstance(fields, dict):
            raise NodeError("Parameter 'fields' must be an object.", param="params.fields")
        result = {} if ctx.param("keep_only", item_index=index, default=False) else dict(item)
        for name, value in fields.items():
            set_path(result, name, value)
        return result


class Filter(NodeType):
    """Keeps the items that match a condition; the others leave on "discarded"."""

    type = "data.filter"
    pure = True
    label = "Filter"
    description = "Keeps items matching a condition and sends the rest to 'discarded'."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "condition": CONDITION_SCHEMA,
            "keep": {
                "description": "Which items go on 'main'.",
                "enum": ["matching", "non_matching"],
                "default": "matching",
            },
        },
        "required": ["condition"],
        "additionalProperties": False,
    }
    outputs = ("main", "discarded")

    item_mode = PER_ITEM

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> dict[str, Items]:
        """Evaluate ``condition`` for the item (truthy in the Python sense); with ``keep``
        "matching" a truthy item goes on "main", else a falsy one does; the rest go on
        "discarded". Both ports are always present, order is kept. Raises ExpressionError
        if the condition cannot be evaluated."""
        keep_matching = ctx.params.get("keep", "matching") == "matching"
        matches = bool(ctx.param("condition", item_index=index))
        return {"main" if matches == keep_matching else "discarded": [item]}


class Split(NodeType):
    """Turns a list inside each item into one item per element."""

    type = "data.split"
    pure = True
    label = "Split out"
    description = "Emits one item per element of a list field of each item."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "field": {**FIELD_NAME_SCHEMA, "description": "The list to split ('order.lines')."},
            "keep_parent": {
                "description": "Emit the parent item with the list replaced by the element.",
                "type": "boolean",
                "default": False,
            },
            "include_index": {
                "description": "Add 'index': the element's position in its list.",
                "type": "boolean",
                "default": False,
            },
        },
        "required": ["field"],
        "additionalProperties": False,
    }

    item_mode = PER_ITEM

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        """One item per element of ``field`` in the item, in order (an empty list emits
        nothing). Without ``keep_parent`` an object element becomes the item and any other
        element becomes ``{"value": element}``. Raises NodeError naming the field and the
        item index when the item has no such field or it is not a list."""
        ctx.check_time(item_index=index)
        name: str = ctx.param("field")
        keep_parent = bool(ctx.params.get("keep_parent", False))
        include_index = bool(ctx.params.get("include_index", False))
        elements = get_path(item, name)
        if not isinstance(elements, list):
            raise NodeError(_not_a_list(name, index, elements), param="params.field")
        emitted: Items = []
        for position, element in enumerate(elements):
            if position % 1024 == 1023:  # one item's list may be long: its timeout holds
                ctx.check_time(item_index=index)
            if keep_parent:
                result = dict(item)
                set_path(result, name, element)
            else:
                result = dict(element) if isinstance(element, dict) else {"value": element}
            if include_index:
                result["index"] = position
            emitted.append(result)
        return emitted


def _not_a_list(name: str, item_index: int, value: Any) -> str:
    if value is ABSENT:
        return f"Item {item_index} has no field '{name}' to split."
    return f"Field '{name}' of item {item_index} is a {json_type(value)}, not a list."


NUMERIC_MODES = ("sum", "count", "min", "max", "avg")


class Aggregate(NodeType):
    """Combines all items into one: a list of them, lists of fields, or a number."""

    type = "data.aggregate"
    pure = True
    label = "Aggregate"
    description = "Combines all input items into one item (list, field lists or a statistic)."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["list", "fields", *NUMERIC_MODES], "default": "list"},
            "output_field": {
                **FIELD_NAME_SCHEMA,
                "description": "Where the result goes: 'items' by default in list mode, "
                "else the mode's name ('sum', 'count', ...). Unused in fields mode.",
            },
            "fields": {
                "description": "Fields collected into lists (fields mode).",
                "type": "array",
                "items": FIELD_NAME_SCHEMA,
                "minItems": 1,
            },
            "field": {**FIELD_NAME_SCHEMA, "description": "The field to compute over."},
        },
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"mode": {"const": "fields"}}, "required": ["mode"]},
                "then": {"required": ["fields"]},
            },
            {
                "if": {
                    "properties": {"mode": {"enum": ["sum", "min", "max", "avg"]}},
                    "required": ["mode"],
                },
                "then": {"required": ["field"]},
            },
        ],
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Exactly one item on "main".

        list: ``{output_field: [items]}``. fields: ``{name: [values]}`` per listed field,
        items lacking it skipped. sum / min / max / avg: over the numbers at ``field``,
        absent and null values skipped (no values: sum 0, the others null). count: items
        (or, with ``field``, items where it is present and not null). Raises NodeError
        when a value to compute over is not a number.
        """
        mode = ctx.params.get("mode", "list")
        ctx.record_sources([list(range(len(items)))])  # the one item comes from them all
        if mode == "fields":
            return {"main": [_collect_fields(items, ctx.params["fields"])]}
        output_field = ctx.params.get("output_field", "items" if mode == "list" else mode)
        value = list(items) if mode == "list" else _statistic(mode, items, ctx.params.get("field"))
        result: dict[str, Any] = {}
        set_path(result, output_field, value)
        return {"main": [result]}


def _collect_fields(items: Items, names: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name in names:
        values = [get_path(item, name) for item in items]
        set_path(result, name, [value for value in values if value is not ABSENT])
    return result


def _statistic(mode: str, items: Items, name: str | None) -> Any:
    if mode == "count":
        if name is None:
            return len(items)
        return sum(1 for item in items if get_path(item, name) not in (ABSENT, None))
    assert name is not None  # the schema requires a field for the other modes
    numbers = _numbers(items, name)
    if mode == "sum":
        return _sum(numbers)
    if not numbers:
        return None
    if mode == "avg":
        return math.fsum(numbers) / len(numbers)
    return min(numbers) if mode == "min" else max(numbers)


def _numbers(items: Items, name: str) -> list[int | float]:
    numbers: list[int | float] = []
    for index, item in enumerate(items):
        value = get_path(item, name)
        if value is ABSENT or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise NodeError(
                f"Field '{name}' of item {index} is a {json_type(value)}, not a number.",
                param="params.field",
            )
        numbers.append(value)
    return numbers


def _sum(numbers: list[int | float]) -> int | float:
    # Whole numbers stay whole; fsum avoids drift when adding many amounts with fractions.
    if all(isinstance(number, int) for number in numbers):
        return sum(numbers)
    return math.fsum(numbers)
