"""Startup processes: processes delaying the responsive desktop, per name, publisher and version.

Source: kept ``logon_events`` (EA's sign-in exclusions) in range with their
``top_startup_processes``; per listed process and sign-in ``delay = responsive_desktop_ms ×
cpu_percent / 100`` (``responsive_desktop_ms`` absent: ``total_logon_ms − desktop_shown_ms``;
processors/insights/startup_processes.py). Per process: ``devices`` (distinct), ``signins``,
``median_delay_ms`` (exact median over its sign-ins), ``total_delay_ms`` (Σ), mean CPU %; listed
when ``devices ≥ min_devices`` (10). ``publishers`` rolls the listed processes up by publisher.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetpulse.reports.params import Filters, median_mid, render_sql, where
from fleetpulse.reports.startup import LOGON_KEPT, Row
from processors.insights.config import DEFAULT_INSIGHTS, InsightsConfig
from processors.insights.startup_processes import ProcessImpact, ProcessKey, listed
from sinks.reader import Reader

_RESPONSIVE = (
    "toFloat64(coalesce(responsive_desktop_ms,"
    " greatest(toInt64(total_logon_ms) - toInt64(desktop_shown_ms), 0)))"
)
_DELAYS = f"""
    SELECT device_id, tupleElement(p, 'name') AS name, tupleElement(p, 'publisher') AS publisher,
        tupleElement(p, 'version') AS version, tupleElement(p, 'cpu_percent') AS cpu,
        {_RESPONSIVE} * tupleElement(p, 'cpu_percent') / 100 AS delay
    FROM {{db}}.logon_events ARRAY JOIN top_startup_processes AS p
    WHERE {where()} AND {LOGON_KEPT}
      AND (responsive_desktop_ms IS NOT NULL OR total_logon_ms IS NOT NULL)"""

PROCESSES_SQL = f"""
SELECT name, publisher, version, uniqExact(device_id) AS devices, count() AS signins,
    {median_mid("delay")} AS median_delay_ms, sum(delay) AS total_delay_ms, avg(cpu) AS mean_cpu_percent
FROM ({_DELAYS})
GROUP BY name, publisher, version
ORDER BY total_delay_ms DESC, name, publisher, version"""

DEVICE_DELAYS_SQL = f"""
SELECT device_id, name, publisher, version, {median_mid("delay")} AS delay_ms
FROM ({_DELAYS})
GROUP BY device_id, name, publisher, version
ORDER BY device_id, name, publisher, version"""

PUBLISHERS_SQL = f"""
SELECT publisher, uniqExact(name, version) AS processes, uniqExact(device_id) AS devices,
    count() AS signins, sum(delay) AS total_delay_ms
FROM ({_DELAYS})
WHERE concat(name, char(31), publisher, char(31), version) IN {{listed:Array(String)}}
GROUP BY publisher
ORDER BY total_delay_ms DESC, publisher"""


def impacts(rows: Sequence[Row]) -> list[ProcessImpact]:
    return [
        ProcessImpact(
            r["name"],
            r["publisher"],
            r["version"],
            int(r["devices"]),
            int(r["signins"]),
            float(r["median_delay_ms"]),
            float(r["total_delay_ms"]),
            float(r["mean_cpu_percent"]),
        )
        for r in rows
    ]


def fetch_processes(reader: Reader, flt: Filters) -> list[ProcessImpact]:
    return impacts(reader.query_json(render_sql(PROCESSES_SQL, flt.database), flt.params()))


def fetch_device_delays(reader: Reader, flt: Filters) -> dict[str, dict[ProcessKey, float]]:
    """``device -> (name, publisher, version) -> median delay`` over the device's sign-ins."""
    out: dict[str, dict[ProcessKey, float]] = {}
    for r in reader.query_json(render_sql(DEVICE_DELAYS_SQL, flt.database), flt.params()):
        out.setdefault(r["device_id"], {})[(r["name"], r["publisher"], r["version"])] = float(r["delay_ms"])
    return out


def shape_startup_processes(
    flt: Filters, processes: Sequence[ProcessImpact], publishers: Sequence[Row], cfg: InsightsConfig
) -> Row:
    shown = listed(processes, cfg.startup_processes)
    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "publisher": p.publisher,
            "version": p.version,
            "devices": p.devices,
            "signins": p.signins,
            "median_delay_ms": p.median_delay_ms,
            "total_delay_ms": p.total_delay_ms,
            "mean_cpu_percent": p.mean_cpu_percent,
        }
        for p in shown
    ]
    return {
        "report": "startup-processes",
        "filters": flt.describe(),
        "min_devices": cfg.startup_processes.min_devices,
        "processes_listed": len(shown),
        "processes_below_min_devices": len(processes) - len(shown),
        "processes": rows[: flt.limit],
        "publishers": [dict(r) for r in publishers[: flt.limit]],
    }


def startup_processes_report(reader: Reader, flt: Filters, cfg: InsightsConfig = DEFAULT_INSIGHTS) -> Row:
    processes = fetch_processes(reader, flt)
    keys = ["\x1f".join(p.key) for p in listed(processes, cfg.startup_processes)]
    params = {**flt.params(), "listed": keys}
    publishers = reader.query_json(render_sql(PUBLISHERS_SQL, flt.database), params) if keys else []
    return shape_startup_processes(flt, processes, publishers, cfg)
