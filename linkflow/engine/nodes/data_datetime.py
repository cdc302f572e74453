"""data.datetime: parse, format, shift, compare and convert dates and times.

Results are ISO-8601 strings with their UTC offset (or numbers, for a difference), so
they stay JSON and sort as text within one zone. A value without an offset is read in
the node's ``timezone`` (UTC by default), never in the worker's local time.

``iso_style: "luxon"`` writes dates as n8n's Luxon does (milliseconds always, ``Z`` in the
zone named UTC), works in the node's zone and reads long numbers as milliseconds, so a
workflow imported from n8n gives the same text.
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

OPERATIONS = (
    "parse",
    "format",
    "add",
    "subtract",
    "difference",
    "convert",
    "round",
    "extract",
)
UNITS = (
    "milliseconds",
    "seconds",
    "minutes",
    "hours",
    "days",
    "weeks",
    "months",
    "quarters",
    "years",
)
# round and extract name one calendar field, singular as in Luxon's startOf / get
FIELDS = ("year", "month", "week", "day", "hour", "minute", "second")
# A number of at least this many digits is a timestamp in milliseconds (n8n's rule).
_MILLISECOND_DIGITS = 12
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
            "field": {"enum": list(FIELDS), "default": "day"},
            "direction": {"enum": ["down", "up"], "default": "down"},
            "iso_style": {"enum": ["python", "luxon"], "default": "python"},
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
        luxon = ctx.params.get("iso_style") == "luxon"
        moment = _instant(ctx, "value", index, zone)
        if luxon:
            # Luxon computes in the zone it was given, not in the value's own offset
            moment = moment.astimezone(zone)
        result: Any
        if operation == "format":
            result = moment.astimezone(zone).strftime(
                ctx.params.get("format", "%Y-%m-%dT%H:%M:%S%z")
            )
        elif operation in ("add", "subtract"):
            result = _iso(_shift(ctx, index, moment, -1 if operation == "subtract" else 1), luxon)
        elif operation == "difference":
            end = _instant(ctx, "end", index, zone)
            result = _difference(moment, end, ctx.params.get("unit", "days"), luxon=luxon)
        elif operation == "round":
            up = ctx.params.get("direction") == "up"
            result = _iso(_round(moment, ctx.params.get("field", "day"), up=up), luxon)
        elif operation == "extract":
            result = _extract(moment, ctx.params.get("field", "day"))
        else:  # parse, convert
            result = _iso(moment.astimezone(zone), luxon)
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
    if ctx.params.get("iso_style") == "luxon":
        value = _luxon_number(value)
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


def _luxon_number(value: Any) -> Any:
    """n8n reads a number, or a text that is one, as a Unix timestamp: in seconds, or in
    milliseconds from twelve digits on; a fraction is of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    if number != number or number in (float("inf"), float("-inf")):
        return value
    if not number.is_integer():
        return number
    whole = int(number)
    return whole / 1000 if len(str(whole)) >= _MILLISECOND_DIGITS else whole


def _iso(moment: datetime, luxon: bool) -> str:
    if not luxon:
        return moment.isoformat()
    text = moment.isoformat(timespec="milliseconds")
    if getattr(moment.tzinfo, "key", None) == "UTC":
        text = text.removesuffix("+00:00") + "Z"
    return text


def _round(moment: datetime, field: str, *, up: bool) -> datetime:
    """The start of the calendar ``field`` holding ``moment`` (weeks start on Monday),
    or with ``up`` the start of the next one."""
    if up:
        moment = _shift_by(moment, f"{field}s", 1)
    zeroed = {"microsecond": 0, "second": 0, "minute": 0, "hour": 0, "day": 1, "month": 1}
    order = ["microsecond", "second", "minute", "hour", "day", "month"]
    cut = {"second": 1, "minute": 2, "hour": 3, "day": 4, "week": 4, "month": 5, "year": 6}
    values: dict[str, Any] = {name: zeroed[name] for name in order[: cut[field]]}
    start = moment.replace(**values)
    if field == "week":
        start -= timedelta(days=start.weekday())
    return start


def _extract(moment: datetime, field: str) -> int:
    if field == "week":
        return moment.isocalendar().week
    return int(getattr(moment, field))


def _shift_by(moment: datetime, unit: str, amount: float) -> datetime:
    # dateutil ships no types here: its sum is a datetime, said once
    shifted: datetime
    if unit in ("months", "years"):
        shifted = moment + relativedelta(**{unit: int(amount)})
    elif unit == "quarters":
        shifted = moment + relativedelta(months=3 * int(amount))
    else:
        shifted = moment + timedelta(**{unit: amount})
    return shifted


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
        return _shift_by(moment, unit, sign * amount)
    except OverflowError:
        raise NodeError("The date left the supported range.", param="params.amount") from None


_SECONDS = {
    "milliseconds": 0.001,
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86400,
    "weeks": 604800,
}
_MONTHS = {"months": 1, "quarters": 3, "years": 12}


def _difference(start: datetime, end: datetime, unit: str, *, luxon: bool) -> float | int:
    """end - start in ``unit``; whole calendar months, quarters or years for those. In
    Luxon's style the milliseconds are divided, as Luxon does, to the same last digit."""
    if unit in _MONTHS:
        delta = relativedelta(end, start)
        months = delta.years * 12 + delta.months
        # toward zero: 13 months back is one year back, not two
        return int(months / _MONTHS[unit])
    if luxon:
        return (end - start) / timedelta(milliseconds=1) / (_SECONDS[unit] * 1000)
    return (end - start).total_seconds() / _SECONDS[unit]
