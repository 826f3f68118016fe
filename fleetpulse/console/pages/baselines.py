"""Baselines: the named baselines, a baseline compared with the fleet now, create and delete (admins)."""

from __future__ import annotations

from fleetpulse.console.pages import PageContext
from fleetpulse.console.widgets import Col, Form, Note, Section, Table
from fleetpulse.reports import facets
from fleetpulse.reports.params import iso


def build(ctx: PageContext) -> list[Section]:
    names = facets.baselines(ctx.reader, ctx.flt)
    out: list[Section] = [
        Table(
            "baselines",
            f"Named baselines ({len(names)}; no cap)",
            [
                Col("name", "name", link="baseline"),
                Col("period_start", "from"),
                Col("period_end", "to"),
                Col("created_at", "created"),
                Col("scopes", "metric scopes", "int"),
            ],
            names,
        )
    ]
    chosen = ctx.query.get("compare", "")
    if chosen:
        rows = facets.compare(ctx.reader, ctx.flt, chosen, ctx.settings.sink_sketch_alpha)
        out.append(
            Table(
                "compare",
                f"Baseline {chosen} vs the selected range (p50 of the daily aggregates)",
                [
                    Col("scope_type", "scope type"),
                    Col("scope", "scope"),
                    Col("metric", "metric"),
                    Col("baseline_value", "baseline", "ms"),
                    Col("current_value", "now", "ms"),
                    Col("change_pct", "change %", "ms"),
                    Col("baseline_devices", "devices (baseline)", "int"),
                ],
                rows,
            )
        )
    if ctx.is_admin:
        start, end = iso(ctx.flt.since)[:10], iso(ctx.flt.until)[:10]
        out.append(
            Form(
                "/baselines/create",
                "Create a baseline from a date range",
                [
                    ("name", "name", "text", ""),
                    ("since", "first day", "date", start),
                    ("until", "last day", "date", end),
                ],
                "Create baseline",
            )
        )
        if names:
            out.append(
                Form(
                    "/baselines/delete",
                    "Delete a baseline",
                    [("name", "name", "text", "")],
                    "Delete baseline",
                )
            )
    else:
        out.append(Note("Readers see baselines; admins create and delete them."))
    return out
