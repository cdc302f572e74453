"""data.datetime: parse, format, shift, compare and convert dates and times.

Results are ISO-8601 strings with their UTC offset (or numbers, for a difference), so
they stay JSON and sort as text within one zone. A value without an offset is read in
the node's ``timezone`` (UTC by default), never in the worker's local time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.data import FIELD_NAME_SCHEMA, set_path
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

OPERATIONS = ("parse", "format", "add", "subtract", "difference", "convert")
UNITS = ("seconds", "minutes", "hours", "days", "weeks", "months", "years")
# Far enough for any real date; keeps ``add`` from overflowing into an OverflowError.
MAX_AMOUNT = 100_000
MAX_TEXT = 200


class DateTime(NodeType):
    """Parses, formats, shifts and compares dates and times, with time zones."""

    type = "data.datetime"
    pure = True
    label = "Date and time"
    description = (
        "Parses a date (ISO-8601, a Unix timestamp or a format), formats it, adds or "
        "subtracts a duration, gives the difference of two dates, or converts time zones."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "operation": {"enum": list(OPERATIONS)},
            "value": {"description": "The date: usually {{ json.created_at }}; empty = now."},
            "format": {
                "description": "strftime/strptime pattern, e.g. %d.%m.%Y %H:%M.",
                "type": "string",
                "maxLength": MAX_TEXT,
            },
            "timezone": {
                "description": "IANA zone of dates without offset and of output: Europe/Berlin.",
                **or_expression({"type": "string", "maxLength": 64}),
                "default": "UTC",
            },
            "amount": {**or_expression({"type": "number"}), "default": 0},
            "unit": {"enum": list(UNITS), "default": "days"},
            "end": {"description": "The second date of a difference."},
            "output_field": {**FIELD_NAME_SCHEMA, "default": "datetime"},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Every item with ``output_field`` set to the result. Raises NodeError for a value
        that is not a date, an unknown time zone or an amount out of range."""
        return {"main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]}

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        operation = ctx.params["operation"]
        zone = _zone(ctx.param("timezone", item_index=index, default="UTC"))
        moment = _instant(ctx, "value", index, zone)
        result: Any
        if operation == "format":
            result = moment.astimezone(zone).strftime(
                ctx.params.get("format", "%Y-%m-%dT%H:%M:%S%z")
            )
        elif operation in ("add", "subtract"):
            result = _shift(ctx, index, moment, -1 if operation == "subtract" else 1).isoformat()
        elif operation == "difference":
            end = _instant(ctx, "end", index, zone)
            result = _difference(moment, end, ctx.params.get("unit", "days"))
        else:  # parse, convert
            result = moment.astimezone(zone).isoformat()
        out = dict(item)
        set_path(out, ctx.params.get("output_field", "datetime"), result)
        return [out]


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise NodeError(f"Unknown time zone {name!r}.", param="params.timezone") from None


def _instant(ctx: NodeContext, name: str, index: int, zone: ZoneInfo) -> datetime:
    value = ctx.param(name, item_index=index, default=None)
    if value in (None, ""):
        return ctx.run.clock()
    parsed = _parse(value, ctx.params.get("format") if ctx.params["operation"] == "parse" else None)
    if parsed is None:
        raise NodeError(f"{value!r} is not a date and time.", param=f"params.{name}", item=index)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _parse(value: Any, pattern: str | None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return None
    try:
        if pattern:
            return datetime.strptime(value, pattern)
        iso: datetime = date_parser.isoparse(value)
        return iso
    except (ValueError, OverflowError):
        pass
    try:
        guessed: datetime = date_parser.parse(value)
        return guessed
    except (ValueError, OverflowError):
        return None


def _shift(ctx: NodeContext, index: int, moment: datetime, sign: int) -> datetime:
    amount = ctx.param("amount", item_index=index, default=0)
    if isinstance(amount, bool) or not isinstance(amount, int | float) or abs(amount) > MAX_AMOUNT:
        raise NodeError(
            f"'amount' must be a number of at most {MAX_AMOUNT}, got {amount!r}.",
            param="params.amount",
            item=index,
        )
    unit = ctx.params.get("unit", "days")
    try:
        if unit in ("months", "years"):
            shifted: datetime = moment + relativedelta(**{unit: sign * int(amount)})
            return shifted
        return moment + sign * timedelta(**{unit: amount})
    except OverflowError:
        raise NodeError("The date left the supported range.", param="params.amount") from None


_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def _difference(start: datetime, end: datetime, unit: str) -> float | int:
    """end - start in ``unit``; whole calendar months or years for those units."""
    if unit in ("months", "years"):
        delta = relativedelta(end, start)
        months: int = delta.years * 12 + delta.months
        return months if unit == "months" else months // 12
    return (end - start).total_seconds() / _SECONDS[unit]
