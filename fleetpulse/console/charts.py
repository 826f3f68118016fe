"""Apache ECharts options for the console's charts (plain data; static/console.js draws them).

Every chart has a tooltip (hover), a data-zoom where the x axis is time or long, and, where a
bar stands for a model, an app or a device, a click-through link (``Chart.links``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PALETTE = ["#2f6fb0", "#e8833a", "#3aa17e", "#c0504d", "#8064a2", "#4bacc6", "#9b8b2a", "#7f7f7f"]
Option = dict[str, Any]


def _base(legend: bool = True) -> Option:
    return {
        "color": PALETTE,
        "tooltip": {"trigger": "axis", "confine": True},
        "legend": {"show": legend, "top": 0, "type": "scroll"},
        "grid": {"left": 8, "right": 16, "top": 36, "bottom": 8, "containLabel": True},
        "animation": False,
    }


def lines(
    days: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    y_max: float | None = None,
    unit: str = "",
) -> Option:
    """Lines over days (missing points are gaps), with an x-axis zoom slider."""
    opt = _base()
    opt["grid"]["bottom"] = 40
    opt["xAxis"] = {"type": "category", "data": list(days), "boundaryGap": False}
    opt["yAxis"] = {"type": "value", "name": unit, "max": y_max, "min": 0}
    opt["dataZoom"] = [{"type": "inside"}, {"type": "slider", "height": 18, "bottom": 6}]
    opt["series"] = [
        {
            "name": name,
            "type": "line",
            "data": [None if v is None else round(v, 2) for v in vals],
            "connectNulls": False,
            "showSymbol": len(days) < 40,
        }
        for name, vals in series
    ]
    return opt


def bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    unit: str = "",
    horizontal: bool = True,
    stack: bool = False,
) -> Option:
    """Grouped (or stacked) bars; horizontal by default so long names stay readable at 390 px."""
    opt = _base(legend=len(series) > 1)
    cat_axis = {
        "type": "category",
        "data": list(categories),
        "axisLabel": {"width": 140, "overflow": "truncate"},
        "inverse": horizontal,
    }
    val_axis = {"type": "value", "name": unit}
    opt["tooltip"] = {"trigger": "axis", "axisPointer": {"type": "shadow"}, "confine": True}
    opt["xAxis"], opt["yAxis"] = (val_axis, cat_axis) if horizontal else (cat_axis, val_axis)
    if not horizontal:
        opt["grid"]["bottom"] = 40
        opt["dataZoom"] = [{"type": "inside"}, {"type": "slider", "height": 18, "bottom": 6}]
    opt["series"] = [
        {
            "name": name,
            "type": "bar",
            "data": [None if v is None else round(v, 2) for v in vals],
            **({"stack": "total"} if stack else {}),
        }
        for name, vals in series
    ]
    return opt


def timeline(points: Sequence[tuple[str, str, str]], kinds: Sequence[str]) -> Option:
    """One dot per event: x = time, y = kind; the tooltip names the event; zoom on the time axis."""
    opt = _base(legend=False)
    opt["grid"]["bottom"] = 40
    opt["tooltip"] = {"trigger": "item", "confine": True}
    opt["xAxis"] = {"type": "time"}
    opt["yAxis"] = {"type": "category", "data": list(kinds)}
    opt["dataZoom"] = [{"type": "inside"}, {"type": "slider", "height": 18, "bottom": 6}]
    opt["series"] = [
        {
            "type": "scatter",
            "symbolSize": 9,
            "data": [{"value": [t.replace(" ", "T") + "Z", k], "name": label} for t, k, label in points],
        }
    ]
    return opt
