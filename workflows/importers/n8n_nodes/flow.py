"""n8n's routing nodes: IF, Filter, Switch, Merge, Wait, No Operation, Stop and Error."""

from __future__ import annotations

import re
from typing import Any

from linkflow.engine.nodes.flow_batch import MAX_BATCH_SIZE
from workflows.importers.n8n_expressions import literal

from .base import Context, Mapped, NotMapped, Source, version_check

# IF v1 / Filter v1 operations as the v2 condition builder's (type, operation).
_V1_OPERATIONS = {
    "string": {
        "contains": "contains",
        "notContains": "notContains",
        "startsWith": "startsWith",
        "notStartsWith": "notStartsWith",
        "endsWith": "endsWith",
        "notEndsWith": "notEndsWith",
        "equal": "equals",
        "notEqual": "notEquals",
        "regex": "regex",
        "notRegex": "notRegex",
        "isEmpty": "empty",
        "isNotEmpty": "notEmpty",
    },
    "number": {
        "smaller": "lt",
        "smallerEqual": "lte",
        "equal": "equals",
        "notEqual": "notEquals",
        "larger": "gt",
        "largerEqual": "gte",
        "isEmpty": "empty",
        "isNotEmpty": "notEmpty",
    },
    "boolean": {"equal": "equals", "notEqual": "notEquals"},
    "dateTime": {"after": "after", "before": "before"},
}


def condition_expression(
    ctx: Context,
    filter_value: Any,
    parameter: str,
    *,
    case_sensitive: bool,
    loose: bool,
    version: int,
) -> str:
    """n8n's filter parameter ({conditions: [...], combinator}) as one js_cond call."""
    if not isinstance(filter_value, dict):
        raise NotMapped(f"'{parameter}' is not a condition list")
    entries = []
    for index, condition in enumerate(filter_value.get("conditions") or []):
        operator = condition.get("operator") or {}
        kind, operation = operator.get("type", "string"), operator.get("operation", "equals")
        where = f"{parameter}.conditions[{index}]"
        left = ctx.operand(condition.get("leftValue", ""), f"{where}.leftValue")
        right = ctx.operand(condition.get("rightValue", ""), f"{where}.rightValue")
        declared = operator.get("rightType")
        extra = f", {literal(declared)}" if isinstance(declared, str) else ""
        entries.append(f"[{literal(kind)}, {literal(operation)}, {left}, {right}{extra}]")
    options = {
        "caseSensitive": case_sensitive,
        "typeValidation": "loose" if loose else "strict",
        "version": version,
    }
    combinator = filter_value.get("combinator", "and")
    return f"{{{{ js_cond({literal(combinator)}, {literal(options)}, [{', '.join(entries)}]) }}}}"


def _v1_conditions(ctx: Context, source: Source) -> str:
    entries = []
    for kind, table in _V1_OPERATIONS.items():
        for index, condition in enumerate(source.param(f"conditions.{kind}") or []):
            operation = table.get(
                condition.get("operation", "equal" if kind != "dateTime" else "after")
            )
            if operation is None:
                raise NotMapped(f"{kind} operation {condition.get('operation')!r}")
            where = f"conditions.{kind}[{index}]"
            left = ctx.operand(condition.get("value1", ""), f"{where}.value1")
            right = ctx.operand(condition.get("value2", ""), f"{where}.value2")
            entries.append(f"[{literal(kind)}, {literal(operation)}, {left}, {right}]")
    ctx.warn("v1 conditions are tested with the v2 condition rules, types converted (loose)")
    combinator = "or" if source.param("combineOperation", "all") == "any" else "and"
    options = {"caseSensitive": True, "typeValidation": "loose", "version": 1}
    return f"{{{{ js_cond({literal(combinator)}, {literal(options)}, [{', '.join(entries)}]) }}}}"


def _filter_options(source: Source, loose_from: float) -> dict[str, Any]:
    options = source.param("options") or {}
    if source.version < loose_from:
        loose = bool(options.get("looseTypeValidation", False))
    else:
        loose = bool(source.param("looseTypeValidation", False))
    return {"case_sensitive": not options.get("ignoreCase", False), "loose": loose}


def _v2_version(version: float) -> int:
    return 3 if version >= 2.3 else 2 if version >= 2.2 else 1


def if_node(source: Source, ctx: Context) -> Mapped:
    """IF v1 (conditions by type, all/any) and v2.x (the condition builder)."""
    version_check(source, (1, 2, 2.1, 2.2, 2.3))
    if source.version == 1:
        condition = _v1_conditions(ctx, source)
    else:
        condition = condition_expression(
            ctx,
            source.param("conditions"),
            "conditions",
            version=_v2_version(source.version),
            **_filter_options(source, 2.1),
        )
    node = {"id": ctx.node_id, "type": "flow.if", "params": {"condition": condition}}
    return Mapped([node], ports={0: "true", 1: "false"})


def filter_node(source: Source, ctx: Context) -> Mapped:
    version_check(source, (1, 2, 2.1, 2.2, 2.3))
    if source.version == 1:
        condition = _v1_conditions(ctx, source)
    else:
        condition = condition_expression(
            ctx,
            source.param("conditions"),
            "conditions",
            version=_v2_version(source.version),
            **_filter_options(source, 2.1),
        )
    node = {"id": ctx.node_id, "type": "data.filter", "params": {"condition": condition}}
    return Mapped([node], ports={0: "main", 1: "discarded"})


MAX_RULES = 10


def switch_node(source: Source, ctx: Context) -> Mapped:
    """Switch v3.x: rules (the condition builder per rule) or expression mode; the
    fallback output (none, extra, or a rule's output); all matching outputs."""
    version_check(source, (3, 3.1, 3.2, 3.3, 3.4))
    options = source.param("options") or {}
    mode = source.param("mode", "rules")
    if mode == "expression":
        outputs = int(source.param("numberOutputs", 4) or 4)
        if outputs > MAX_RULES:
            raise NotMapped(f"{outputs} outputs (LinkFlow's switch has at most {MAX_RULES})")
        chosen = ctx.operand(source.param("output", ""), "output")
        rules = [
            {"condition": f"{{{{ js_seq(js_num({chosen}), {index}) }}}}", "output": str(index)}
            for index in range(outputs)
        ]
        params: dict[str, Any] = {"rules": rules}
        return Mapped(
            [{"id": ctx.node_id, "type": "flow.switch", "params": params}],
            ports={index: str(index) for index in range(outputs)},
        )
    values = source.param("rules.values") or []
    if not values:
        raise NotMapped("a switch without rules")
    if len(values) > MAX_RULES:
        raise NotMapped(f"{len(values)} rules (LinkFlow's switch has at most {MAX_RULES})")
    version = 3 if source.version >= 3.4 else 2 if source.version >= 3.2 else 1
    flags = _filter_options(source, 3.1)
    rules = []
    for index, rule in enumerate(values):
        condition = condition_expression(
            ctx,
            rule.get("conditions"),
            f"rules.values[{index}].conditions",
            version=version,
            **flags,
        )
        entry = {"condition": condition}
        label = rule.get("outputKey") if rule.get("renameOutput") else None
        if isinstance(label, str) and label:
            entry["output"] = label[:100]
        rules.append(entry)
    _port_names_checked(rules, ctx)
    params = {"rules": rules, "mode": "all" if options.get("allMatchingOutputs") else "first"}
    # a renamed output is the port's name: edges leave by it
    ports = {index: str(rule.get("output", index)) for index, rule in enumerate(rules)}
    fallback = options.get("fallbackOutput", "none")
    if fallback == "extra":
        params["fallback"] = "fallback"
        ports[len(rules)] = "fallback"
    elif isinstance(fallback, int | float) and 0 <= int(fallback) < len(rules):
        params["fallback"] = ports[int(fallback)]
    elif fallback not in ("none", None):
        raise NotMapped(f"fallback output {fallback!r}")
    node = {"id": ctx.node_id, "type": "flow.switch", "params": params}
    return Mapped([node], ports=ports)


def merge_node(source: Source, ctx: Context) -> Mapped:
    """Merge v2.x and v3.x: append; combine by position; combine by one field of the
    same name (keep matches, enrich input 1); choose branch (input 1 or 2)."""
    version_check(source, (2, 2.1, 3, 3.1, 3.2))
    if (
        source.param("numberInputs", 2) not in (2, None)
        and source.param("mode", "append") != "append"
    ):
        raise NotMapped("more than two inputs outside append mode")
    node: dict[str, Any] = {"id": ctx.node_id, "type": "flow.merge", "params": {}}
    mapped = Mapped([node])
    params = node["params"]
    mode = source.param("mode", "append")
    options = source.param("options") or {}
    if mode == "append":
        params["mode"] = "append"
        ctx.warn(
            "append keeps input order only when both branches ran: LinkFlow appends in edge order"
        )
    elif mode == "mergeByIndex" or (
        mode == "combine" and source.param("combineBy") == "combineByPosition"
    ):
        params["mode"] = "by_index"
        join = source.param("join", "inner")
        if options.get("includeUnpaired") or join in ("outer", "left"):
            params["keep_unpaired"] = True
    elif mode in ("mergeByKey", "combine", "combineByFields") and mode != "combineAll":
        params.update(_by_key(source, mode, ctx))
    elif mode in ("chooseBranch", "passThrough"):
        return _choose_branch(source, ctx)
    else:
        raise NotMapped(f"merge mode '{mode}' {source.param('combineBy') or ''}".strip())
    return mapped


def _by_key(source: Source, mode: str, ctx: Context) -> dict[str, Any]:
    if mode == "mergeByKey":
        left, right = source.param("propertyName1"), source.param("propertyName2")
        join = {"inner": "inner", "left": "left"}.get(source.param("join", "inner") or "inner")
        fields = [(left, right)]
    else:
        if source.param("combineBy", "combineByFields") != "combineByFields":
            raise NotMapped(f"combine by '{source.param('combineBy')}'")
        if source.param("advanced"):
            fields = [
                (v.get("field1"), v.get("field2"))
                for v in source.param("mergeByFields.values") or []
            ]
        else:
            names = [
                n.strip()
                for n in str(source.param("fieldsToMatchString", "")).split(",")
                if n.strip()
            ]
            fields = [(n, n) for n in names]
        join = {"keepMatches": "inner", "enrichInput1": "left"}.get(
            source.param("joinMode", "keepMatches")
        )
    if join is None:
        raise NotMapped(f"join mode '{source.param('joinMode') or source.param('join')}'")
    if len(fields) != 1 or not fields[0][0] or fields[0][0] != fields[0][1]:
        raise NotMapped("matching on other than one field of the same name in both inputs")
    return {"mode": "by_key", "key": str(fields[0][0]), "join": join}


def _choose_branch(source: Source, ctx: Context) -> Mapped:
    output = source.param("output", "input1" if source.version < 3 else "specifiedInput")
    chosen = {"input1": 0, "input2": 1}.get(output)
    if chosen is None and output == "specifiedInput":
        chosen = int(source.param("useDataOfInput", 1) or 1) - 1
    if chosen is None:
        raise NotMapped(f"choose branch output '{output}'")
    ctx.warn(
        f"emits input {chosen + 1}'s items as soon as it has them: LinkFlow does not wait "
        "for the other input"
    )
    node = {"id": ctx.node_id, "type": "flow.noop"}
    mapped = Mapped([node])
    mapped.only_input = chosen  # type: ignore[attr-defined]
    return mapped


def wait_node(source: Source, ctx: Context) -> Mapped:
    """Wait v1/v1.1: a time interval or a specific time; resuming by webhook or form is
    not available."""
    version_check(source, (1, 1.1))
    resume = source.param("resume", "timeInterval")
    if resume == "timeInterval":
        unit = source.param("unit", "hours")
        amount = source.param("amount", 1)
        factor = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}.get(unit)
        if factor is None:
            raise NotMapped(f"unit '{unit}'")
        if isinstance(amount, int | float):
            seconds: Any = amount * factor
        else:
            seconds = (
                "{{ js_out(js_arith('*', " + ctx.operand(amount, "amount") + f", {factor})) }}}}"
            )
        return Mapped([{"id": ctx.node_id, "type": "flow.wait", "params": {"seconds": seconds}}])
    if resume == "specificTime":
        until = ctx.value(source.param("dateTime", ""), "dateTime")
        return Mapped([{"id": ctx.node_id, "type": "flow.wait", "params": {"until": until}}])
    raise NotMapped(f"resume on '{resume}' (LinkFlow waits only for a time)")


def no_op(source: Source, ctx: Context) -> Mapped:
    version_check(source, (1,))
    return Mapped([{"id": ctx.node_id, "type": "flow.noop"}])


def stop_and_error(source: Source, ctx: Context) -> Mapped:
    """Stop and Error v1 with a message (its expressions translated), as flow.stop."""
    version_check(source, (1,))
    if source.param("errorType", "errorMessage") != "errorMessage":
        raise NotMapped("an error object (only a message is mapped)")
    message = ctx.value(source.param("errorMessage", ""), "errorMessage")
    if not isinstance(message, str) or not message:
        message = "Stopped."
    return Mapped([{"id": ctx.node_id, "type": "flow.stop", "params": {"message": message}}])


_PORT_NAME = re.compile(r"^(?!.*\{\{)")
_RESERVED = ("fallback", "error")


def _port_names_checked(rules: list[dict[str, Any]], ctx: Context) -> None:
    """n8n's output names are labels (its edges go by index), so two may be alike;
    LinkFlow's are port names, distinct. Names that cannot be ports are all dropped:
    the outputs are then "0", "1"... in rule order."""
    names = [rule.get("output") for rule in rules if "output" in rule]
    unusable = any(
        not isinstance(n, str)
        or n in _RESERVED
        or n.isdigit()
        or n.startswith("=")
        or not _PORT_NAME.match(n)
        for n in names
    )
    if names and (unusable or len(set(names)) != len(names)):
        for rule in rules:
            rule.pop("output", None)
        ctx.warn("the outputs' names are not kept (alike, reserved or computed): ports 0, 1…")


def split_in_batches(source: Source, ctx: Context) -> Mapped:
    """Loop Over Items (splitInBatches v3): flow.batch, its n8n outputs "done" (0) and
    "loop" (1). n8n's edge from the loop's last node back into it is kept as it is: in
    LinkFlow too, that edge is what closes the loop. v1/v2 (one output, with the end told
    by ``noItemsLeft`` in an IF) and the "reset" option are not mapped."""
    version_check(source, (3,))
    if source.param("options.reset"):
        raise NotMapped("the 'reset' option (a loop that starts over with new items)")
    size = source.param("batchSize", 1)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BATCH_SIZE:
        raise NotMapped(f"batch size {size!r} (a whole number from 1 to {MAX_BATCH_SIZE})")
    node = {"id": ctx.node_id, "type": "flow.batch", "params": {"batch_size": size}}
    return Mapped([node], ports={0: "done", 1: "loop"})
