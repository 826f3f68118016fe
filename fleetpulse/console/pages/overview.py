"""Overview: the startup, boot, sign-in and app reliability scores, their daily trend, open regressions."""

from __future__ import annotations

from fleetpulse.console import charts
from fleetpulse.console.pages import PageContext
from fleetpulse.console.pages.common import regressions_table, score_tile
from fleetpulse.console.widgets import Chart, Section, Tile, Tiles, filter_query
from fleetpulse.reports import apps, regressions, startup, trends


def build(ctx: PageContext) -> list[Section]:
    st = startup.startup_report(ctx.reader, ctx.flt)
    ap = apps.apps_report(ctx.reader, ctx.flt)
    rg = regressions.regressions_report(ctx.reader, ctx.flt)
    trend = trends.score_trend(ctx.reader, ctx.flt)
    s, q = st["scores"], filter_query(ctx.query)
    sfx = f"?{q}" if q else ""
    tiles = Tiles(
        [
            score_tile("Startup score", s["startup_score"], f"{st['devices']} devices", f"/startup{sfx}"),
            score_tile("Boot score", s["boot_score"], f"{s['boot_devices']} devices", f"/startup{sfx}"),
            score_tile(
                "Sign-in score", s["signin_score"], f"{s['signin_devices']} devices", f"/startup{sfx}"
            ),
            score_tile(
                "App reliability score",
                ap["app_reliability_score"],
                f"{ap['apps_total']} apps",
                f"/apps{sfx}",
            ),
            Tile(
                "Open regressions", str(rg["open"]), "", f"/regressions{sfx}", "bad" if rg["open"] else "good"
            ),
        ]
    )
    days = [r["day"] for r in trend]
    chart = Chart(
        "score-trend",
        "Scores by day (each day's events; none below 5 devices)",
        charts.lines(
            days,
            [
                ("Startup", [r["startup_score"] for r in trend]),
                ("Boot", [r["boot_score"] for r in trend]),
                ("Sign-in", [r["signin_score"] for r in trend]),
            ],
            y_max=100,
        ),
    )
    return [tiles, chart, regressions_table(rg)]
