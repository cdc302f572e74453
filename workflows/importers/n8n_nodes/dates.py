"""n8n's Date & Time node as data.datetime: v2's seven operations (get current date, add,
subtract, format, round, time between dates, extract a part) and v1's format and
calculate actions. Dates are written in the Luxon ISO style n8n prints (milliseconds,
``Z`` in UTC); Luxon and moment.js format tokens become strftime patterns.
"""

from __future__ import annotations

from typing import Any

from workflows.importers.n8n_expressions import literal

from .base import Context, Mapped, NotMapped, Source, version_check

# Luxon (v2) and moment.js (v1) tokens, by the run of one letter, as strftime directives.
# "%-d" (no padding) is glibc's, which is what the workers run on.
_LUXON = {
    "yyyy": "%Y",
    "yy": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "M": "%-m",
    "dd": "%d",
    "d": "%-d",
    "EEEE": "%A",
    "EEE": "%a",
    "HH": "%H",
    "H": "%-H",
    "hh": "%I",
    "h": "%-I",
    "mm": "%M",
    "m": "%-M",
    "ss": "%S",
    "s": "%-S",
    "a": "%p",
    "ooo": "%j",
}
_MOMENT = {
    "YYYY": "%Y",
    "YY": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "M": "%-m",
    "DD": "%d",
    "D": "%-d",
    "DDDD": "%j",
    "dddd": "%A",
    "ddd": "%a",
    "HH": "%H",
    "H": "%-H",
    "hh": "%I",
    "h": "%-I",
    "mm": "%M",
    "m": "%-M",
    "ss": "%S",
    "s": "%-S",
    "A": "%p",
}


def strftime_pattern(text: str, *, dialect: str) -> str:
    """A Luxon (``dialect="luxon"``) or moment.js format as a strftime pattern. Raises
    NotMapped for a token strftime has no match for (milliseconds, Unix timestamps...)."""
    table = _LUXON if dialect == "luxon" else _MOMENT
    opening, closing = ("'", "'") if dialect == "luxon" else ("[", "]")
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == opening:
            end = text.find(closing, index + 1)
            if end < 0:
                raise NotMapped(f"format '{text}': an unclosed {opening}")
            quoted = text[index + 1 : end] or ("'" if dialect == "luxon" else "")
            out.append(quoted.replace("%", "%%"))
            index = end + 1
        elif char.isalpha():
            run = len(text) - index - len(text[index:].lstrip(char))
            token = text[index : index + run]
            if token not in table:
                raise NotMapped(f"format token '{token}' has no strftime equivalent")
            out.append(table[token])
            index += run
        else:
            out.append("%%" if char == "%" else char)
            index += 1
    return "".join(out)


def date_time(source: Source, ctx: Context) -> Mapped:
    """Date & Time v1 and v2 as data.datetime (v2 followed by a data.set keeping only
    the output field, unless "include input fields" is on, as n8n's item holds only it)."""
    version_check(source, (1, 2))
    # the importer marks a mapping with warnings once a warning is recorded
    return _version_1(source, ctx) if source.version == 1 else _version_2(source, ctx)


def _version_1(source: Source, ctx: Context) -> Mapped:
    action = source.param("action", "format")
    options = source.param("options") or {}
    if options.get("fromFormat"):
        raise NotMapped("'From Format' (a moment.js parsing format)")
    params: dict[str, Any] = {
        "value": ctx.value(source.param("value", ""), "value"),
        "output_field": str(source.param("dataPropertyName", "data")),
    }
    if action == "calculate":
        # v1 writes the moment object, which JSON shows as UTC with milliseconds
        params.update(
            operation=source.param("operation", "add"),
            amount=ctx.value(source.param("duration", 0), "duration"),
            unit=str(source.param("timeUnit", "days")),
            timezone="UTC",
            iso_style="luxon",
        )
    elif action == "format":
        pattern = str(source.param("toFormat", "MM/DD/YYYY") or "MM/DD/YYYY")
        params.update(operation="format", format=strftime_pattern(pattern, dialect="moment"))
        params["iso_style"] = "luxon"  # numbers are timestamps, as moment reads them
        params["timezone"] = _v1_zone(options, ctx)
    else:
        raise NotMapped(f"action '{action}'")
    return Mapped([{"id": ctx.node_id, "type": "data.datetime", "params": params}])


def _v1_zone(options: dict[str, Any], ctx: Context) -> str:
    source_zone, target_zone = options.get("fromTimezone"), options.get("toTimezone")
    if source_zone and target_zone and source_zone != target_zone:
        ctx.warn(
            f"dates without an offset are read in {target_zone}, not {source_zone}: "
            "LinkFlow reads and writes in one time zone"
        )
    if not (source_zone or target_zone):
        ctx.warn("n8n formats in the server's own time zone; LinkFlow in UTC")
        return "UTC"
    return str(target_zone or ctx.scope.timezone)


_V2_OUTPUT = {
    "getCurrentDate": "currentDate",
    "addToDate": "newDate",
    "subtractFromDate": "newDate",
    "formatDate": "formattedDate",
    "roundDate": "roundedDate",
    "getTimeBetweenDates": "timeDifference",
    "extractDate": "datePart",
}


def _version_2(source: Source, ctx: Context) -> Mapped:
    operation = str(source.param("operation", "getCurrentDate"))
    if operation not in _V2_OUTPUT:
        raise NotMapped(f"operation '{operation}'")
    output = str(source.param("outputFieldName", _V2_OUTPUT[operation]))
    if "." in output:
        ctx.warn(f"the output field '{output}' is a path in LinkFlow (n8n: one key with a dot)")
    params = {"iso_style": "luxon", "timezone": ctx.scope.timezone, **_v2_params(source, ctx)}
    params["output_field"] = output + params.pop("output_suffix", "")
    node = {"id": ctx.node_id, "type": "data.datetime", "params": params}
    if (source.param("options") or {}).get("includeInputFields"):
        return Mapped([node])
    node["id"] = f"{ctx.node_id}__date"
    keep = {"keep_only": True, "fields": {output: f"{{{{ json[{literal(output)}] }}}}"}}
    only = {"id": ctx.node_id, "type": "data.set", "params": keep}
    return Mapped([node, only], edges=[{"source": node["id"], "target": only["id"]}])


def _v2_params(source: Source, ctx: Context) -> dict[str, Any]:
    operation = source.param("operation", "getCurrentDate")
    options = source.param("options") or {}
    date = ctx.value(source.param("date", ""), "date")
    if operation == "getCurrentDate":
        zone = str(options.get("timezone") or ctx.scope.timezone)
        if source.param("includeTime", True):
            return {"operation": "parse", "timezone": zone}
        return {"operation": "round", "field": "day", "timezone": zone}
    if operation in ("addToDate", "subtractFromDate"):
        return {
            "operation": "add" if operation == "addToDate" else "subtract",
            "value": ctx.value(source.param("magnitude", ""), "magnitude"),
            "amount": ctx.value(source.param("duration", 0), "duration"),
            "unit": str(source.param("timeUnit", "days")),
        }
    if operation == "formatDate":
        return _format(source, ctx, date, options)
    if operation == "roundDate":
        if source.param("mode", "roundDown") == "roundUp":
            return {"operation": "round", "value": date, "direction": "up", "field": "month"}
        field = str(source.param("toNearest", "month"))
        return {"operation": "round", "value": date, "field": field}
    if operation == "getTimeBetweenDates":
        return _between(source, ctx)
    return {"operation": "extract", "value": date, "field": str(source.param("part", "month"))}


def _format(source: Source, ctx: Context, date: Any, options: dict[str, Any]) -> dict[str, Any]:
    if options.get("fromFormat"):
        raise NotMapped("'From Date Format' (a Luxon parsing format)")
    chosen = str(source.param("format", "MM/dd/yyyy"))
    pattern = str(source.param("customFormat", "")) if chosen == "custom" else chosen
    if pattern.startswith("="):
        raise NotMapped("a format computed by an expression")
    if options.get("timezone"):
        zone = ctx.scope.timezone
    else:
        zone = "UTC"
        ctx.warn(
            "n8n formats a date with a '+hh' offset in that offset, others in UTC; "
            "LinkFlow formats every date in UTC (turn on 'Use Workflow Timezone' to agree)"
        )
    format_text = strftime_pattern(pattern, dialect="luxon")
    return {"operation": "format", "value": date, "format": format_text, "timezone": zone}


_BETWEEN_UNITS = ("year", "month", "week", "day", "hour", "minute", "second", "millisecond")


def _between(source: Source, ctx: Context) -> dict[str, Any]:
    units = source.param("units", ["day"])
    units = [units] if isinstance(units, str) else list(units or [])
    if len(units) != 1 or units[0] not in _BETWEEN_UNITS:
        raise NotMapped(f"units {units}: only one unit of {', '.join(_BETWEEN_UNITS)}")
    if (source.param("options") or {}).get("isoString"):
        raise NotMapped("the difference as an ISO duration text")
    unit = f"{units[0]}s"
    if unit in ("months", "years"):
        ctx.warn(f"the difference counts whole {unit}; n8n's has a fraction")
    return {
        "operation": "difference",
        "value": ctx.value(source.param("startDate", ""), "startDate"),
        "end": ctx.value(source.param("endDate", ""), "endDate"),
        "unit": unit,
        # Luxon's toObject() names the unit: {"days": 2.5}
        "output_suffix": f".{unit}",
    }
