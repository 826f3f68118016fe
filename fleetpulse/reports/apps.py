"""App reliability: top crashing apps with crashes, hangs, active devices, usage, MTTF and score.

Sources (raw, in range, model / OS-build filters applied; ``--app`` selects one app):

* ``app_usage``: ``active_devices`` = distinct devices with usage of the app;
  ``usage_ms`` = Σ min(``user_active_duration_ms`` + ``audio_out_ms``, ``aggregation_duration_ms``).
* ``app_crashes``: ``crashes`` = reports; ``crashes_counted`` = Σ over (device, UTC day) of
  min(crashes, 10) (EA's cap); ``crash_devices`` = distinct devices with a crash.
* ``app_hangs``: ``hangs`` = reports.
* ``mttf_hours`` = usage hours ÷ ``crashes_counted`` (``None`` without crash); ``score`` =
  processors/scores.py ``app_score`` (``None`` below max(5, 2 % of enrolled) active devices);
  ``enrolled`` = distinct devices with any boot, sign-in or app-usage row in range. The fleet
  score is ``fleet_app_score``: the usage-weighted mean of the scored apps.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetpulse.reports.params import Filters, active_devices_sql, render_sql, where
from fleetpulse.reports.startup import Row
from processors import scores
from sinks.reader import Reader

CRASH_CAP = 10
_APP = "({app:String} = '' OR app_name = {app:String})"
_W = f"{where(app_cohort=False)} AND {_APP}"

USAGE_SQL = f"""
SELECT app_name AS app, uniqExact(device_id) AS active_devices,
    sum(least(user_active_duration_ms + coalesce(audio_out_ms, 0), aggregation_duration_ms)) AS usage_ms
FROM {{db}}.app_usage
WHERE {_W}
GROUP BY app ORDER BY app"""

CRASHES_SQL = f"""
SELECT app, sum(n) AS crashes, sum(least(n, {CRASH_CAP})) AS crashes_counted,
    uniqExact(device_id) AS crash_devices
FROM (
    SELECT app_name AS app, device_id, toDate(event_time) AS day, count() AS n
    FROM {{db}}.app_crashes
    WHERE {_W}
    GROUP BY app, device_id, day
)
GROUP BY app ORDER BY app"""

HANGS_SQL = f"""
SELECT app_name AS app, count() AS hangs
FROM {{db}}.app_hangs
WHERE {_W}
GROUP BY app ORDER BY app"""

ENROLLED_SQL = active_devices_sql(("boot_events", "logon_events", "app_usage"))


def shape_apps(
    flt: Filters,
    usage: Sequence[Row],
    crashes: Sequence[Row],
    hangs: Sequence[Row],
    enrolled: int,
    cfg: scores.ScoreConfig = scores.DEFAULT_SCORES,
) -> Row:
    """The apps report: every app's figures, the top ``limit`` by crashes, and the fleet score."""
    u = {r["app"]: r for r in usage}
    c = {r["app"]: r for r in crashes}
    h = {r["app"]: r for r in hangs}
    rows: list[Row] = []
    figures: dict[str, scores.AppFigures] = {}
    for app in sorted(set(u) | set(c) | set(h)):
        usage_ms = int(u.get(app, {}).get("usage_ms", 0))
        active = int(u.get(app, {}).get("active_devices", 0))
        counted = int(c.get(app, {}).get("crashes_counted", 0))
        figures[app] = scores.AppFigures(usage_ms=usage_ms, crashes=counted, active_devices=active)
        rows.append(
            {
                "app": app,
                "crashes": int(c.get(app, {}).get("crashes", 0)),
                "crashes_counted": counted,
                "crash_devices": int(c.get(app, {}).get("crash_devices", 0)),
                "hangs": int(h.get(app, {}).get("hangs", 0)),
                "active_devices": active,
                "usage_hours": usage_ms / 3_600_000.0,
                "mttf_hours": scores.mttf_hours(usage_ms, counted),
                "score": scores.app_score(usage_ms, counted, active, enrolled, cfg),
            }
        )
    rows.sort(key=lambda r: (-r["crashes"], -r["hangs"], -r["usage_hours"], r["app"]))
    return {
        "report": "apps",
        "filters": flt.describe(),
        "enrolled_devices": enrolled,
        "apps_total": len(rows),
        "app_reliability_score": scores.fleet_app_score(figures, enrolled, cfg),
        "apps": rows[: flt.limit],
    }


def apps_report(reader: Reader, flt: Filters, cfg: scores.ScoreConfig = scores.DEFAULT_SCORES) -> Row:
    params, db = flt.params(), flt.database
    usage = reader.query_json(render_sql(USAGE_SQL, db), params)
    crashes = reader.query_json(render_sql(CRASHES_SQL, db), params)
    hangs = reader.query_json(render_sql(HANGS_SQL, db), params)
    enrolled = int(reader.query_json(render_sql(ENROLLED_SQL, db), params)[0]["devices"])
    return shape_apps(flt, usage, crashes, hangs, enrolled, cfg)
