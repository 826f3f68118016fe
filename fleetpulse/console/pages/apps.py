"""App reliability: app, app version, model and OS version tabs, MTTF, crashes per device."""

from __future__ import annotations

import dataclasses

from fleetpulse.console import charts
from fleetpulse.console.pages import PageContext
from fleetpulse.console.pages.common import score_tile
from fleetpulse.console.widgets import Chart, Col, Section, Table, Tile, Tiles, with_params
from fleetpulse.reports import apps, breakdowns, trends

TABS = {"app": "App", "version": "App version", "model": "Model", "os_build": "OS version"}
_FIGURES = (
    Col("active_devices", "active devices", "int"),
    Col("usage_hours", "usage h", "hours"),
    Col("crashes", "crashes", "int"),
    Col("crash_devices", "devices with crashes", "int"),
    Col("hangs", "hangs", "int"),
    Col("mttf_hours", "MTTF h", "hours"),
    Col("crashes_per_device", "crashes per device", "per_device"),
)


def build(ctx: PageContext) -> list[Section]:
    flt = dataclasses.replace(ctx.flt, limit=100_000)
    ap = apps.apps_report(ctx.reader, flt)
    tab = ctx.query.get("tab", "app")
    tab = tab if tab in TABS else "app"
    rows = [
        {**r, "crashes_per_device": r["crashes"] / r["active_devices"] if r["active_devices"] else None}
        for r in ap["apps"]
    ]
    tiles = Tiles(
        [
            score_tile("App reliability score", ap["app_reliability_score"]),
            Tile("Apps", str(ap["apps_total"]), f"{ap['enrolled_devices']} enrolled devices"),
            Tile(
                "Crashes", f"{sum(r['crashes'] for r in rows):,}", f"{sum(r['hangs'] for r in rows):,} hangs"
            ),
        ]
    )
    top = rows[:12]
    chart = Chart(
        "app-crashes",
        "Crashes and hangs by app (click a bar to filter by the app)",
        charts.bars(
            [r["app"] for r in top],
            [("crashes", [r["crashes"] for r in top]), ("hangs", [r["hangs"] for r in top])],
        ),
        links=[f"/apps?{with_params(ctx.query, app=r['app'])}" for r in top],
        height=max(240, 36 * len(top) + 60),
    )
    daily = trends.crash_trend(ctx.reader, ctx.flt)
    trend = Chart(
        "crash-trend",
        "Crashes and hangs per day",
        charts.lines(
            [r["day"] for r in daily],
            [("crashes", [int(r["crashes"]) for r in daily]), ("hangs", [int(r["hangs"]) for r in daily])],
        ),
    )
    if tab == "app":
        table = Table(
            "apps",
            "App performance",
            [
                Col("app", "app", link="app"),
                *_FIGURES[:5],
                Col("mttf_hours", "MTTF h", "hours"),
                Col("crashes_per_device", "crashes per device", "per_device"),
                Col("score", "score", "score"),
            ],
            rows,
        )
    else:
        table = Table(
            f"apps-{tab}",
            f"App reliability by {TABS[tab].lower()}",
            [Col(tab, TABS[tab]), *_FIGURES],
            breakdowns.app_breakdown(ctx.reader, ctx.flt, tab),
        )
    devices = Table(
        "app-devices",
        "Device performance: app crashes per device",
        [
            Col("device_id", "device", link="device"),
            Col("model", "model"),
            Col("crashes", "crashes", "int"),
            Col("hangs", "hangs", "int"),
            Col("usage_hours", "usage h", "hours"),
        ],
        breakdowns.app_devices(ctx.reader, ctx.flt),
        page_size=15,
    )
    table.tabs = [(label, f"/apps?{with_params(ctx.query, tab=t)}", t == tab) for t, label in TABS.items()]
    return [tiles, chart, trend, table, devices]
