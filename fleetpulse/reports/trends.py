"""Figures per UTC day: the startup scores, restarts per category, app crashes and hangs.

* ``score_trend``: for each day, the startup report's scores computed from that day's events
  only (per device the median of each scored phase that day, then processors/scores.py:
  ``boot_score``, ``signin_score``, ``startup_score``; ``None`` below 5 scored devices);
* ``restart_trend``: ``power_transitions`` rows per day and ``category``;
* ``crash_trend``: ``app_crashes`` and ``app_hangs`` reports per day.

The filters apply as in every raw-table report (params.where).
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetpulse.reports.params import Filters, median_mid, render_sql, where
from fleetpulse.reports.startup import BOOT_KEPT, LOGON_KEPT, SCORED_BOOT, SCORED_LOGON, Row
from processors import scores
from sinks.reader import Reader


def _daily_device_sql(table: str, kept: str, metrics: Sequence[str]) -> str:
    cols = ", ".join(f"{median_mid(f'if({kept}, {m}, NULL)')} AS {m}" for m in metrics)
    return (
        f"SELECT toString(toDate(event_time)) AS day, device_id, {cols} FROM {{db}}.{table} "
        f"WHERE {where()} GROUP BY day, device_id ORDER BY day, device_id"
    )


DAILY_BOOT_SQL = _daily_device_sql("boot_events", BOOT_KEPT, SCORED_BOOT)
DAILY_LOGON_SQL = _daily_device_sql("logon_events", LOGON_KEPT, SCORED_LOGON)

RESTART_TREND_SQL = f"""
SELECT toString(toDate(event_time)) AS day, category, count() AS restarts
FROM {{db}}.power_transitions WHERE {where()}
GROUP BY day, category ORDER BY day, category"""

CRASH_TREND_SQL = f"""
SELECT day, sum(c) AS crashes, sum(h) AS hangs FROM (
    SELECT toString(toDate(event_time)) AS day, toUInt64(1) AS c, toUInt64(0) AS h
    FROM {{db}}.app_crashes WHERE {where()}
    UNION ALL
    SELECT toString(toDate(event_time)), toUInt64(0), toUInt64(1) FROM {{db}}.app_hangs WHERE {where()}
) GROUP BY day ORDER BY day"""


def shape_score_trend(
    boot_rows: Sequence[Row], logon_rows: Sequence[Row], cfg: scores.ScoreConfig
) -> list[Row]:
    """One row per day: ``day``, ``boot_score``, ``signin_score``, ``startup_score``, ``devices``."""
    days: dict[str, dict[str, dict[str, float]]] = {}
    for rows, metrics in ((boot_rows, SCORED_BOOT), (logon_rows, SCORED_LOGON)):
        for r in rows:
            device = days.setdefault(r["day"], {}).setdefault(r["device_id"], {})
            device.update({m: float(r[m]) for m in metrics if r.get(m) is not None})
    return [
        {
            "day": day,
            "devices": len(values),
            "boot_score": scores.boot_score(values, cfg),
            "signin_score": scores.signin_score(values, cfg),
            "startup_score": scores.startup_score(values, cfg),
        }
        for day, values in sorted(days.items())
    ]


def score_trend(reader: Reader, flt: Filters, cfg: scores.ScoreConfig = scores.DEFAULT_SCORES) -> list[Row]:
    params, db = flt.params(), flt.database
    boots = reader.query_json(render_sql(DAILY_BOOT_SQL, db), params)
    logons = reader.query_json(render_sql(DAILY_LOGON_SQL, db), params)
    return shape_score_trend(boots, logons, cfg)


def restart_trend(reader: Reader, flt: Filters) -> list[Row]:
    return reader.query_json(render_sql(RESTART_TREND_SQL, flt.database), flt.params())


def crash_trend(reader: Reader, flt: Filters) -> list[Row]:
    return reader.query_json(render_sql(CRASH_TREND_SQL, flt.database), flt.params())
