"""``fleetpulse report html OUT``: one self-contained page (inline CSS, inline SVG, no scripts).

Sections: score tiles, boot / sign-in percentiles by model (bars), daily median core boot
(line), top crashing apps, restart categories, open regressions. The figures are the same
documents the terminal reports print; the daily trend is ``TREND_SQL``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from fleetpulse.reports import apps, models, regressions, restarts, startup
from fleetpulse.reports.params import Filters, q_lower, render_sql, where
from fleetpulse.reports.svg import bar_chart, hbar_chart, line_chart
from fleetpulse.reports.text import cause_text, num, pct, score, secs, value
from sinks.reader import Reader

Row = dict[str, Any]

TREND_SQL = f"""
SELECT toString(toDate(event_time)) AS day, countIf({startup.BOOT_KEPT}) AS boots,
    {q_lower(f"if({startup.BOOT_KEPT}, core_boot_ms, NULL)", 0.5)} AS core_boot_p50
FROM {{db}}.boot_events
WHERE {where()}
GROUP BY day ORDER BY day"""

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:22px;margin-bottom:2px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#666;font-size:13px} .tiles{display:flex;gap:12px;flex-wrap:wrap}
.tile{border:1px solid #ddd;border-radius:8px;padding:10px 16px;min-width:140px}
.tile .v{font-size:30px;font-weight:600} .tile .l{font-size:12px;color:#666}
.tile.na .v{font-size:16px;color:#999;padding:10px 0}
table{border-collapse:collapse;font-size:13px;margin-top:8px}
th,td{padding:4px 10px;border-bottom:1px solid #eee}
th{text-align:left;background:#f6f7f9} td.n{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#999;font-style:italic}
"""


def _tile(label: str, value: float | None, note: str = "") -> str:
    cls = "tile" if value is not None else "tile na"
    return (
        f"<div class='{cls}'><div class='v'>{escape(score(value))}</div>"
        f"<div class='l'>{escape(label)}{escape(note)}</div></div>"
    )


def html_table(
    rows: Sequence[Row], cols: Sequence[tuple[str, str, Callable[[Any], str]]], numeric: Sequence[str] = ()
) -> str:
    """An HTML table; ``numeric`` columns right-aligned; every cell escaped."""
    if not rows:
        return "<p class='empty'>no data in range</p>"
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _ in cols)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if k in numeric else ''}>{escape(fmt(r.get(k)))}</td>" for k, _, fmt in cols
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(st: Row, md: Row, trend: Sequence[Row], ap: Row, rs: Row, rg: Row) -> str:
    """The page, from the startup, models, apps, restarts and regressions documents and the trend."""
    s, flt = st["scores"], st["filters"]
    tiles = "".join(
        [
            _tile("Startup score", s["startup_score"]),
            _tile("Boot score", s["boot_score"], f" · {s['boot_devices']} devices"),
            _tile("Sign-in score", s["signin_score"], f" · {s['signin_devices']} devices"),
            _tile("App reliability score", ap["app_reliability_score"]),
        ]
    )
    phases = html_table(
        st["metrics"],
        [
            ("label", "phase", str),
            ("p50", "median (s)", secs),
            ("p90", "p90 (s)", secs),
            ("count", "events", str),
            ("devices", "devices", str),
        ],
        ("p50", "p90", "count", "devices"),
    )
    ms = md["models"]
    names = [m["model"] for m in ms]
    boot_bars = bar_chart(
        names,
        [
            ("core boot p50", [_s(m["core_boot_ms_p50"]) for m in ms]),
            ("core boot p90", [_s(m["core_boot_ms_p90"]) for m in ms]),
        ],
        fmt="{:.0f} s",
        title="Core boot by model",
    )
    signin_bars = bar_chart(
        names,
        [
            ("core sign-in p50", [_s(m["core_logon_ms_p50"]) for m in ms]),
            ("core sign-in p90", [_s(m["core_logon_ms_p90"]) for m in ms]),
        ],
        fmt="{:.0f} s",
        title="Core sign-in by model",
    )
    model_table = html_table(
        ms,
        [
            ("model", "model", str),
            ("devices", "devices", str),
            ("startup_score", "startup", score),
            ("boot_score", "boot", score),
            ("signin_score", "sign-in", score),
        ],
        ("devices",),
    )
    points = [(r["day"], float(r["core_boot_p50"]) / 1000) for r in trend if r["core_boot_p50"] is not None]
    trend_svg = line_chart(points, fmt="{:.0f} s", title="Daily median core boot")
    app_table = html_table(
        ap["apps"],
        [
            ("app", "app", str),
            ("crashes", "crashes", str),
            ("hangs", "hangs", str),
            ("active_devices", "active devices", str),
            ("usage_hours", "usage h", lambda v: num(v, 1)),
            ("mttf_hours", "MTTF h", lambda v: num(v, 1)),
            ("score", "score", score),
        ],
        ("crashes", "hangs", "active_devices", "usage_hours", "mttf_hours", "score"),
    )
    cats = [c for c in rs["categories"] if c["restarts"]]
    restart_svg = hbar_chart([(c["category"], float(c["restarts"])) for c in cats], title="Restarts")
    restart_table = html_table(
        cats,
        [
            ("category", "category", str),
            ("restarts", "restarts", str),
            ("share", "share", pct),
            ("devices", "devices", str),
        ],
        ("restarts", "share", "devices"),
    )
    reg_rows = [
        {
            **r,
            "where": f"{r['scope_type']}:{r['scope']}" if r["scope"] else r["scope_type"],
            "change": r["change_pct"] / 100.0,
            "cause": r["likely_cause"],
        }
        for r in rg["regressions"]
    ]
    reg_table = html_table(
        reg_rows,
        [
            ("where", "scope", str),
            ("metric", "metric", str),
            ("baseline_value", "baseline", value),
            ("current_value", "current", value),
            ("change", "change", pct),
            ("p_value", "p-value", lambda v: f"{v:.2g}"),
            ("started_at", "started", lambda v: str(v)[:16]),
            ("cause", "likely cause", cause_text),
        ],
        ("baseline_value", "current_value", "change", "p_value"),
    )
    restart_summary = (
        f"{rs['restarts']} restarts on {rs['active_devices']} devices, abnormal "
        f"{pct(rs['abnormal_share'])}; {rs['stop_errors']} Stop errors "
        f"({num(rs['stop_errors_per_device'], 3)} per device)"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fleetpulse report</title><style>{CSS}</style></head>
<body>
<h1>fleetpulse — endpoint experience</h1>
<div class="sub">{escape(flt["since"])} – {escape(flt["until"])} · {st["devices"]} devices ·
{st["boots"]} boots · {st["signins"]} sign-ins · scores need ≥ {st["min_devices"]} devices</div>
<section id="scores"><h2>Scores</h2><div class="tiles">{tiles}</div>{phases}</section>
<section id="models"><h2>Boot and sign-in by model</h2>{boot_bars}{signin_bars}{model_table}</section>
<section id="trend"><h2>Daily median core boot</h2>{trend_svg}</section>
<section id="apps"><h2>Top crashing apps</h2>{app_table}</section>
<section id="restarts"><h2>Restart categories</h2><p>{escape(restart_summary)}</p>
{restart_svg}{restart_table}</section>
<section id="regressions"><h2>Open regressions</h2>{reg_table}</section>
</body></html>
"""


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


def build_html_report(reader: Reader, flt: Filters) -> str:
    """Query every section and render the page."""
    trend = reader.query_json(render_sql(TREND_SQL, flt.database), flt.params())
    return render_html(
        startup.startup_report(reader, flt),
        models.models_report(reader, flt),
        trend,
        apps.apps_report(reader, flt),
        restarts.restarts_report(reader, flt),
        regressions.regressions_report(reader, flt),
    )
