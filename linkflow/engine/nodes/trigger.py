"""Trigger nodes: where a run starts. They emit the trigger input as the run's first item.

The host reads the webhook and schedule params to receive requests and fire on time; in the
run itself all triggers behave alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext


# The key under which a sub-workflow call (workflow.execute version 3) hands over its
# items: the called workflow's trigger emits them, one item each, instead of one item.
ITEMS_KEY = "$items"
SUBWORKFLOW_MODE = "subworkflow"

# What a workflow may declare on its manual trigger about the items it expects when called
# by workflow.execute: the editor shows them, saving a caller checks its ``fields``.
INPUTS_SCHEMA: dict[str, Any] = {
    "description": (
        "The fields each item has when another workflow calls this one "
        "(workflow.execute): name, type (any, string, number, boolean, object, array), "
        "required."
    ),
    "type": "array",
    "maxItems": 100,
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "type": {
                "enum": ["any", "string", "number", "boolean", "object", "array"],
                "default": "any",
            },
            "required": {"type": "boolean", "default": False},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
}


def _trigger_items(ctx: NodeContext) -> dict[str, Items]:
    handed = (ctx.run.trigger_input or {}).get(ITEMS_KEY)
    if ctx.run.execution.get("mode") == SUBWORKFLOW_MODE and isinstance(handed, list):
        return {"main": [dict(item) for item in handed if isinstance(item, dict)]}
    return {"main": [dict(ctx.run.trigger_input or {})]}


class ManualTrigger(NodeType):
    """Started by a person or an API call; emits the given input as one item."""

    type = "trigger.manual"
    pure = True
    label = "Manual trigger"
    description = "Starts the workflow by hand or through the API with an optional input."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"inputs": INPUTS_SCHEMA},
        "additionalProperties": False,
    }
    is_trigger = True

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Each declared input's name appears once. Never raises."""
        names = [entry["name"] for entry in params.get("inputs", ())]
        return [
            (f"params.inputs.{index}.name", f"The input '{name}' is declared twice.")
            for index, name in enumerate(names)
            if name in names[:index]
        ]

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Emit ``[trigger_input]`` on "main" (``[{}]`` when there is no input); in a run
        started by workflow.execute (version 3), the caller's items, one each. Never
        fails."""
        return _trigger_items(ctx)


class WebhookTrigger(NodeType):
    """Started by an HTTP request to the workflow's webhook URL."""

    type = "trigger.webhook"
    credential_types = ("webhook_auth",)
    pure = True
    label = "Webhook"
    description = "Starts the workflow when its URL receives an HTTP request."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "default": "POST"},
            "path": {
                "description": "A readable end for the URL, e.g. 'orders/new'.",
                "type": "string",
                "pattern": r"^[a-z0-9][a-z0-9_/-]{0,99}$",
            },
            "mode": {
                "description": "'sync' holds the request open for the workflow's response.",
                "enum": ["async", "sync"],
                "default": "async",
            },
            "auth": {
                "description": "How callers prove themselves; the node's credential holds "
                "the secret unless 'none'.",
                "enum": ["none", "header", "hmac"],
                "default": "none",
            },
            "timeout_seconds": {
                "description": "How long a sync caller waits for the response.",
                "type": "number",
                "minimum": 1,
                "maximum": 300,
                "default": 30,
            },
        },
        "additionalProperties": False,
    }
    is_trigger = True

    @classmethod
    def credential_needed(cls, params: Mapping[str, Any], version: int) -> bool:
        """A header token or an HMAC signature is checked against the node's credential."""
        return bool(params.get("auth", "none") != "none")

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Emit the request the host received (``{"method", "path", "query", "headers",
        "body"}``) as one item on "main". Never fails."""
        return _trigger_items(ctx)


class ScheduleTrigger(NodeType):
    """Started by the scheduler at the times of a cron expression."""

    type = "trigger.schedule"
    pure = True
    label = "Schedule"
    description = "Starts the workflow on a cron schedule in a time zone."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "cron": {
                "description": "Five fields: minute hour day-of-month month day-of-week.",
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
            },
            "timezone": {
                "description": "IANA time zone the cron times are read in.",
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "default": "UTC",
            },
        },
        "required": ["cron"],
        "additionalProperties": False,
    }
    is_trigger = True

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> list[tuple[str, str]]:
        """``cron`` must be a plain five-field cron expression that can fire, ``timezone``
        a known IANA zone name. Returns (field, message) pairs; never raises."""
        problems = [("params.cron", message) for message in _cron_problems(params["cron"])]
        timezone = params.get("timezone", "UTC")
        if not _is_time_zone(timezone):
            problems.append(("params.timezone", f"Unknown time zone '{timezone}'."))
        return problems

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Emit the input the scheduler gave (its fire time) as one item. Never fails."""
        return _trigger_items(ctx)


def _cron_problems(cron: str) -> list[str]:
    if "{{" in cron:
        return ["Expressions are not allowed in 'cron'; write the schedule itself."]
    if len(cron.split()) != 5:
        return ["'cron' needs five fields: minute hour day-of-month month day-of-week."]
    # Imported here: croniter takes ~70 ms to import and runs only need it to validate.
    from croniter import croniter

    try:
        # strict: also refuse dates that never come, such as 31 February
        croniter.expand(cron, strict=True)
    except Exception as error:  # croniter signals bad input with several exception types
        return [f"Invalid cron expression: {error}."]
    return []


def _is_time_zone(name: str) -> bool:
    # "localtime" names the server's own zone, which is not a choice a workflow can make.
    if "{{" in name or name == "localtime":
        return False
    try:
        ZoneInfo(name)
    # ZoneInfoNotFoundError is a KeyError; malformed keys raise ValueError, odd paths OSError
    except (KeyError, ValueError, OSError):
        return False
    return True
