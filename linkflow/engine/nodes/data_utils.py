"""Data utilities that work on the whole list of items: sort, limit, dedupe, rename,
summarize (group and aggregate) and compare (two inputs).

All are pure: nothing leaves the execution. Field names are dotted paths (see data.py).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.data import ABSENT, FIELD_NAME_SCHEMA, get_path, pop_path, set_path
from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from collections.abc import Callable

    from linkflow.engine.context import NodeContext

FIELD_LIST_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": FIELD_NAME_SCHEMA,
    "maxItems": 50,
    "uniqueItems": True,
}
# Joined values of "concatenate" stop growing here: one summary must stay storable.
MAX_CONCATENATED_CHARS = 1_000_000


def _rank(value: Any) -> tuple[int, Any]:
    """A sort key ordering values of mixed JSON types: numbers, then strings, then the
    rest by their JSON text; null and absent values come last in either direction."""
    if isinstance(value, bool):
        return (2, int(value))
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (3, json.dumps(value, sort_keys=True, default=str))


def _ranked_by(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """The sort key ranking items by their value at ``name``."""
    return lambda item: _rank(get_path(item, name))


def identity(item: dict[str, Any], fields: list[str]) -> str:
    """A hashable text naming ``item`` by ``fields`` (the whole item when there are none)."""
    if not fields:
        return json.dumps(item, sort_keys=True, default=str)
    values = [None if (v := get_path(item, f)) is ABSENT else v for f in fields]
    return json.dumps(values, sort_keys=True, default=str)


class Sort(NodeType):
    """Sorts the items by one or more fields."""

    type = "data.sort"
    pure = True
    label = "Sort"
    description = "Sorts items by fields, ascending or descending; missing values go last."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "fields": {
                "description": "The fields to sort by, the first one deciding first.",
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "properties": {
                        "field": FIELD_NAME_SCHEMA,
                        "order": {"enum": ["asc", "desc"], "default": "asc"},
                    },
                    "required": ["field"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["fields"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """The items in order (a stable sort, so equal items keep their order)."""
        ordered = list(items)
        # Sorting by the last key first, each pass stable, gives the combined order.
        for spec in reversed(ctx.params["fields"]):
            name, descending = spec["field"], spec.get("order") == "desc"
            present = [i for i in ordered if get_path(i, name) not in (ABSENT, None)]
            missing = [i for i in ordered if get_path(i, name) in (ABSENT, None)]
            present.sort(key=_ranked_by(name), reverse=descending)
            ordered = present + missing
        return {"main": ordered}


class Limit(NodeType):
    """Keeps the first (or last) N items."""

    type = "data.limit"
    pure = True
    label = "Limit"
    description = "Passes on only the first or the last N items."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "max_items": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "keep": {"enum": ["first", "last"], "default": "first"},
        },
        "required": ["max_items"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """At most ``max_items`` items, from the start or the end."""
        count = int(ctx.params["max_items"])
        if ctx.params.get("keep") == "last":
            return {"main": items[len(items) - count :] if count else []}
        return {"main": items[:count]}


class Dedupe(NodeType):
    """Drops items that repeat an earlier item's fields."""

    type = "data.dedupe"
    pure = True
    label = "Remove duplicates"
    description = "Keeps the first item of each set of items equal in the given fields."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "fields": {
                **FIELD_LIST_SCHEMA,
                "description": "Compare these fields only; none compares whole items.",
            }
        },
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """The first item of each identity, in input order."""
        fields = list(ctx.params.get("fields", []))
        seen: set[str] = set()
        kept = []
        for item in items:
            key = identity(item, fields)
            if key not in seen:
                seen.add(key)
                kept.append(item)
        return {"main": kept}


class Rename(NodeType):
    """Renames fields on every item."""

    type = "data.rename"
    pure = True
    label = "Rename fields"
    description = "Moves fields to new names ('address.city' reaches into objects)."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "fields": {
                "description": "Old field name to new field name.",
                "type": "object",
                "propertyNames": FIELD_NAME_SCHEMA,
                "additionalProperties": FIELD_NAME_SCHEMA,
                "minProperties": 1,
                "maxProperties": 100,
            }
        },
        "required": ["fields"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Every item with its fields renamed; a missing field is left alone."""
        return {"main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]}

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        renamed = dict(item)
        for old, new in ctx.params["fields"].items():
            value = pop_path(renamed, old)
            if value is not ABSENT:
                set_path(renamed, new, value)
        return [renamed]


AGGREGATIONS = ("count", "count_unique", "sum", "avg", "min", "max", "concatenate")


class Summarize(NodeType):
    """Groups items by fields and computes counts, sums, averages… per group."""

    type = "data.summarize"
    pure = True
    label = "Summarize"
    description = (
        "Groups items by fields (or all together) and emits one item per group with "
        "count, count_unique, sum, avg, min, max or concatenate of fields."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "group_by": {**FIELD_LIST_SCHEMA, "description": "Fields that form a group."},
            "aggregations": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "properties": {
                        "op": {"enum": list(AGGREGATIONS)},
                        "field": FIELD_NAME_SCHEMA,
                        "as": FIELD_NAME_SCHEMA,
                        "separator": {"type": "string", "maxLength": 100, "default": ", "},
                    },
                    "required": ["op"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["aggregations"],
        "additionalProperties": False,
    }

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Every aggregation but count names its field."""
        return [
            (f"params.aggregations.{n}.field", f"'{spec['op']}' needs a field.")
            for n, spec in enumerate(params.get("aggregations") or [])
            if isinstance(spec, dict) and spec.get("op") != "count" and not spec.get("field")
        ]

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """One item per group, in order of first appearance: the group fields, then one
        field per aggregation (named by ``as``, else "<op>_<field>"). Raises NodeError when
        sum or avg meet a value that is not a number."""
        group_by = list(ctx.params.get("group_by", []))
        groups: dict[str, Items] = {}
        members: dict[str, list[int]] = {}
        for position, item in enumerate(items):
            name = identity(item, group_by)
            groups.setdefault(name, []).append(item)
            members.setdefault(name, []).append(position)
        ctx.record_sources(list(members.values()))
        return {"main": [self._summary(ctx, group, group_by) for group in groups.values()]}

    def _summary(self, ctx: NodeContext, group: Items, group_by: list[str]) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for name in group_by:
            value = get_path(group[0], name)
            set_path(summary, name, None if value is ABSENT else value)
        for spec in ctx.params["aggregations"]:
            op, field = spec["op"], spec.get("field")
            target = spec.get("as") or (f"{op}_{field}" if field else op).replace(".", "_")
            set_path(summary, target, _aggregate(op, group, field, spec.get("separator", ", ")))
        return summary


def _aggregate(op: str, group: Items, field: str | None, separator: str) -> Any:
    if field is None:
        return len(group)
    values = [v for v in (get_path(i, field) for i in group) if v not in (ABSENT, None)]
    if op == "count":
        return len(values)
    if op == "count_unique":
        return len({json.dumps(v, sort_keys=True, default=str) for v in values})
    if op == "concatenate":
        text = separator.join(v if isinstance(v, str) else json.dumps(v) for v in values)
        if len(text) > MAX_CONCATENATED_CHARS:
            raise NodeError(
                f"The concatenation of '{field}' is over {MAX_CONCATENATED_CHARS} characters."
            )
        return text
    if op in ("min", "max"):
        return (min if op == "min" else max)(values, key=_rank) if values else None
    numbers = [_number(v, field) for v in values]
    if op == "sum":
        return math.fsum(numbers) if any(isinstance(n, float) for n in numbers) else sum(numbers)
    return math.fsum(numbers) / len(numbers) if numbers else None


def _number(value: Any, field: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NodeError(
            f"Field '{field}' holds {value!r}, not a number.", param="params.aggregations"
        )
    return value


class Compare(NodeType):
    """Compares the items of two inputs by key fields."""

    type = "data.compare"
    pure = True
    separate_inputs = True
    label = "Compare datasets"
    description = (
        "Matches the items of input 1 and input 2 by key fields: items equal in both, "
        "only in input 1, only in input 2, or in both but different."
    )
    outputs: ClassVar[tuple[str, ...]] = ("both", "only_left", "only_right", "different")
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "keys": {**FIELD_LIST_SCHEMA, "minItems": 1, "description": "Fields that match items."},
            "compare": {
                **FIELD_LIST_SCHEMA,
                "description": "Fields whose values must be equal; none compares whole items.",
            },
        },
        "required": ["keys"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """ "both": left items with an equal right item; "different": {"key", "left",
        "right"} for matched items that differ; "only_left"/"only_right": the unmatched.
        Of several items with one key on a side, the first is compared, the rest are
        treated as unmatched."""
        left, right = [*ctx.inputs, [], []][:2]
        keys, fields = list(ctx.params["keys"]), list(ctx.params.get("compare", []))
        by_key: dict[str, dict[str, Any]] = {}
        extra_right: Items = []
        for item in right:
            key = identity(item, keys)
            if key in by_key:
                extra_right.append(item)
            else:
                by_key[key] = item
        out: dict[str, Items] = {port: [] for port in self.outputs}
        for item in left:
            match = by_key.pop(identity(item, keys), None)
            if match is None:
                out["only_left"].append(item)
            elif _same(item, match, fields):
                out["both"].append(item)
            else:
                matched_on = {name: get_path(item, name) for name in keys}
                out["different"].append({"key": matched_on, "left": item, "right": match})
        out["only_right"] = [*by_key.values(), *extra_right]
        return out


def _same(left: dict[str, Any], right: dict[str, Any], fields: list[str]) -> bool:
    if not fields:
        return identity(left, []) == identity(right, [])
    return all(get_path(left, f) == get_path(right, f) for f in fields)
