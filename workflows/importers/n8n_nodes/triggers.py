"""n8n's triggers: Manual Trigger, Webhook, Schedule Trigger, Execute Workflow Trigger."""

from __future__ import annotations

import re
from typing import Any

from .base import WARNINGS, Context, Mapped, NotMapped, Source, version_check


def manual_trigger(source: Source, ctx: Context) -> Mapped:
    version_check(source, (1,))
    return Mapped([{"id": ctx.node_id, "type": "trigger.manual"}])


def workflow_trigger(source: Source, ctx: Context) -> Mapped:
    """Execute Workflow Trigger: a child workflow's start. LinkFlow starts a child
    through its trigger with the parent's items, which a manual trigger emits."""
    version_check(source, (1, 1.1))
    ctx.warn("started as a manual trigger: the parent's items arrive as its input")
    return Mapped([{"id": ctx.node_id, "type": "trigger.manual"}], WARNINGS)


_PATH_CLEAN = re.compile(r"[^a-z0-9_/-]+")
_WEBHOOK_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def webhook(source: Source, ctx: Context) -> Mapped:
    """Method, path, response mode (onReceived -> async; lastNode / responseNode ->
    sync) and header authentication; basic and JWT auth have no counterpart, so such a
    webhook is imported disabled rather than open."""
    version_check(source, (1, 1.1, 2, 2.1))
    params: dict[str, Any] = {}
    status = source.param
    method = status("httpMethod", "GET")
    if isinstance(method, list) or status("multipleMethods", False):
        methods = method if isinstance(method, list) else [method]
        method = methods[0] if methods else "GET"
        ctx.warn(f"answers only {method}: LinkFlow webhooks take one method")
    if method not in _WEBHOOK_METHODS:
        raise NotMapped(f"method {method} is not offered by LinkFlow webhooks")
    params["method"] = method
    path = _path(str(status("path", "") or ""), ctx)
    if path:
        params["path"] = path
    mode = status("responseMode", "onReceived")
    if mode == "onReceived":
        params["mode"] = "async"
        ctx.warn("answers at once with 202 and the execution id (n8n: 200 'Workflow was started')")
    elif mode in ("lastNode", "responseNode"):
        params["mode"] = "sync"
        data = status("responseData", "firstEntryJson")
        if mode == "lastNode" and data != "firstEntryJson":
            ctx.warn(
                f"responseData '{data}': LinkFlow answers the last node's item (one item as "
                "the object, several as a list)"
            )
    else:
        raise NotMapped(f"response mode '{mode}'")
    if status("options.responseCode") not in (None, 200) and mode == "lastNode":
        ctx.warn("the response code option is not kept: add a Respond to Webhook node")
    node: dict[str, Any] = {"id": ctx.node_id, "type": "trigger.webhook", "params": params}
    mapped = Mapped([node])
    auth = status("authentication", "none")
    if auth == "headerAuth":
        params["auth"] = "header"
        mapped.credentials.append("header token (n8n httpHeaderAuth): create a credential")
    elif auth not in ("none", None):
        node["disabled"] = True
        ctx.warn(
            f"authentication '{auth}' has no LinkFlow counterpart: the webhook is imported "
            "disabled so it is not open to anyone; choose header or HMAC auth and enable it"
        )
    ctx.warn(
        "the item is {method, path, query, headers, body} (n8n: {headers, params, query, body})"
    )
    return mapped


def _path(path: str, ctx: Context) -> str:
    if ":" in path:
        ctx.warn("path parameters (':id') are not supported: dropped from the path")
        path = "/".join(part for part in path.split("/") if not part.startswith(":"))
    cleaned = _PATH_CLEAN.sub("-", path.strip("/").lower()).strip("-/")
    if cleaned != path.strip("/"):
        ctx.warn(f"path '{path}' became '{cleaned}' (lower-case letters, digits, _ - /)")
    return cleaned[:100] if cleaned and cleaned[0].isalnum() else ""


def schedule_trigger(source: Source, ctx: Context) -> Mapped:
    """The first interval rule as one cron expression in the workflow's time zone."""
    version_check(source, (1, 1.1, 1.2, 1.3, 1.4))
    rules = source.param("rule.interval") or [{"field": "days"}]
    if len(rules) > 1:
        ctx.warn(f"only the first of {len(rules)} rules is kept: add a schedule per rule")
    cron = _cron(rules[0], ctx)
    ctx.warn("the item is the fire time, not n8n's readable date fields")
    node = {
        "id": ctx.node_id,
        "type": "trigger.schedule",
        "params": {"cron": cron, "timezone": ctx.scope.timezone},
    }
    return Mapped([node], WARNINGS)


def _cron(rule: dict[str, Any], ctx: Context) -> str:
    kind = rule.get("field", "days")
    minute = _whole(rule, "triggerAtMinute", 0)
    hour = _whole(rule, "triggerAtHour", 0)
    if kind == "cronExpression":
        fields = str(rule.get("expression", "")).split()
        if len(fields) == 6:
            if fields[0] not in ("0", "*"):
                ctx.warn("the seconds field of the cron expression is dropped")
            fields = fields[1:]
        if len(fields) != 5:
            raise NotMapped(f"cron expression {rule.get('expression')!r}")
        return " ".join(fields)
    if kind == "seconds":
        ctx.warn("LinkFlow schedules run at most once a minute: every minute instead")
        return "* * * * *"
    if kind == "minutes":
        every = _whole(rule, "minutesInterval", 5)
        return f"*/{every} * * * *" if every > 1 else "* * * * *"
    if kind == "hours":
        every = _whole(rule, "hoursInterval", 1)
        return f"{minute} */{every} * * *" if every > 1 else f"{minute} * * * *"
    if kind == "days":
        every = _whole(rule, "daysInterval", 1)
        return f"{minute} {hour} */{every} * *" if every > 1 else f"{minute} {hour} * * *"
    if kind == "weeks":
        if int(rule.get("weeksInterval", 1) or 1) > 1:
            ctx.warn("every N weeks becomes every week")
        days = rule.get("triggerAtDay") or [0]
        return f"{minute} {hour} * * {','.join(str(int(d)) for d in days)}"
    if kind == "months":
        every = _whole(rule, "monthsInterval", 1)
        day = _whole(rule, "triggerAtDayOfMonth", 1)
        month = f"*/{every}" if every > 1 else "*"
        return f"{minute} {hour} {day} {month} *"
    raise NotMapped(f"schedule interval '{kind}'")


def _whole(rule: dict[str, Any], key: str, default: int) -> int:
    """A rule's number; an expression there (a random minute, say) has no cron form."""
    value = rule.get(key, default)
    if isinstance(value, str) and value.startswith("="):
        raise NotMapped(f"the schedule's {key} is an expression")
    try:
        return int(value or default)
    except (TypeError, ValueError):
        raise NotMapped(f"the schedule's {key} {value!r} is not a whole number") from None
