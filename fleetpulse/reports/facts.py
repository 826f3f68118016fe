"""Every per-device figure the overall score and the insights need, from ClickHouse, as plain data.

Each sub-score's inputs come from the same SQL as its own report (startup.py, apps.py, wfa.py via
census.py, resource.py, battery.py, startup_processes.py), so the overview's sub-scores equal the
reports'. Added here: app figures per version (crashes capped at 10 per device, app, version and
UTC day; the devices on each version) and the Fast Startup facts (full boots that followed a plain
``shutdownWithoutUpdate``, joined on the boot's ``boot_id``; Fast Startup resumes; the fleet median
core boot of the resumes).
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetpulse.reports import apps, battery, census, resource, startup_processes
from fleetpulse.reports.params import Filters, median_mid, render_sql, where
from fleetpulse.reports.startup import Row, device_values, fetch_devices, merge_devices, model_label
from processors import scores
from processors.insights.config import InsightsConfig
from processors.insights.overall import AppFacts, FastStartupDevice, FleetFacts, StartupFacts
from processors.insights.wfa import assess
from sinks.reader import Reader

_COLD = "t.category = 'shutdownWithoutUpdate' AND coalesce(b.boot_kind, 'full') != 'fastStartup'"
FAST_STARTUP_SQL = f"""
SELECT b.device_id AS device_id, argMax(b.dev_make, b.event_time) AS make,
    argMax(b.dev_model, b.event_time) AS model, countIf({_COLD}) AS shutdown_full_boots,
    countIf(b.boot_kind = 'fastStartup') AS fast_boots,
    {median_mid(f"if({_COLD}, b.core_boot_ms, NULL)")} AS core_boot_ms
FROM {{db}}.boot_events AS b
LEFT JOIN (
    SELECT device_id, boot_id, any(category) AS category FROM {{db}}.power_transitions
    WHERE {where()} GROUP BY device_id, boot_id
) AS t ON b.device_id = t.device_id AND b.boot_id = t.boot_id
WHERE {where("b")}
GROUP BY device_id ORDER BY device_id"""

FAST_CORE_SQL = f"""
SELECT {median_mid("core_boot_ms")} AS core_boot_ms FROM {{db}}.boot_events
WHERE {where()} AND boot_kind = 'fastStartup'"""

# the apps report's filter: range, tenant, model, OS build, and --app selecting one app
_APP_W = f"{where(app_cohort=False)} AND ({{app:String}} = '' OR app_name = {{app:String}})"

VERSION_USAGE_SQL = f"""
SELECT app_name AS app, app_version AS version, uniqExact(device_id) AS active_devices,
    groupUniqArray(device_id) AS devices,
    sum(least(user_active_duration_ms + coalesce(audio_out_ms, 0), aggregation_duration_ms)) AS usage_ms
FROM {{db}}.app_usage
WHERE {_APP_W}
GROUP BY app, version ORDER BY app, version"""

VERSION_CRASHES_SQL = f"""
SELECT app, version, sum(least(n, {apps.CRASH_CAP})) AS crashes_counted
FROM (
    SELECT app_name AS app, app_version AS version, device_id, toDate(event_time) AS day, count() AS n
    FROM {{db}}.app_crashes
    WHERE {_APP_W}
    GROUP BY app, version, device_id, day
)
GROUP BY app, version ORDER BY app, version"""


def _q(reader: Reader, sql: str, flt: Filters) -> list[Row]:
    return reader.query_json(render_sql(sql, flt.database), flt.params())


def startup_facts(reader: Reader, flt: Filters, disk: dict[str, str]) -> StartupFacts:
    boots, logons = fetch_devices(reader, flt)
    devices = merge_devices(boots, logons)
    fast = [
        FastStartupDevice(
            r["device_id"],
            model_label(r["make"], r["model"]),
            int(r["shutdown_full_boots"]),
            int(r["fast_boots"]),
            None if r["core_boot_ms"] is None else float(r["core_boot_ms"]),
        )
        for r in _q(reader, FAST_STARTUP_SQL, flt)
    ]
    fast_core = _q(reader, FAST_CORE_SQL, flt)[0]["core_boot_ms"]
    return StartupFacts(
        values=device_values(devices),
        desktop_ms={d: float(r["desktop_shown_ms"]) for d, r in devices.items() if r.get("desktop_shown_ms")},
        model={d: model_label(r["make"], r["model"]) for d, r in devices.items()},
        disk=disk,
        processes=startup_processes.fetch_processes(reader, flt),
        process_delays=startup_processes.fetch_device_delays(reader, flt),
        fast_startup=fast,
        fast_core_ms=None if fast_core is None else float(fast_core),
    )


def _figures(
    usage: Sequence[Row], crashes: Sequence[Row], key: tuple[str, ...]
) -> dict[tuple[str, ...], scores.AppFigures]:
    c = {tuple(r[k] for k in key): int(r["crashes_counted"]) for r in crashes}
    out = {}
    for r in usage:
        k = tuple(r[x] for x in key)
        out[k] = scores.AppFigures(float(r["usage_ms"]), c.get(k, 0), int(r["active_devices"]))
    for k, n in c.items():
        out.setdefault(k, scores.AppFigures(0.0, n, 0))
    return out


def app_facts(reader: Reader, flt: Filters) -> AppFacts:
    usage, crashes = _q(reader, apps.USAGE_SQL, flt), _q(reader, apps.CRASHES_SQL, flt)
    v_usage, v_crashes = _q(reader, VERSION_USAGE_SQL, flt), _q(reader, VERSION_CRASHES_SQL, flt)
    enrolled = int(_q(reader, apps.ENROLLED_SQL, flt)[0]["devices"])
    per_app = {k[0]: f for k, f in _figures(usage, crashes, ("app",)).items()}
    per_version = {(k[0], k[1]): f for k, f in _figures(v_usage, v_crashes, ("app", "version")).items()}
    return AppFacts(
        apps=per_app,
        versions=per_version,
        version_devices={(r["app"], r["version"]): tuple(sorted(r["devices"])) for r in v_usage},
        enrolled=enrolled,
    )


def fleet_facts(reader: Reader, flt: Filters, cfg: InsightsConfig) -> FleetFacts:
    """Every input of :func:`processors.insights.overall.sub_scores` and the insight rules."""
    cens = census.census_facts(census.fetch_census(reader, flt))
    return FleetFacts(
        startup=startup_facts(reader, flt, {d: c.disk_type for d, c in cens.items()}),
        apps=app_facts(reader, flt),
        wfa=[assess(c, cfg.wfa) for c in cens.values()],
        resource=resource.fetch_resource(reader, flt, cfg),
        battery=battery.fetch_battery(reader, flt, cfg),
    )
