"""One device: census, scores against the fleet, per-app reliability, and its timeline.

``fleetpulse report device ID`` and the console's device page. Sources (raw, in range):

* ``census``: the device's latest census row before ``until`` (every column, plus its groups);
* scores: the startup report's per-device medians (:func:`startup.fetch_devices`) over the fleet
  in range with the report's filters; the device's boot / sign-in / startup score is
  processors/scores.py ``device_score`` of its medians, the fleet's the startup report's
  :func:`startup.score_block`; ``metrics[]`` puts the device's median of each phase beside the
  fleet's p50 (the startup report's figure);
* ``apps[]``: per app the device's usage hours (as in the apps report), crash and hang reports;
* ``timeline[]``: boots, sign-ins, restarts (``power_transitions``), Stop errors, app crashes,
  hangs and configuration changes, newest first, at most :data:`TIMELINE_LIMIT`; ``counts``
  holds the exact number of each kind in range (not capped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from fleetpulse.reports.params import GROUPS, Filters, render_sql
from fleetpulse.reports.startup import (
    METRICS,
    Row,
    device_values,
    fetch_devices,
    fetch_percentiles,
    merge_devices,
    model_label,
    score_block,
)
from processors import scores
from sinks.reader import Reader

TIMELINE_LIMIT = 2000
KINDS = ("boot", "signin", "restart", "stop_error", "crash", "hang", "config")
_DEV = (
    "device_id = {device:String} AND ({tenant:String} = '' OR tenant = {tenant:String})"
    " AND event_time >= {since:DateTime64(3)} AND event_time < {until:DateTime64(3)}"
)
_MS = "CAST({} AS Nullable(Float64))"

CENSUS_COLUMNS = (
    "oem_manufacturer_name", "oem_model_number", "oem_model_sku", "chassis_type", "firmware_type",
    "firmware_version", "os_edition", "os_build", "processor_model", "processor_physical_cores",
    "processor_logical_cores", "total_physical_ram_mb", "primary_disk_total_capacity_mb",
    "primary_disk_media_type", "tpm_version_major", "has_battery", "secure_boot_enabled", "machine_type",
    "battery_design_capacity_mwh", "battery_full_charge_capacity_mwh", "battery_cycle_count",
)  # fmt: skip

CENSUS_SQL = (
    "SELECT count() AS census_rows, toString(max(event_time)) AS census_time, "
    + ", ".join(f"argMax({c}, event_time) AS c_{c}" for c in CENSUS_COLUMNS)  # c_: no alias clash
    + ", "
    + ", ".join(f"{expr} AS group_{k}" for k, expr in GROUPS.items())
    + " FROM {db}.census WHERE device_id = {device:String}"
    " AND ({tenant:String} = '' OR tenant = {tenant:String}) AND event_time < {until:DateTime64(3)}"
)

_TIMELINE_PARTS = (
    "SELECT event_time, 'boot' AS kind, if(coalesce(boot_kind, 'full') = 'fastStartup', 'Fast Startup', "
    f"'full boot') AS title, {_MS.format('core_boot_ms')} AS ms, concat('total ', toString(total_boot_ms), "
    "' ms, GP ', ifNull(toString(gp_boot_ms), '-'), ' ms', if(is_reboot_after_update, ', after update', ''))"
    " AS detail FROM {db}.boot_events WHERE " + _DEV,
    "SELECT event_time, 'signin', if(is_first_logon_for_user OR is_after_feature_update, "
    f"'sign-in (excluded)', 'sign-in'), {_MS.format('core_logon_ms')}, concat(user_type, ', responsive ', "
    "ifNull(toString(total_logon_ms), '-'), ' ms') FROM {db}.logon_events WHERE " + _DEV,
    f"SELECT event_time, 'restart', category, {_MS.format('shutdown_ms')}, if(is_abnormal, 'abnormal', '')"
    " FROM {db}.power_transitions WHERE " + _DEV,
    f"SELECT event_time, 'stop_error', bug_check_code, {_MS.format('NULL')}, concat(ifNull(faulting_module, "
    "''), if(fault_bucket IS NULL, '', concat(' ', fault_bucket))) FROM {db}.stop_errors WHERE " + _DEV,
    f"SELECT event_time, 'crash', app_name, {_MS.format('NULL')}, concat(app_version, ' ', mod_name, ' ', "
    "exception_code) FROM {db}.app_crashes WHERE " + _DEV,
    f"SELECT event_time, 'hang', app_name, {_MS.format('hang_duration_ms')}, app_version"
    " FROM {db}.app_hangs WHERE " + _DEV,
    f"SELECT event_time, 'config', change_name, {_MS.format('NULL')}, concat(change_type, ' ', "
    "ifNull(from_version, ''), if(to_version IS NULL, '', concat(' -> ', to_version)))"
    " FROM {db}.config_changes WHERE " + _DEV,
)
_TIMELINE_UNION = " UNION ALL ".join(_TIMELINE_PARTS)
TIMELINE_SQL = (
    "SELECT toString(event_time) AS time, kind, title, ms, detail FROM ("
    + _TIMELINE_UNION
    + f") ORDER BY event_time DESC, kind LIMIT {TIMELINE_LIMIT}"
)
COUNTS_SQL = "SELECT kind, count() AS n FROM (" + _TIMELINE_UNION + ") GROUP BY kind ORDER BY kind"

APPS_SQL = (
    "SELECT app, sum(usage_ms) AS usage_ms, sum(crashes) AS crashes, sum(hangs) AS hangs FROM ("
    "SELECT app_name AS app, toUInt64(least(user_active_duration_ms + coalesce(audio_out_ms, 0), "
    "aggregation_duration_ms)) AS usage_ms, toUInt64(0) AS crashes, toUInt64(0) AS hangs "
    "FROM {db}.app_usage WHERE " + _DEV + " UNION ALL "
    "SELECT app_name, toUInt64(0), toUInt64(1), toUInt64(0) FROM {db}.app_crashes WHERE "
    + _DEV
    + " UNION ALL "
    "SELECT app_name, toUInt64(0), toUInt64(0), toUInt64(1) FROM {db}.app_hangs WHERE " + _DEV + ") "
    "GROUP BY app ORDER BY crashes DESC, hangs DESC, usage_ms DESC, app"
)


def _census(rows: Sequence[Row]) -> Row | None:
    if not rows or not int(rows[0]["census_rows"]):
        return None
    return {k.removeprefix("c_"): v for k, v in rows[0].items() if k != "census_rows"}


def shape_device(
    flt: Filters,
    device_id: str,
    census: Sequence[Row],
    boot_pct: Sequence[Row],
    logon_pct: Sequence[Row],
    boot_dev: Sequence[Row],
    logon_dev: Sequence[Row],
    apps: Sequence[Row],
    timeline: Sequence[Row],
    counts: Sequence[Row],
    cfg: scores.ScoreConfig = scores.DEFAULT_SCORES,
) -> Row:
    """The device document; ``found`` is false when the device has no census and no event in range."""
    fleet = merge_devices(boot_dev, logon_dev)
    values = device_values(fleet)
    mine = fleet.get(device_id)
    own = values.get(device_id, {})
    boot, signin = (scores.device_score(own, w, cfg) for w in (cfg.boot_weights, cfg.signin_weights))
    # one device's startup score: the same weighting, its own boot and sign-in scores (no 5-device floor)
    startup = scores.startup_score({device_id: own}, dataclasses.replace(cfg, min_devices=1))
    fleet_pct = {"boot": boot_pct[0] if boot_pct else {}, "sign-in": logon_pct[0] if logon_pct else {}}
    by_kind = {r["kind"]: int(r["n"]) for r in counts}
    cen = _census(census)
    return {
        "report": "device",
        "filters": flt.describe(),
        "device_id": device_id,
        "found": bool(cen or mine or timeline),
        "model": model_label(mine["make"], mine["model"]) if mine else None,
        "os_build": mine["os_build"] if mine else None,
        "census": cen,
        "scores": {
            "device": {"boot_score": boot, "signin_score": signin, "startup_score": startup},
            "fleet": score_block(values, cfg),
            "fleet_devices": len(fleet),
        },
        "metrics": [
            {
                "metric": m,
                "label": label,
                "phase": phase,
                "device_median": mine.get(m) if mine else None,
                "fleet_p50": fleet_pct[phase].get(f"{m}_p50"),
            }
            for m, label, phase in METRICS
        ],
        "counts": {k: by_kind.get(k, 0) for k in KINDS},
        "apps": [
            {
                "app": r["app"],
                "usage_hours": int(r["usage_ms"]) / 3_600_000.0,
                "crashes": int(r["crashes"]),
                "hangs": int(r["hangs"]),
            }
            for r in apps
        ],
        "timeline": [dict(r) for r in timeline],
        "timeline_truncated": sum(by_kind.values()) > len(timeline),
    }


def device_report(
    reader: Reader, flt: Filters, device_id: str, cfg: scores.ScoreConfig = scores.DEFAULT_SCORES
) -> Row:
    params, db = {**flt.params(), "device": device_id}, flt.database
    census = reader.query_json(render_sql(CENSUS_SQL, db), params)
    boot_pct, logon_pct = fetch_percentiles(reader, flt)
    boot_dev, logon_dev = fetch_devices(reader, flt)
    apps = reader.query_json(render_sql(APPS_SQL, db), params)
    timeline = reader.query_json(render_sql(TIMELINE_SQL, db), params)
    counts = reader.query_json(render_sql(COUNTS_SQL, db), params)
    return shape_device(
        flt, device_id, census, boot_pct, logon_pct, boot_dev, logon_dev, apps, timeline, counts, cfg
    )
