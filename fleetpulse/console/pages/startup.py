"""Startup performance: scores, boot and sign-in phases, models, devices (sortable, paged), processes."""

from __future__ import annotations

import dataclasses

from fleetpulse.console import charts
from fleetpulse.console.pages import PageContext
from fleetpulse.console.pages.common import score_tile
from fleetpulse.console.widgets import Chart, Col, Section, Table, Tiles, with_params
from fleetpulse.reports import breakdowns, devices, models, startup

ALL_ROWS = 100_000  # the tables page on the server; the builders return every row


def _s(v: float | None) -> float | None:
    return None if v is None else v / 1000.0


def build(ctx: PageContext) -> list[Section]:
    flt = dataclasses.replace(ctx.flt, limit=ALL_ROWS)
    st = startup.startup_report(ctx.reader, flt)
    md = models.models_report(ctx.reader, flt)
    dv = devices.devices_report(ctx.reader, flt)
    procs = breakdowns.startup_processes(ctx.reader, flt)
    s = st["scores"]
    tiles = Tiles(
        [
            score_tile("Startup score", s["startup_score"], f"{st['devices']} devices"),
            score_tile("Boot score", s["boot_score"], f"{s['boot_devices']} devices · {st['boots']} boots"),
            score_tile(
                "Sign-in score",
                s["signin_score"],
                f"{s['signin_devices']} devices · {st['signins']} sign-ins",
            ),
        ]
    )
    phases = Table(
        "phases",
        "Boot and sign-in phases",
        [
            Col("label", "phase"),
            Col("p50", "median s", "secs"),
            Col("p90", "p90 s", "secs"),
            Col("count", "events", "int"),
            Col("devices", "devices", "int"),
        ],
        st["metrics"],
        sortable=False,
        note=f"{st['boots_fast_startup']} Fast Startup boots and {st['signins_excluded']} first or "
        "after-feature-update sign-ins are counted, not measured.",
    )
    ms = md["models"][:15]
    names = [m["model"] for m in ms]
    model_chart = Chart(
        "model-phases",
        "Median core boot and core sign-in by model (click a bar to filter by the model)",
        charts.bars(
            names,
            [
                ("core boot p50", [_s(m["core_boot_ms_p50"]) for m in ms]),
                ("core sign-in p50", [_s(m["core_logon_ms_p50"]) for m in ms]),
            ],
            unit="s",
        ),
        links=[f"/startup?{with_params(ctx.query, model=n)}" for n in names],
        height=max(240, 36 * len(names) + 60),
    )
    model_table = Table(
        "models",
        "Model performance (worst first)",
        [
            Col("model", "model", link="model"),
            Col("devices", "devices", "int"),
            Col("startup_score", "startup", "score"),
            Col("boot_score", "boot", "score"),
            Col("signin_score", "sign-in", "score"),
            Col("core_boot_ms_p50", "core boot p50 s", "secs"),
            Col("core_boot_ms_p90", "core boot p90 s", "secs"),
            Col("core_logon_ms_p50", "core sign-in p50 s", "secs"),
            Col("total_logon_ms_p50", "responsive p50 s", "secs"),
        ],
        md["models"],
    )
    device_table = Table(
        "devices",
        f"Device performance ({dv['total_devices']} devices; slowest core boot first)",
        [
            Col("device_id", "device", link="device"),
            Col("model", "model"),
            Col("os_build", "OS build"),
            Col("boots", "boots", "int"),
            Col("core_boot_ms", "core boot s", "secs"),
            Col("gp_boot_ms", "GP boot s", "secs"),
            Col("total_boot_ms", "total boot s", "secs"),
            Col("signins", "sign-ins", "int"),
            Col("core_logon_ms", "core sign-in s", "secs"),
            Col("gp_logon_ms", "GP sign-in s", "secs"),
            Col("total_logon_ms", "responsive s", "secs"),
            Col("boot_score", "boot score", "score"),
            Col("signin_score", "sign-in score", "score"),
        ],
        dv["devices"],
        page_size=20,
    )
    proc_table = Table(
        "processes",
        "Startup processes (listed at sign-in; most devices first)",
        [
            Col("process", "process"),
            Col("publisher", "publisher"),
            Col("devices", "devices", "int"),
            Col("signins", "sign-ins", "int"),
            Col("median_cpu_percent", "median CPU %", "ms"),
            Col("median_responsive_ms", "median responsive desktop s", "secs"),
        ],
        procs,
        page_size=15,
    )
    return [tiles, phases, model_chart, model_table, device_table, proc_table]
