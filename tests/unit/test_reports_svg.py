"""Inline SVG charts and the HTML page: exact markup, escaping, every section (no ClickHouse)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fleetpulse.reports import apps, html, models, params, regressions, restarts, startup, svg

T = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
FLT = params.Filters(T - dt.timedelta(days=14), T)


def test_nice_max_and_coordinates() -> None:
    assert [svg.nice_max(v) for v in (0, 0.7, 1, 3, 21, 24, 26, 49.5, 51, 99)] == [
        1.0,
        1.0,
        1.0,
        5.0,
        25.0,
        25.0,
        50.0,
        50.0,
        100.0,
        100.0,
    ]
    assert (svg.f(12.0), svg.f(12.25), svg.f(3.04)) == ("12", "12.2", "3")


def test_bar_chart_exact_geometry() -> None:
    out = svg.bar_chart(["A", "B<&>"], [("p50", [10.0, None]), ("p90", [20.0, 5.0])], width=248, height=164)
    # plot: left 48, right 10, top 24, bottom 40 -> h = 100, top of axis nice_max(20) = 20
    assert out.startswith("<svg xmlns='http://www.w3.org/2000/svg' width='248' height='164'")
    # group width 95, bar width 95 * 0.8 / 2 = 38; A/p50 = 10 -> 50 px tall from y 74
    assert "<rect x='57.5' y='74' width='37' height='50' fill='#2f6fdf'>" in out
    assert "<rect x='95.5' y='24' width='37' height='100' fill='#e8833a'>" in out
    assert "<rect x='190.5' y='99' width='37' height='25' fill='#e8833a'>" in out
    assert out.count("<rect x=") == 3 + 2  # three bars (B/p50 is None) and two legend swatches
    assert "B&lt;&amp;&gt;" in out
    assert "B<&>" not in out
    assert out.endswith("</svg>")


def test_line_chart_exact_points() -> None:
    out = svg.line_chart(
        [("2026-03-01", 10.0), ("2026-03-02", 20.0), ("2026-03-03", 15.0)], width=264, height=140
    )
    # w = 264 - 48 - 16 = 200, h = 140 - 12 - 28 = 100, axis top 20
    assert "<polyline points='48,62 148,12 248,37'" in out
    assert out.count("<circle") == 3
    assert ">2026-03-01</text>" in out
    assert ">2026-03-03</text>" in out
    assert ">2026-03-02</text>" not in out
    single = svg.line_chart([("d", 4.0)], width=264, height=140)
    assert "<polyline points='148,32'" in single
    assert "<polyline" not in svg.line_chart([])


def test_hbar_chart_exact() -> None:
    out = svg.hbar_chart([("restartWithUpdate", 6.0), ("blueScreen", 3.0)], width=420)
    # span = 420 - 170 - 50 = 200
    assert "<rect x='170' y='7' width='200' height='14'" in out
    assert "<rect x='170' y='29' width='100' height='14'" in out
    assert ">6</text>" in out
    assert ">3</text>" in out


def _docs() -> tuple[dict[str, Any], ...]:
    boots = [
        {
            "device_id": f"d{i}",
            "make": "Dell",
            "model": "L<1>",
            "os_build": "b",
            "boots": 1,
            "core_boot_ms_med": 12_000.0,
            "gp_boot_ms_med": None,
            "total_boot_ms_med": 20_000.0,
        }
        for i in range(5)
    ]
    pct = [
        {
            "grp": "",
            "boots": 5,
            "boots_fast_startup": 0,
            "devices": 5,
            "core_boot_ms_p50": 12_000.0,
            "core_boot_ms_p90": 12_000.0,
            "gp_boot_ms_p50": None,
            "gp_boot_ms_p90": None,
            "total_boot_ms_p50": 20_000.0,
            "total_boot_ms_p90": 20_000.0,
        }
    ]
    st = startup.shape_startup(FLT, pct, [], boots, [])
    md = models.shape_models(FLT, [{**pct[0], "grp": "Dell/L<1>"}], [], boots, [])
    ap = apps.shape_apps(
        FLT,
        [{"app": "Teams", "active_devices": 5, "usage_ms": 3_600_000}],
        [{"app": "Teams", "crashes": 2, "crashes_counted": 2, "crash_devices": 1}],
        [],
        5,
    )
    rs = restarts.shape_restarts(
        FLT, [{"category": "blueScreen", "restarts": 1, "devices": 1, "abnormal": 1}], [], 0, 5
    )
    rg = regressions.shape_regressions(
        FLT,
        [
            {
                "regression_id": "r1",
                "status": "open",
                "scope_type": "fleet",
                "scope": "",
                "metric": "core_boot_ms",
                "baseline_value": 10_000.0,
                "current_value": 12_000.0,
                "change_pct": 20.0,
                "p_value": 0.001,
                "started_at": "2026-03-04T00:00:00.000Z",
                "causes": [["c1", "GPO <baseline>", 0.8, 0.2, 3.3]],
            }
        ],
    )
    return st, md, ap, rs, rg


def test_render_html_has_every_section_and_no_external_resources() -> None:
    st, md, ap, rs, rg = _docs()
    trend = [
        {"day": "2026-03-01", "boots": 3, "core_boot_p50": 12_000.0},
        {"day": "2026-03-02", "boots": 2, "core_boot_p50": 14_000.0},
    ]
    page = html.render_html(st, md, trend, ap, rs, rg)
    for section in ("scores", "models", "trend", "apps", "restarts", "regressions"):
        assert f'<section id="{section}">' in page
    assert "<script" not in page
    assert "<link" not in page
    assert "src=" not in page
    assert "GPO &lt;baseline&gt; (80% of affected vs 20%)" in page
    assert "Dell/L&lt;1&gt;" in page
    assert "L<1>" not in page
    assert (
        "<div class='tile'><div class='v'>90</div><div class='l'>Boot score · 5 devices</div></div>" in page
    )
    assert "<polyline" in page
    assert "<td>Teams</td><td class=n>2</td>" in page


def test_html_table_empty() -> None:
    assert html.html_table([], [("a", "a", str)]) == "<p class='empty'>no data in range</p>"
