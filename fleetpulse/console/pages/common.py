"""Widgets several pages share: the score tiles and the regressions table."""

from __future__ import annotations

from typing import Any

from fleetpulse.console.widgets import Col, Table, Tile, tone
from fleetpulse.reports.text import score

Row = dict[str, Any]


def score_tile(label: str, value: float | None, note: str = "", href: str = "") -> Tile:
    return Tile(label, score(value), note, href, tone(value))


REGRESSION_COLS = (
    Col("where", "scope"),
    Col("metric", "metric"),
    Col("baseline_name", "baseline"),
    Col("baseline_value", "baseline value", "ms"),
    Col("current_value", "current value", "ms"),
    Col("change", "change", "pct"),
    Col("devices_baseline", "devices (baseline)", "int"),
    Col("devices_current", "devices (current)", "int"),
    Col("p_value", "p-value", "p"),
    Col("started_at", "change point"),
    Col("detected_at", "detected"),
    Col("status", "status"),
    Col("cause", "likely cause"),
    Col("cause_prevalence", "in affected / unaffected"),
)


def regression_rows(doc: Row) -> list[Row]:
    """The regressions document's rows with the scope, change and likely cause as shown."""
    out = []
    for r in doc["regressions"]:
        cause = r.get("likely_cause") or {}
        out.append(
            {
                **{k: v for k, v in r.items() if k not in ("causes", "likely_cause")},
                "where": f"{r['scope_type']}:{r['scope']}" if r["scope"] else r["scope_type"],
                "change": r["change_pct"] / 100.0,
                "started_at": str(r["started_at"])[:16],
                "detected_at": str(r["detected_at"])[:16],
                "cause": cause.get("change_name"),
                "cause_prevalence": (
                    f"{cause['prevalence_affected'] * 100:.0f}% / {cause['prevalence_unaffected'] * 100:.0f}%"
                    if cause
                    else None
                ),
            }
        )
    return out


def regressions_table(doc: Row, *, title: str = "Open regressions", page_size: int = 25) -> Table:
    return Table("regressions", title, REGRESSION_COLS, regression_rows(doc), page_size=page_size)
