"""The usage page's chart: daily executions by status as a stacked bar chart, drawn as
inline SVG on the server (no JavaScript, no chart library).

``daily_chart`` turns usage_report's ``daily`` rows into geometry; the template only
places the shapes. Coordinates are in the SVG's own units (it scales to its box).
"""

import math
from typing import Any

STATUSES = ("succeeded", "failed", "cancelled")
WIDTH, HEIGHT = 720, 240
# Room for the y axis labels on the left and the day labels below.
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 28
GAP = 0.2  # of each day's slot, left empty between bars


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (min 1)."""
    if value <= 1:
        return 1
    # A non-negative exponent (value > 1), so the power is an int, not a float.
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover (the loop always returns)


def daily_chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars (one per day, oldest first; a day without executions has a zero total and no
    segments), y-axis ticks and sparse day labels for ``days`` as usage_report gives them."""
    top = nice_ceiling(max((sum(int(d[s]) for s in STATUSES) for d in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar_w = slot * (1 - GAP)
    bars = []
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar_w) / 2
        base: float = TOP + plot_h
        segments = []
        for status in STATUSES:
            count = int(day[status])
            if not count:
                continue
            height = plot_h * count / top
            base -= height
            segments.append({"status": status, "count": count, "y": _r(base), "h": _r(height)})
        total = sum(int(day[s]) for s in STATUSES)
        bars.append(
            {
                "day": day["day"],
                "x": _r(x),
                "w": _r(bar_w),
                "total": total,
                "segments": segments,
                "counts": {s: int(day[s]) for s in STATUSES},
                # A label under every 5th day and the last one, so they never overlap.
                "label": index % 5 == 0 or index == len(days) - 1,
                "label_x": _r(x + bar_w / 2),
            }
        )
    ticks = [
        {"value": value, "y": _r(TOP + plot_h - plot_h * value / top)}
        for value in sorted({0, top // 2, top} if top > 1 else {0, 1})
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_h,
        "label_y": HEIGHT - 8,
        "bars": bars,
        "ticks": ticks,
        "total": sum(bar["total"] for bar in bars),
        "statuses": STATUSES,
        "first_day": days[0]["day"] if days else None,
        "last_day": days[-1]["day"] if days else None,
    }


def _r(value: float) -> float:
    return round(value, 2)
