"""Tables behind the console's tabs: per device, per app version / model / OS build, per driver.

Same sources, filters and formulas as the reports they extend (docs/reports.md):

* ``restart_devices``: per device restarts (``power_transitions``), abnormal ones, Stop errors;
* ``stop_errors_by``: Stop errors and devices per model (``make/model``) or per faulting module;
* ``app_breakdown``: per app version / model / OS build: active devices, usage hours, crashes,
  counted crashes (≤ 10 per app, device and UTC day), crash devices, hangs, MTTF (usage hours ÷
  counted crashes), crashes per active device;
* ``app_devices``: per device usage hours, crashes and hangs over every app (``--app``: that app);
* ``startup_processes``: per process of ``logon_events.top_startup_processes`` (kept sign-ins):
  devices, sign-ins listing it, median CPU % and the median time to responsive desktop of those
  sign-ins (exact medians, ``quantileExact``).
"""

from __future__ import annotations

from fleetpulse.reports.apps import CRASH_CAP
from fleetpulse.reports.params import Filters, model_key, render_sql, where
from fleetpulse.reports.startup import LOGON_KEPT, Row
from processors import scores
from sinks.reader import Reader

_APP = "({app:String} = '' OR app_name = {app:String})"
_W_APP = f"{where(app_cohort=False)} AND {_APP}"

RESTART_DEVICES_SQL = f"""
SELECT device_id, argMax(m, t) AS model, sum(r) AS restarts, sum(a) AS abnormal, sum(s) AS stop_errors FROM (
    SELECT device_id, event_time AS t, {model_key()} AS m, toUInt64(1) AS r,
        toUInt64(is_abnormal) AS a, toUInt64(0) AS s
    FROM {{db}}.power_transitions WHERE {where()}
    UNION ALL
    SELECT device_id, event_time, {model_key()}, toUInt64(0), toUInt64(0), toUInt64(1)
    FROM {{db}}.stop_errors WHERE {where()}
) GROUP BY device_id ORDER BY stop_errors DESC, abnormal DESC, restarts DESC, device_id"""

STOP_KEYS = {"model": model_key(), "driver": "ifNull(faulting_module, '(unknown)')"}


def _stop_by_sql(key: str) -> str:
    return f"""
SELECT {STOP_KEYS[key]} AS {key}, count() AS stop_errors, uniqExact(device_id) AS devices
FROM {{db}}.stop_errors WHERE {where()}
GROUP BY {key} ORDER BY stop_errors DESC, {key}"""


APP_KEYS = {
    "version": "concat(app_name, ' ', app_version)",
    "model": model_key(),
    "os_build": "os_ver",
}


def _app_breakdown_sql(dim: str) -> str:
    key = APP_KEYS[dim]
    return f"""
SELECT k AS {dim}, uniqExactIf(device_id, x_u = 1) AS active_devices, sum(x_usage) AS usage_ms,
    sum(x_crashes) AS crashes, sum(x_counted) AS crashes_counted,
    uniqExactIf(device_id, x_crashes > 0) AS crash_devices, sum(x_hangs) AS hangs
FROM (
    SELECT {key} AS k, device_id, toUInt8(1) AS x_u, toUInt64(least(user_active_duration_ms
        + coalesce(audio_out_ms, 0), aggregation_duration_ms)) AS x_usage, toUInt64(0) AS x_crashes,
        toUInt64(0) AS x_counted, toUInt64(0) AS x_hangs
    FROM {{db}}.app_usage WHERE {_W_APP}
    UNION ALL
    SELECT k, device_id, toUInt8(0), toUInt64(0), toUInt64(n), toUInt64(least(n, {CRASH_CAP})), toUInt64(0)
    FROM (SELECT {key} AS k, app_name, device_id, toDate(event_time) AS day, count() AS n
          FROM {{db}}.app_crashes WHERE {_W_APP} GROUP BY k, app_name, device_id, day)
    UNION ALL
    SELECT {key}, device_id, toUInt8(0), toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(1)
    FROM {{db}}.app_hangs WHERE {_W_APP}
) GROUP BY k ORDER BY crashes DESC, hangs DESC, usage_ms DESC, k"""


APP_DEVICES_SQL = f"""
SELECT device_id, argMax(m, t) AS model, sum(x_usage) AS usage_ms, sum(c) AS crashes, sum(h) AS hangs FROM (
    SELECT device_id, event_time AS t, {model_key()} AS m, toUInt64(least(user_active_duration_ms
        + coalesce(audio_out_ms, 0), aggregation_duration_ms)) AS x_usage, toUInt64(0) AS c, toUInt64(0) AS h
    FROM {{db}}.app_usage WHERE {_W_APP}
    UNION ALL
    SELECT device_id, event_time, {model_key()}, toUInt64(0), toUInt64(1), toUInt64(0)
    FROM {{db}}.app_crashes WHERE {_W_APP}
    UNION ALL
    SELECT device_id, event_time, {model_key()}, toUInt64(0), toUInt64(0), toUInt64(1)
    FROM {{db}}.app_hangs WHERE {_W_APP}
) GROUP BY device_id ORDER BY crashes DESC, hangs DESC, usage_ms DESC, device_id"""

STARTUP_PROCESSES_SQL = f"""
SELECT p.1 AS process, p.2 AS publisher, uniqExact(device_id) AS devices, count() AS signins,
    quantileExact(0.5)(p.3) AS median_cpu_percent,
    quantileExact(0.5)(total_logon_ms) AS median_responsive_ms
FROM {{db}}.logon_events ARRAY JOIN top_startup_processes AS p
WHERE {where()} AND {LOGON_KEPT}
GROUP BY process, publisher ORDER BY devices DESC, median_responsive_ms DESC, process"""


def restart_devices(reader: Reader, flt: Filters) -> list[Row]:
    return reader.query_json(render_sql(RESTART_DEVICES_SQL, flt.database), flt.params())


def stop_errors_by(reader: Reader, flt: Filters, key: str) -> list[Row]:
    return reader.query_json(render_sql(_stop_by_sql(key), flt.database), flt.params())


def shape_breakdown(rows: list[Row]) -> list[Row]:
    """Usage in hours, MTTF and crashes per active device added to the breakdown rows."""
    out = []
    for r in rows:
        usage_ms, counted, active = int(r["usage_ms"]), int(r["crashes_counted"]), int(r["active_devices"])
        out.append(
            {
                **{k: v for k, v in r.items() if k != "usage_ms"},
                "usage_hours": usage_ms / 3_600_000.0,
                "mttf_hours": scores.mttf_hours(usage_ms, counted),
                "crashes_per_device": int(r["crashes"]) / active if active else None,
            }
        )
    return out


def app_breakdown(reader: Reader, flt: Filters, dim: str) -> list[Row]:
    return shape_breakdown(reader.query_json(render_sql(_app_breakdown_sql(dim), flt.database), flt.params()))


def app_devices(reader: Reader, flt: Filters) -> list[Row]:
    rows = reader.query_json(render_sql(APP_DEVICES_SQL, flt.database), flt.params())
    # new rows: the reader's rows may be shared (the console reuses answers), never edit them
    return [
        {**{k: v for k, v in r.items() if k != "usage_ms"}, "usage_hours": int(r["usage_ms"]) / 3_600_000.0}
        for r in rows
    ]


def startup_processes(reader: Reader, flt: Filters) -> list[Row]:
    return reader.query_json(render_sql(STARTUP_PROCESSES_SQL, flt.database), flt.params())
