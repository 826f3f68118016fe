"""Regressions: root regression and scopes also affected, baseline vs current, evidence, likely causes."""

from __future__ import annotations

import dataclasses

from fleetpulse.console import charts
from fleetpulse.console.pages import PageContext
from fleetpulse.console.pages.common import regression_rows, regressions_table
from fleetpulse.console.widgets import Chart, Col, Section, Table, with_params
from fleetpulse.reports import regressions


def build(ctx: PageContext) -> list[Section]:
    include_closed = ctx.query.get("all") == "1"
    flt = dataclasses.replace(ctx.flt, limit=10_000)
    doc = regressions.regressions_report(ctx.reader, flt, include_closed=include_closed)
    title = "Regressions (open and closed)" if include_closed else f"Open regressions ({doc['open']})"
    table = regressions_table(doc, title=title)
    table.tabs = [
        ("Open", f"/regressions?{with_params(ctx.query, all=None)}", not include_closed),
        ("All", f"/regressions?{with_params(ctx.query, all='1')}", include_closed),
    ]
    rows = regression_rows(doc)
    if rows and "also_seen_in" in rows[0]:  # root regressions (issue 16): the scopes they also move
        table.cols = [*table.cols, Col("also_seen_in", "also seen in")]
    labels = [f"{r['where']} {r['metric']}" for r in rows[:12]]
    chart = Chart(
        "regression-change",
        "Baseline vs current",
        charts.bars(
            labels,
            [
                ("baseline", [r["baseline_value"] for r in rows[:12]]),
                ("current", [r["current_value"] for r in rows[:12]]),
            ],
        ),
        height=max(200, 40 * len(labels) + 60),
    )
    causes = [
        {
            "regression": f"{r['scope_type']}:{r['scope']} {r['metric']}",
            "rank": i + 1,
            **c,
        }
        for r in doc["regressions"]
        for i, c in enumerate(r["causes"])
    ]
    cause_table = Table(
        "causes",
        "Likely causes: configuration changes by prevalence among affected vs unaffected devices",
        [
            Col("regression", "regression"),
            Col("rank", "rank", "int"),
            Col("change_name", "change"),
            Col("change_id", "change id"),
            Col("prevalence_affected", "affected devices with it", "pct"),
            Col("prevalence_unaffected", "unaffected devices with it", "pct"),
            Col("lift", "lift", "ms"),
        ],
        causes,
        sortable=False,
    )
    return [chart, table, cause_table] if rows else [table]
