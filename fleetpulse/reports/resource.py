"""Resource performance: CPU and RAM spike-time %, the score per device and model, the daily trend.

Source: ``resource_usage`` in range (filters applied): per device ``Σ usage_duration_ms``,
``Σ cpu_spike_ms``, ``Σ ram_spike_ms``; scores by processors/insights/resource.py (a device needs
``min_usage_hours`` of usage). The device's CPU, cores, RAM and disk come from its newest census
(fleetpulse/reports/census.py). ``daily`` = per UTC day of ``window_start`` the fleet's
``Σ spike / Σ usage`` for CPU and RAM (usage-weighted, like EA's daily trend).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict

from fleetpulse.reports.census import CENSUS_SQL, census_facts
from fleetpulse.reports.params import Filters, render_sql, where
from fleetpulse.reports.startup import Row, model_label
from processors.insights import resource
from processors.insights.common import scope_mean
from processors.insights.config import DEFAULT_INSIGHTS, InsightsConfig
from processors.insights.wfa import CensusFacts
from sinks.reader import Reader

DEVICES_SQL = f"""
SELECT device_id, argMax(dev_make, event_time) AS make, argMax(dev_model, event_time) AS model,
    sum(usage_duration_ms) AS usage_ms, sum(cpu_spike_ms) AS cpu_spike_ms, sum(ram_spike_ms) AS ram_spike_ms,
    count() AS windows
FROM {{db}}.resource_usage
WHERE {where()}
GROUP BY device_id ORDER BY device_id"""

DAILY_SQL = f"""
SELECT toDate(window_start) AS day, uniqExact(device_id) AS devices,
    if(sum(usage_duration_ms) = 0, NULL, 100 * sum(cpu_spike_ms) / sum(usage_duration_ms)) AS cpu_spike_pct,
    if(sum(usage_duration_ms) = 0, NULL, 100 * sum(ram_spike_ms) / sum(usage_duration_ms)) AS ram_spike_pct
FROM {{db}}.resource_usage
WHERE {where()}
GROUP BY day ORDER BY day"""


def usage(rows: Sequence[Row]) -> list[resource.DeviceUsage]:
    return [
        resource.DeviceUsage(
            r["device_id"],
            model_label(r["make"], r["model"]),
            float(r["usage_ms"]),
            float(r["cpu_spike_ms"]),
            float(r["ram_spike_ms"]),
        )
        for r in rows
    ]


def fetch_resource(reader: Reader, flt: Filters, cfg: InsightsConfig) -> list[resource.DeviceResource]:
    rows = reader.query_json(render_sql(DEVICES_SQL, flt.database), flt.params())
    return resource.score_devices(usage(rows), cfg.resource)


def _device_row(d: resource.DeviceResource, c: CensusFacts | None) -> Row:
    row = asdict(d)
    row.update(
        processor=c.processor if c else None,
        ram_mb=c.ram_mb if c else None,
        disk_type=c.disk_type if c else None,
    )
    return row


def shape_resource(
    flt: Filters,
    devices: Sequence[resource.DeviceResource],
    measured: int,
    daily: Sequence[Row],
    census: Mapping[str, CensusFacts],
    cfg: InsightsConfig,
) -> Row:
    rc = cfg.resource
    worst = sorted(devices, key=lambda d: (d.score, d.device_id))
    return {
        "report": "resource",
        "filters": flt.describe(),
        "min_devices": rc.min_devices,
        "devices": measured,
        "scored_devices": len(devices),
        "score": resource.fleet_score(devices, rc),
        "cpu_score": scope_mean([d.cpu_score for d in devices], rc.min_devices),
        "ram_score": scope_mean([d.ram_score for d in devices], rc.min_devices),
        "cpu_spike_pct": sum(d.cpu_spike_pct for d in devices) / len(devices) if devices else None,
        "ram_spike_pct": sum(d.ram_spike_pct for d in devices) / len(devices) if devices else None,
        "models": [asdict(m) for m in resource.by_model(devices, rc)][: flt.limit],
        "devices_worst": [_device_row(d, census.get(d.device_id)) for d in worst[: flt.limit]],
        "daily": [dict(r) for r in daily],
    }


def resource_report(reader: Reader, flt: Filters, cfg: InsightsConfig = DEFAULT_INSIGHTS) -> Row:
    params, db = flt.params(), flt.database
    rows = reader.query_json(render_sql(DEVICES_SQL, db), params)
    devices = resource.score_devices(usage(rows), cfg.resource)
    daily = reader.query_json(render_sql(DAILY_SQL, db), params)
    census = census_facts(reader.query_json(render_sql(CENSUS_SQL, db), params))
    return shape_resource(flt, devices, len(rows), daily, census, cfg)
