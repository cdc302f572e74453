"""n8n's data nodes: Set / Edit Fields, Split Out, Aggregate, Rename Keys, Limit, Sort,
Remove Duplicates."""

from __future__ import annotations

import itertools
import json
from typing import Any

from workflows.importers.n8n_expressions import literal

from .base import Context, Mapped, NotMapped, Source, version_check

_V3 = (3, 3.1, 3.2, 3.3, 3.4, 3.5)


def set_node(source: Source, ctx: Context) -> Mapped:
    """Set v1/v2 (values by type, keepOnlySet) and v3.x (manual assignments with types
    or JSON mode; include all / none / selected / except)."""
    version_check(source, (1, 2, *_V3))
    if source.version < 3:
        return _set_v1(source, ctx)
    fields: Any
    options = source.param("options") or {}
    ignore = bool(options.get("ignoreConversionErrors", False))
    if options.get("dotNotation") is False:
        ctx.warn("dot notation off: field names with '.' would still nest in LinkFlow")
    raw_mode = source.param("mode", "manual") == "raw"
    if raw_mode:
        fields = _raw_fields(source, ctx)
    elif source.version >= 3.3:
        fields = {}
        for index, entry in enumerate(source.param("assignments.assignments") or []):
            name = str(entry.get("name", ""))
            where = f"assignments.assignments[{index}].value"
            fields[name] = _typed(
                ctx, entry.get("value"), entry.get("type", "string"), where, source.version, ignore
            )
    else:
        fields = {}
        for index, entry in enumerate(source.param("fields.values") or []):
            kind = str(entry.get("type", "stringValue"))
            name = str(entry.get("name", ""))
            where = f"fields.values[{index}].{kind}"
            fields[name] = _typed(
                ctx, entry.get(kind, ""), kind.replace("Value", ""), where, source.version, ignore
            )
    if source.version >= 3.3:
        include = (
            source.param("include", "all") if source.param("includeOtherFields", False) else "none"
        )
    else:
        include = source.param("include", "all")
    if isinstance(fields, str):  # JSON mode with an expression: the object is built per item
        return _raw_expression(ctx, fields, include)
    params: dict[str, Any] = {"fields": fields}
    nodes = [{"id": ctx.node_id, "type": "data.set", "params": params}]
    if include == "none":
        params["keep_only"] = True
    elif include == "except":
        names = [n.strip() for n in str(source.param("excludeFields", "")).split(",") if n.strip()]
        # n8n removes the excluded input fields before setting the new ones
        nodes.insert(
            0,
            {
                "id": f"{ctx.node_id}__except",
                "type": "data.set",
                "params": {"fields": {}, "remove": names},
            },
        )
    elif include == "selected":
        names = [n.strip() for n in str(source.param("includeFields", "")).split(",") if n.strip()]
        selected = {
            n.split(".")[-1]: "{{ js_out(js_get(json, "
            + ", ".join(literal(p) for p in n.split("."))
            + ")) }}"
            for n in names
        }
        nodes.insert(
            0,
            {
                "id": f"{ctx.node_id}__selected",
                "type": "data.set",
                "params": {"keep_only": True, "fields": selected},
            },
        )
    elif include != "all":
        raise NotMapped(f"include '{include}'")
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return Mapped(nodes, edges=edges)


def _raw_expression(ctx: Context, fields: str, include: str) -> Mapped:
    """The object computed per item goes through a list field and a split, since
    data.set's fields are named: the split's item is the object (merged into the input
    item when other fields are included)."""
    if include not in ("none", "all"):
        raise NotMapped(f"JSON mode with include '{include}'")
    inner = fields[3:-3]  # "{{ X }}" -> X
    base = "json" if include == "all" else "{}"
    build = {
        "id": f"{ctx.node_id}__json",
        "type": "data.set",
        "params": {
            "keep_only": True,
            "fields": {"__items": f"{{{{ [js_merge({base}, {inner})] }}}}"},
        },
    }
    split = {"id": ctx.node_id, "type": "data.split", "params": {"field": "__items"}}
    return Mapped([build, split], edges=[{"source": build["id"], "target": split["id"]}])


def _typed(ctx: Context, value: Any, kind: str, where: str, version: float, ignore: bool) -> Any:
    """One field's value converted to its declared type as n8n's Set v3 does."""
    if kind not in ("string", "number", "boolean", "array", "object"):
        raise NotMapped(f"field type '{kind}'")
    if not (isinstance(value, str) and value.startswith("=")):
        from linkflow.engine.js_compat import JsError, typed

        try:
            converted = typed(value, kind, version, ignore)
        except JsError as error:
            raise NotMapped(f"the value of {where} {error}") from None
        # Plain text in n8n, even with "{{" in it: LinkFlow must not read it as a template.
        return (
            ctx.value(converted, where) if isinstance(converted, str | list | dict) else converted
        )
    operand = ctx.operand(value, where)
    return f"{{{{ js_out(js_typed({operand}, {literal(kind)}, {version}, {literal(ignore)})) }}}}"


def _raw_fields(source: Source, ctx: Context) -> Any:
    raw = source.param("jsonOutput", "{}")
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.startswith("="):
        text = ctx.operand(raw, "jsonOutput")
        return f"{{{{ js_out(js_typed({text}, 'object', {source.version}, false)) }}}}"
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise NotMapped("the JSON output is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise NotMapped("the JSON output is not an object")
    return ctx.value(parsed, "jsonOutput")


def _set_v1(source: Source, ctx: Context) -> Mapped:
    fields: dict[str, Any] = {}
    for kind in ("string", "number", "boolean"):
        for index, entry in enumerate(source.param(f"values.{kind}") or []):
            name = str(entry.get("name", "propertyName"))
            value = entry.get("value", "" if kind == "string" else 0 if kind == "number" else False)
            fields[name] = ctx.value(value, f"values.{kind}[{index}].value")
    if source.param("options.dotNotation") is False:
        ctx.warn("dot notation off: field names with '.' would still nest in LinkFlow")
    params: dict[str, Any] = {"fields": fields}
    if source.param("keepOnlySet", False):
        params["keep_only"] = True
    return Mapped([{"id": ctx.node_id, "type": "data.set", "params": params}])


def split_out(source: Source, ctx: Context) -> Mapped:
    """Split Out v1: one field; no other fields or all other fields."""
    version_check(source, (1,))
    field = str(source.param("fieldToSplitOut", "")).strip()
    if not field or "," in field or field.startswith("="):
        raise NotMapped("splitting other than one named field")
    destination = source.param("options.destinationFieldName")
    if destination and destination != field:
        raise NotMapped("a destination field name")
    include = source.param("include", "noOtherFields")
    if include not in ("noOtherFields", "allOtherFields"):
        raise NotMapped(f"include '{include}'")
    params: dict[str, Any] = {"field": field, "keep_parent": include == "allOtherFields"}
    if include == "noOtherFields":
        ctx.warn("an element that is not an object becomes {value: …} (n8n: {<field>: …})")
    return Mapped([{"id": ctx.node_id, "type": "data.split", "params": params}])


def aggregate(source: Source, ctx: Context) -> Mapped:
    """Aggregate v1: all item data into a list, or individual fields into lists."""
    version_check(source, (1,))
    mode = source.param("aggregate", "aggregateIndividualFields")
    if mode == "aggregateAllItemData":
        output = source.param("destinationFieldName", "data") or "data"
        params: dict[str, Any] = {"mode": "list", "output_field": output}
        return Mapped([{"id": ctx.node_id, "type": "data.aggregate", "params": params}])
    names = []
    for entry in source.param("fieldsToAggregate.fieldToAggregate") or []:
        if entry.get("renameField"):
            raise NotMapped("renamed aggregate fields")
        names.append(str(entry.get("fieldToAggregate", "")))
    if not names or not all(names):
        raise NotMapped("no fields to aggregate")
    if (source.param("options") or {}).get("keepMissing"):
        ctx.warn("missing values are skipped, not kept as null")
    return Mapped(
        [
            {
                "id": ctx.node_id,
                "type": "data.aggregate",
                "params": {"mode": "fields", "fields": names},
            }
        ]
    )


def rename_keys(source: Source, ctx: Context) -> Mapped:
    version_check(source, (1,))
    pairs = {}
    for entry in source.param("keys.key") or []:
        old, new = entry.get("currentKey"), entry.get("newKey")
        if not old or not new or str(old).startswith("=") or str(new).startswith("="):
            raise NotMapped("computed or empty key names")
        pairs[str(old)] = str(new)
    if source.param("additionalOptions.regexReplacement"):
        raise NotMapped("regex replacements")
    return Mapped(
        [{"id": ctx.node_id, "type": "data.set", "params": {"fields": {}, "rename": pairs}}]
    )


def _python(ctx: Context, code: str, message: str) -> Mapped:
    ctx.warn(message)
    return Mapped([{"id": ctx.node_id, "type": "code.python", "params": {"code": code}}])


def limit(source: Source, ctx: Context) -> Mapped:
    """Limit v1: the first or last maxItems items, as data.limit."""
    version_check(source, (1,))
    count = source.param("maxItems", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise NotMapped("a computed item count")
    keep = "last" if source.param("keep") == "lastItems" else "first"
    params = {"max_items": count, "keep": keep}
    return Mapped([{"id": ctx.node_id, "type": "data.limit", "params": params}])


def sort(source: Source, ctx: Context) -> Mapped:
    """Sort v1, simple mode: by fields, ascending or descending (missing values last)."""
    version_check(source, (1,))
    if source.param("type", "simple") != "simple":
        raise NotMapped(f"sort type '{source.param('type')}'")
    keys = []
    for entry in source.param("sortFieldsUi.sortField") or []:
        name = str(entry.get("fieldName", ""))
        if not name or name.startswith("="):
            raise NotMapped("computed sort fields")
        keys.append((name.split("."), entry.get("order", "ascending") == "descending"))
    if not keys:
        raise NotMapped("no sort fields")
    lines = [
        "def _get(item, path):",
        "    for part in path:",
        "        if not isinstance(item, dict) or part not in item:",
        "            return None",
        "        item = item[part]",
        "    return item",
        "def _key(value):",
        "    if value is None:",
        "        return (2, 0, '')",
        "    if isinstance(value, (int, float)) and not isinstance(value, bool):",
        "        return (0, value, '')",
        "    return (1, 0, str(value))",
        "result = list(items)",
    ]
    for path, descending in reversed(keys):
        lines.append(
            f"result.sort(key=lambda item: _key(_get(item, {path!r})), reverse={descending})"
        )
    lines.append("return result")
    return _python(
        ctx, "\n".join(lines) + "\n", "runs as a Python code node; mixed types sort numbers first"
    )


def remove_duplicates(source: Source, ctx: Context) -> Mapped:
    """Remove Duplicates v1/v1.1 (within the input): all fields or selected fields."""
    version_check(source, (1, 1.1, 2))
    if (
        source.version >= 2
        and source.param("operation", "removeDuplicateInputItems") != "removeDuplicateInputItems"
    ):
        raise NotMapped("removing items seen in earlier executions")
    compare = source.param("compare", "allFields")
    if compare == "allFields":
        key = "json.dumps(item, sort_keys=True)"
    elif compare == "selectedFields":
        names = [
            n.strip() for n in str(source.param("fieldsToCompare", "")).split(",") if n.strip()
        ]
        key = f"json.dumps([item.get(n) for n in {names!r}], sort_keys=True)"
    else:
        raise NotMapped(f"compare '{compare}'")
    code = (
        "import json\nseen = set()\nresult = []\nfor item in items:\n"
        f"    key = {key}\n    if key not in seen:\n"
        "        seen.add(key)\n        result.append(item)\n"
        "return result\n"
    )
    return _python(ctx, code, "runs as a Python code node")
