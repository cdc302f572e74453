"""Flow control nodes: route items between branches, join branches, pause the run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError, Suspend
from linkflow.engine.graph import ERROR_PORT
from linkflow.engine.nodes.data import (
    ABSENT,
    CONDITION_SCHEMA,
    FIELD_NAME_SCHEMA,
    get_path,
    json_type,
)
from linkflow.engine.registry import (
    OBJECT_SCHEMA_WITHOUT_PARAMS,
    PER_ITEM,
    Items,
    NodeType,
    or_expression,
)

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


class If(NodeType):
    """Sends each item to "true" or "false" depending on its condition."""

    type = "flow.if"
    pure = True
    label = "If"
    description = "Routes each item to the true or false branch by a condition."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"condition": CONDITION_SCHEMA},
        "required": ["condition"],
        "additionalProperties": False,
    }
    outputs = ("true", "false")

    item_mode = PER_ITEM

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> dict[str, Items]:
        """Evaluate ``condition`` for the item; truthy (in the Python sense: not false, 0,
        "", null, [] or {}) goes to "true", else to "false" (a missing field is empty, so
        falsy). Both ports are always present. Raises ExpressionError if the condition
        cannot be evaluated."""
        return {"true" if ctx.param("condition", item_index=index) else "false": [item]}


class NoOp(NodeType):
    """Does nothing; useful as a junction or a placeholder."""

    type = "flow.noop"
    pure = True
    label = "No operation"
    description = "Passes its items through unchanged."
    params_schema: ClassVar[dict[str, Any]] = OBJECT_SCHEMA_WITHOUT_PARAMS

    item_mode = PER_ITEM

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        """Emit the item on "main". Never fails."""
        return [item]


MAX_SWITCH_RULES = 10
# Version 1: every switch has the ports "0" to "9" and "fallback", whatever its rules; a
# rule's "output" is only its label in the editor.
RULE_PORTS = tuple(str(index) for index in range(MAX_SWITCH_RULES))
FALLBACK_PORT = "fallback"
# Version 2 names ports after the rules, so these names cannot be a rule's label.
_RESERVED_PORTS = (FALLBACK_PORT, ERROR_PORT)


def rule_ports(params: Mapping[str, Any]) -> tuple[str, ...]:
    """Version 2: the port of each rule, in rule order: its ``output`` label, else its
    index ("0", "1", ...)."""
    rules = params.get("rules") or []
    return tuple(
        str(rule.get("output") or index) if isinstance(rule, dict) else str(index)
        for index, rule in enumerate(rules)
    )


class Switch(NodeType):
    """Routes each item to the port of the first (or every) rule whose condition holds."""

    type = "flow.switch"
    pure = True
    label = "Switch"
    description = (
        "Routes each item by a list of rules; each rule has its own output, named by the "
        "rule's output label (or its position, from 0)."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "rules": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_SWITCH_RULES,
                "items": {
                    "type": "object",
                    "properties": {
                        "condition": CONDITION_SCHEMA,
                        "output": {
                            "description": (
                                "The name of the rule's output port (version 2; version 1 "
                                "shows it as a label of port 'i')."
                            ),
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 100,
                            "pattern": r"^(?!.*\{\{)",
                        },
                    },
                    "required": ["condition"],
                    "additionalProperties": False,
                },
            },
            "fallback": {
                "description": (
                    "Where items no rule matches go: 'fallback' (a port of its own), a "
                    "rule's port, or null to drop them."
                ),
                "type": ["string", "null"],
                "maxLength": 100,
                "default": None,
            },
            "mode": {
                "description": "'first': the first matching rule only; 'all': every one.",
                "enum": ["first", "all"],
                "default": "first",
            },
        },
        "required": ["rules"],
        "additionalProperties": False,
    }
    # Version 1's ports; version 2's come from the rules (``ports``).
    outputs = (*RULE_PORTS, FALLBACK_PORT)
    outputs_from: ClassVar[dict[str, Any] | None] = {
        "list": "rules",
        "label": "output",
        "extra": {"param": "fallback", "equals": FALLBACK_PORT, "port": FALLBACK_PORT},
        "since_version": 2,
        "before": list(outputs),
    }
    item_mode = PER_ITEM

    @classmethod
    def ports(cls, params: Mapping[str, Any], version: int) -> tuple[str, ...]:
        """Version 2: one port per rule (``rule_ports``), then "fallback" when items that
        match no rule go there. Version 1: "0" to "9" and "fallback", always."""
        if version < 2:
            return cls.outputs
        extra = (FALLBACK_PORT,) if params.get("fallback") == FALLBACK_PORT else ()
        return (*rule_ports(params), *extra)

    @classmethod
    def check_node(cls, params: dict[str, Any], version: int) -> list[tuple[str, str]]:
        """The fallback must name a port the node has; version 2's rule ports must be
        distinct and not "fallback" or "error"."""
        fallback, rules = params.get("fallback"), params["rules"]
        if version < 2:
            if fallback in RULE_PORTS and int(fallback) >= len(rules):
                return [("params.fallback", f"There is no rule {fallback} to fall back to.")]
            if fallback not in (*RULE_PORTS, FALLBACK_PORT, None):
                return [("params.fallback", f"Version 1 has no port {fallback!r}.")]
            return []
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        for index, port in enumerate(rule_ports(params)):
            field = f"params.rules[{index}].output"
            if port in _RESERVED_PORTS:
                problems.append((field, f"'{port}' is reserved; name the rule's output otherwise."))
            elif port in seen:
                problems.append((field, f"Another rule already has the output '{port}'."))
            seen.add(port)
        if fallback not in (None, FALLBACK_PORT) and fallback not in seen:
            problems.append(("params.fallback", f"There is no rule output {fallback!r}."))
        return problems

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> dict[str, Items]:
        """Send the item to the port of the first matching rule (every matching one with
        ``mode`` "all"); every rule's condition is evaluated (so a failing one fails the
        item even when an earlier rule matched). An item matching none goes to
        ``fallback``, or is dropped when it is null. Raises ExpressionError if a condition
        cannot be evaluated."""
        first_only = ctx.params.get("mode", "first") == "first"
        fallback = ctx.params.get("fallback")
        names = rule_ports(ctx.params) if ctx.version >= 2 else RULE_PORTS
        rules = ctx.param("rules", item_index=index)
        ports = [names[i] for i, rule in enumerate(rules) if rule["condition"]]
        if first_only:
            ports = ports[:1]
        return {port: [item] for port in ports or ([fallback] if fallback else [])}


class Merge(NodeType):
    """Joins the items of several branches: appended, paired by position, or by a key."""

    type = "flow.merge"
    pure = True
    separate_inputs = True
    label = "Merge"
    description = "Combines the items of its incoming branches into one list."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["append", "by_index", "by_key"], "default": "append"},
            "key": {**FIELD_NAME_SCHEMA, "description": "by_key: the field to match on."},
            "join": {
                "description": "by_key: 'left' also keeps first-input items without a match.",
                "enum": ["inner", "left"],
                "default": "inner",
            },
            "keep_unpaired": {
                "description": "by_index: keep the longer input's extra items.",
                "type": "boolean",
                "default": False,
            },
        },
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"mode": {"const": "by_key"}}, "required": ["mode"]},
                "then": {"required": ["key"]},
            }
        ],
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Reads ``ctx.inputs`` (one list per incoming edge, in edge order).

        append: all inputs concatenated. by_index: item i of the first input updated with
        item i of the second (the second wins on equal names), as many as the shorter
        input has unless ``keep_unpaired``. by_key: each first-input item merged with every
        second-input item having an equal ``key`` value (absent or null never matches),
        first-input order. Raises NodeError when by_index or by_key has not exactly two
        inputs.
        """
        mode = ctx.params.get("mode", "append")
        if mode == "append":
            return {"main": [item for branch in ctx.inputs for item in branch]}
        if len(ctx.inputs) != 2:
            raise NodeError(
                f"Mode '{mode}' needs exactly 2 inputs; this node has {len(ctx.inputs)}.",
                param="params.mode",
            )
        first, second = ctx.inputs
        if mode == "by_index":
            keep_unpaired = ctx.params.get("keep_unpaired", False)
            ctx.record_sources(_index_sources(len(first), len(second), keep_unpaired))
            return {"main": _by_index(first, second, keep_unpaired)}
        left = ctx.params.get("join", "inner") == "left"
        return {"main": _by_key(ctx, first, second, ctx.param("key"), left=left)}


def _by_index(first: Items, second: Items, keep_unpaired: bool) -> Items:
    merged = [{**a, **b} for a, b in zip(first, second, strict=False)]
    if keep_unpaired:
        shorter = min(len(first), len(second))
        merged += [dict(item) for item in (first[shorter:] or second[shorter:])]
    return merged


def _index_sources(first: int, second: int, keep_unpaired: bool) -> list[int | list[int] | None]:
    """The lineage of by_index's items: item i of each input (the second input's items
    are numbered after the first's), then the longer input's extra items."""
    shorter = min(first, second)
    sources: list[int | list[int] | None] = [[i, first + i] for i in range(shorter)]
    if keep_unpaired:
        offset = 0 if first > shorter else first
        sources += [offset + i for i in range(shorter, max(first, second))]
    return sources


def _by_key(ctx: NodeContext, first: Items, second: Items, key: str, *, left: bool) -> Items:
    index: dict[object, list[tuple[int, dict[str, Any]]]] = {}
    for at, item in enumerate(second):
        value = _hashable(get_path(item, key))
        if value is not None:
            index.setdefault(value, []).append((len(first) + at, item))
    merged: Items = []
    sources: list[int | list[int] | None] = []
    for position, item in enumerate(first):
        ctx.check_time(item_index=position)  # matches multiply: the output can be n x m
        value = _hashable(get_path(item, key))
        matches = index.get(value, []) if value is not None else []
        merged += [{**item, **match} for _, match in matches]
        sources += [[position, at] for at, _ in matches]
        if left and not matches:
            merged.append(dict(item))
            sources.append(position)
    ctx.record_sources(sources)
    return merged


def _hashable(value: Any) -> object:
    """A dict key equal for equal JSON values: 1 and 1.0 match, True and 1 do not.
    None for values that never match (absent, null)."""
    if value is ABSENT or value is None:
        return None
    if isinstance(value, str | bool | int | float):
        return (type(value) is bool, value)
    return (json_type(value), json.dumps(value, sort_keys=True))


MAX_WAIT_SECONDS = 30 * 24 * 3600
DEFAULT_CALL_WAIT_SECONDS = 7 * 24 * 3600
WAIT_MODES = ("time", "call", "approval")
CALL_MODES = ("call", "approval")
REJECTED_PORT = "rejected"
TIMEOUT_PORT = "timeout"


class Wait(NodeType):
    """Parks the execution for a while or until a moment, then passes its items on."""

    type = "flow.wait"
    pure = True
    label = "Wait"
    description = (
        "Pauses the run for some seconds, until a date and time, or until its resume URL "
        "is called or an approval link confirmed."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "seconds": {
                "description": "How long to wait, at most 30 days.",
                **or_expression(
                    {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_WAIT_SECONDS}
                ),
            },
            "until": {
                "description": "ISO-8601 date and time with offset, e.g. 2025-06-01T09:00:00Z.",
                "type": "string",
                "minLength": 1,
            },
            "mode": {
                "description": "'time' waits for seconds/until; 'call' for a call of "
                "{{ execution.resume_url }} (its body is the output); 'approval' for the "
                "approve/reject links {{ execution.approve_url }} / {{ execution.reject_url }}.",
                "enum": list(WAIT_MODES),
                "default": "time",
            },
            "expires_after_seconds": {
                "description": "call/approval: how long to wait for the call before the "
                "items leave by 'timeout', at most 30 days.",
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_WAIT_SECONDS,
                "default": DEFAULT_CALL_WAIT_SECONDS,
            },
        },
        "additionalProperties": False,
        "if": {"properties": {"mode": {"enum": list(CALL_MODES)}}, "required": ["mode"]},
        "then": {"not": {"anyOf": [{"required": ["seconds"]}, {"required": ["until"]}]}},
        "else": {
            "oneOf": [{"required": ["seconds"]}, {"required": ["until"]}],
            "not": {"required": ["expires_after_seconds"]},
        },
    }
    # "rejected" and "timeout" only ever carry items in the call and approval modes.
    outputs = ("main", REJECTED_PORT, TIMEOUT_PORT)

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """A literal ``until`` must be an ISO-8601 date and time with a UTC offset."""
        until = params.get("until")
        if isinstance(until, str) and "{{" not in until and _parse_instant(until) is None:
            return [("params.until", _BAD_UNTIL.format(value=until))]
        return []

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """First run: raise Suspend(now + seconds, or until); an ``until`` not in the future
        passes the items through at once. Resumed (``ctx.suspended_until`` set): pass the
        items through on "main" once the clock reached it, else Suspend again until then.
        Expressions see the first item as ``json``. Raises NodeError when ``seconds`` or
        ``until`` evaluate to something unusable."""
        now = ctx.run.clock()
        if ctx.params.get("mode", "time") in CALL_MODES:
            return _wait_for_call(ctx, items, now)
        resume_at = ctx.suspended_until or _resume_at(ctx, 0 if items else None, now)
        if now < resume_at:
            raise Suspend(resume_at)
        return {"main": list(items)}


def _wait_for_call(ctx: NodeContext, items: Items, now: datetime) -> dict[str, Items]:
    """call/approval mode. First run: Suspend until the expiry; the host resumes the run
    early when the resume URL (or an approval link) is called, handing the call over as
    ``ctx.run.resume_call`` (``{"node_id", "body"?, "decision"?}``). Resumed by a call for
    this node: "call" emits the body as the one item on "main" (a non-object body as
    ``{"body": ...}``); "approval" emits the input items on "main" (approve) or
    "rejected" (reject), each with ``approval: {"decision"}``. Resumed at the expiry
    with no call: the input items leave by "timeout"."""
    resume_at = ctx.suspended_until
    if resume_at is None:
        seconds = ctx.params.get("expires_after_seconds", DEFAULT_CALL_WAIT_SECONDS)
        raise Suspend(now + timedelta(seconds=seconds))
    call = ctx.run.resume_call
    if call is not None and call.get("node_id") == ctx.node_id:
        if ctx.params["mode"] == "call":
            body = call.get("body")
            return {"main": [body if isinstance(body, dict) else {"body": body}]}
        decision = call.get("decision")
        port = "main" if decision == "approve" else REJECTED_PORT
        return {port: [{**item, "approval": {"decision": decision}} for item in items]}
    if now < resume_at:  # woken early by something else (a recovery): keep waiting
        raise Suspend(resume_at)
    return {TIMEOUT_PORT: list(items)}


_BAD_UNTIL = "'until' must be an ISO-8601 date and time with a UTC offset, got {value!r}."


def _resume_at(ctx: NodeContext, item_index: int | None, now: datetime) -> datetime:
    if "seconds" in ctx.params:
        seconds = ctx.param("seconds", item_index=item_index)
        is_number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not is_number or not 0 < seconds <= MAX_WAIT_SECONDS:
            raise NodeError(
                f"'seconds' must be a number above 0 and at most {MAX_WAIT_SECONDS}, "
                f"got {seconds!r}.",
                param="params.seconds",
            )
        return now + timedelta(seconds=seconds)
    until = ctx.param("until", item_index=item_index)
    instant = _parse_instant(until) if isinstance(until, str) else None
    if instant is None:
        raise NodeError(_BAD_UNTIL.format(value=until), param="params.until")
    return instant


def _parse_instant(text: str) -> datetime | None:
    """``text`` as an aware UTC datetime, or None if it is not ISO-8601 with an offset."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    # A naive time would silently mean the server's zone: refuse it.
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
