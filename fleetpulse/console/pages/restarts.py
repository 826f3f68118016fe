"""Restart frequency: categories over time, Stop errors by code, model and driver, devices."""

from __future__ import annotations

from fleetpulse.console import charts
from fleetpulse.console.pages import PageContext
from fleetpulse.console.widgets import Chart, Col, Section, Table, Tile, Tiles
from fleetpulse.reports import breakdowns, restarts, trends
from fleetpulse.reports.text import num, pct


def build(ctx: PageContext) -> list[Section]:
    rs = restarts.restarts_report(ctx.reader, ctx.flt)
    trend = trends.restart_trend(ctx.reader, ctx.flt)
    by_model = breakdowns.stop_errors_by(ctx.reader, ctx.flt, "model")
    by_driver = breakdowns.stop_errors_by(ctx.reader, ctx.flt, "driver")
    per_device = breakdowns.restart_devices(ctx.reader, ctx.flt)
    tiles = Tiles(
        [
            Tile(
                "Restarts per device",
                num(rs["restarts_per_device"]),
                f"{rs['restarts']} on {rs['active_devices']} active devices",
            ),
            Tile("Abnormal share", pct(rs["abnormal_share"]), f"{rs['abnormal']} abnormal"),
            Tile(
                "Stop errors per device",
                num(rs["stop_errors_per_device"], 3),
                f"{rs['stop_errors']} on {rs['stop_error_devices']} devices",
            ),
        ]
    )
    days = sorted({r["day"] for r in trend})
    cats = [c["category"] for c in rs["categories"] if c["restarts"]]
    counts = {(r["day"], r["category"]): int(r["restarts"]) for r in trend}
    chart = Chart(
        "restart-trend",
        "Restarts per day by category",
        charts.bars(
            days, [(c, [counts.get((d, c), 0) for d in days]) for c in cats], horizontal=False, stack=True
        ),
    )
    categories = Table(
        "categories",
        "Restart categories",
        [
            Col("category", "category"),
            Col("restarts", "restarts", "int"),
            Col("share", "share", "pct"),
            Col("devices", "devices", "int"),
            Col("per_device", "per active device", "per_device"),
            Col("abnormal", "abnormal", "int"),
        ],
        rs["categories"],
    )
    stop_cols = [Col("stop_errors", "Stop errors", "int"), Col("devices", "devices", "int")]
    codes = Table(
        "stop-codes",
        "Stop errors by code",
        [Col("bug_check_code", "bug check"), *stop_cols],
        rs["top_bug_checks"],
        page_size=10,
    )
    models = Table(
        "stop-models", "Stop errors by model", [Col("model", "model"), *stop_cols], by_model, page_size=10
    )
    drivers = Table(
        "stop-drivers",
        "Stop errors by driver (faulting module)",
        [Col("driver", "driver"), *stop_cols],
        by_driver,
        page_size=10,
    )
    devices = Table(
        "restart-devices",
        "Devices: restarts and Stop errors",
        [
            Col("device_id", "device", link="device"),
            Col("model", "model"),
            Col("restarts", "restarts", "int"),
            Col("abnormal", "abnormal", "int"),
            Col("stop_errors", "Stop errors", "int"),
        ],
        per_device,
        page_size=20,
    )
    return [tiles, chart, categories, codes, models, drivers, devices]
