"""Battery health: capacity and runtime scores, cycle counts, worst models and OS builds, app drain.

Source: ``battery_snapshots`` in range (filters applied). Per device: the newest snapshot's
``design_capacity_mwh``, ``full_charge_capacity_mwh`` and ``cycle_count`` (newest non-NULL);
over the discharging snapshots with a window: ``Σ energy_drained_mwh`` and ``Σ
window_duration_ms`` (the drain); ``avg(discharge_rate_mw)`` of the discharging snapshots (the
drain of agents that send no window). Scores: processors/insights/battery.py.

**App impact**: per (device, hour) the energy drained on battery (snapshots placed at the middle
of their window) is shared among the apps in focus in that hour (``app_usage``, placed at the
middle of their window) in proportion to ``in_focus_duration_ms``; ``share_pct`` = the app's
energy ÷ all energy drained in range (hours without an app in focus stay unattributed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from fleetpulse.reports.params import Filters, render_sql, where
from fleetpulse.reports.startup import Row, model_label
from processors.insights import battery
from processors.insights.common import scope_mean
from processors.insights.config import DEFAULT_INSIGHTS, InsightsConfig
from sinks.reader import Reader

_ON_BATTERY = "is_discharging AND energy_drained_mwh IS NOT NULL AND window_duration_ms IS NOT NULL"

DEVICES_SQL = f"""
SELECT device_id, argMax(dev_make, event_time) AS make, argMax(dev_model, event_time) AS model,
    argMax(os_ver, event_time) AS os_build,
    argMax(design_capacity_mwh, event_time) AS design_mwh,
    argMax(full_charge_capacity_mwh, event_time) AS full_mwh,
    argMaxIf(cycle_count, event_time, cycle_count IS NOT NULL) AS cycles,
    countIf(cycle_count IS NOT NULL) AS with_cycles,
    sumIf(energy_drained_mwh, {_ON_BATTERY}) AS drained_mwh,
    sumIf(window_duration_ms, {_ON_BATTERY}) AS on_battery_ms,
    avgIf(discharge_rate_mw, is_discharging AND discharge_rate_mw > 0) AS rate_mw
FROM {{db}}.battery_snapshots
WHERE {where()}
GROUP BY device_id ORDER BY device_id"""

_HOUR = "toStartOfHour({t} + toIntervalMillisecond(intDiv(toInt64({d}), 2)))"
APPS_SQL = f"""
WITH b AS (
    SELECT device_id, {_HOUR.format(t="event_time", d="-assumeNotNull(window_duration_ms)")} AS h,
        sum(energy_drained_mwh) AS energy
    FROM {{db}}.battery_snapshots
    WHERE {where()} AND {_ON_BATTERY} AND energy_drained_mwh > 0
    GROUP BY device_id, h
), u AS (
    SELECT device_id, {_HOUR.format(t="aggregation_start_time", d="aggregation_duration_ms")} AS h,
        app_name, sum(in_focus_duration_ms) AS focus
    FROM {{db}}.app_usage
    WHERE {where()} AND in_focus_duration_ms > 0
    GROUP BY device_id, h, app_name
), t AS (SELECT device_id, h, sum(focus) AS all_focus FROM u GROUP BY device_id, h)
SELECT u.app_name AS app, sum(b.energy * u.focus / t.all_focus) AS energy_mwh,
    uniqExact(u.device_id) AS devices
FROM u INNER JOIN t ON u.device_id = t.device_id AND u.h = t.h
    INNER JOIN b ON u.device_id = b.device_id AND u.h = b.h
GROUP BY app ORDER BY energy_mwh DESC, app"""

TOTAL_SQL = f"""
SELECT sum(energy_drained_mwh) AS drained_mwh FROM {{db}}.battery_snapshots
WHERE {where()} AND {_ON_BATTERY} AND energy_drained_mwh > 0"""


def devices(rows: Sequence[Row]) -> list[battery.DeviceBattery]:
    return [
        battery.DeviceBattery(
            device_id=r["device_id"],
            model=model_label(r["make"], r["model"]),
            os_build=r["os_build"],
            design_mwh=float(r["design_mwh"]),
            full_mwh=float(r["full_mwh"]),
            cycle_count=int(r["cycles"]) if r["with_cycles"] else None,
            drained_mwh=float(r["drained_mwh"] or 0),
            on_battery_ms=float(r["on_battery_ms"] or 0),
            rate_mw=None if r["rate_mw"] is None else float(r["rate_mw"]),
        )
        for r in rows
    ]


def fetch_battery(reader: Reader, flt: Filters, cfg: InsightsConfig) -> list[battery.BatteryHealth]:
    rows = reader.query_json(render_sql(DEVICES_SQL, flt.database), flt.params())
    return battery.healths(devices(rows), cfg.battery)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def shape_battery(
    flt: Filters,
    healths: Sequence[battery.BatteryHealth],
    apps: Sequence[Row],
    drained: float,
    cfg: InsightsConfig,
) -> Row:
    bc = cfg.battery
    runtimes = [h.runtime_hours for h in healths if h.runtime_hours is not None]
    impact = battery.app_impact(
        ((r["app"], float(r["energy_mwh"]), int(r["devices"])) for r in apps), drained
    )
    return {
        "report": "battery",
        "filters": flt.describe(),
        "min_devices": bc.min_devices,
        "replace_below_pct": bc.replace_below_pct,
        "impacted_below_pct": bc.impacted_below_pct,
        "devices": len(healths),
        "score": battery.fleet_score(healths, bc),
        "capacity_score": scope_mean([h.capacity_score for h in healths], bc.min_devices),
        "runtime_score": scope_mean(
            [h.runtime_score for h in healths if h.runtime_score is not None], bc.min_devices
        ),
        "mean_capacity_pct": _mean([h.capacity_pct for h in healths]),
        "mean_runtime_hours": _mean(runtimes),
        "mean_cycle_count": _mean([float(h.cycle_count) for h in healths if h.cycle_count is not None]),
        "most_impacted": sum(h.capacity_pct < bc.replace_below_pct for h in healths),
        "moderately_impacted": sum(
            bc.replace_below_pct <= h.capacity_pct < bc.impacted_below_pct for h in healths
        ),
        "models": [asdict(g) for g in battery.grouped(healths, lambda h: h.model, bc)][: flt.limit],
        "os_builds": [asdict(g) for g in battery.grouped(healths, lambda h: h.os_build, bc)][: flt.limit],
        "apps": [asdict(a) for a in impact][: flt.limit],
        "energy_drained_mwh": drained,
        "devices_worst": [asdict(h) for h in sorted(healths, key=lambda h: (h.score, h.device_id))][
            : flt.limit
        ],
    }


def battery_report(reader: Reader, flt: Filters, cfg: InsightsConfig = DEFAULT_INSIGHTS) -> Row:
    params, db = flt.params(), flt.database
    healths = fetch_battery(reader, flt, cfg)
    apps = reader.query_json(render_sql(APPS_SQL, db), params)
    drained = float(reader.query_json(render_sql(TOTAL_SQL, db), params)[0]["drained_mwh"] or 0)
    return shape_battery(flt, healths, apps, drained, cfg)
