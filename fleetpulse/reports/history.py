"""The daily Endpoint analytics scores (``score_history``): recorded per tenant and day, read back.

A day's row holds each score over the ``score_window_days`` (14) days ending with that UTC day,
i.e. what ``fleetpulse report insights --since <day-13> --until <day+1>`` shows; recording a day
again replaces it (``ReplacingMergeTree(computed_at)``). :func:`record_day` computes through a
tenant-scoped reader (ClickHouse enforces the tenant) and inserts through the store owner's
unscoped connection, as ``fleetpulse baseline create`` does. The insights report reads the last
``history_days`` (13 months) back (:func:`fetch_history`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from fleetpulse.reports.facts import fleet_facts
from fleetpulse.reports.params import Filters, fmt_time, render_sql
from fleetpulse.reports.startup import Row
from processors.insights.config import InsightsConfig
from processors.insights.overall import SUB_SCORES, FleetFacts, overall, sub_scores
from sinks.reader import Reader

SCORES: tuple[str, ...] = ("overall", *SUB_SCORES)

HISTORY_SQL = """
SELECT toString(day) AS day_text, score, value, devices FROM {db}.score_history FINAL
WHERE ({tenant:String} = '' OR tenant = {tenant:String})
  AND day > toDate({until:DateTime64(3)}) - {days:UInt32} AND day <= toDate({until:DateTime64(3)})
ORDER BY day, score"""

INSERT_SQL = """
INSERT INTO {db}.score_history (tenant, day, score, value, devices, window_days, computed_at)
SELECT {tenant:String}, toDate({day:String}), r.1, r.2, r.3, {window:UInt16}, now64(3)
FROM (SELECT arrayJoin(arrayZip({scores:Array(String)}, {values:Array(Nullable(Float64))},
                                {devices:Array(UInt32)})) AS r)"""


def day_window(day: dt.date, window_days: int) -> tuple[dt.datetime, dt.datetime]:
    """``[since, until)`` of the score recorded for ``day``: the ``window_days`` days ending with it."""
    until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return until - dt.timedelta(days=window_days), until


def devices_behind(facts: FleetFacts) -> dict[str, int]:
    """How many devices each score stands on (``overall``: devices with any scored figure)."""
    per = {
        "startup": set(facts.startup.values),
        "app_reliability": set(),
        "work_from_anywhere": {d.device_id for d in facts.wfa},
        "resource": {d.device_id for d in facts.resource},
        "battery": {h.device_id for h in facts.battery},
    }
    counts = {k: len(v) for k, v in per.items()}
    counts["app_reliability"] = facts.apps.enrolled
    counts["overall"] = len(set().union(*per.values()))
    return counts


def history_values(scores: Mapping[str, float | None], devices: Mapping[str, int]) -> dict[str, Any]:
    """The insert's parallel arrays, in :data:`SCORES` order."""
    return {
        "scores": list(SCORES),
        "values": [scores.get(s) for s in SCORES],
        "devices": [devices.get(s, 0) for s in SCORES],
    }


def record_day(
    scoped: Reader, writer: Reader, tenant: str, day: dt.date, cfg: InsightsConfig, database: str
) -> Row:
    """Compute the tenant's scores for ``day`` and write them; returns what was written."""
    since, until = day_window(day, cfg.score_window_days)
    facts = fleet_facts(scoped, Filters(since, until, tenant=tenant, database=database), cfg)
    sub = sub_scores(facts, cfg)
    scores = {"overall": overall(sub, cfg.overall), **sub}
    devices = devices_behind(facts)
    params = {"tenant": tenant, "day": day.isoformat(), "window": cfg.score_window_days}
    writer.query_json(render_sql(INSERT_SQL, database), {**params, **history_values(scores, devices)})
    return {"day": day.isoformat(), "scores": scores, "devices": devices}


def pivot(rows: Sequence[Row]) -> list[Row]:
    """``(day_text, score, value)`` rows -> one row per day with every score (``None`` where missing)."""
    days: dict[str, Row] = {}
    for r in rows:
        day = r["day_text"]
        days.setdefault(day, {"day": day, **dict.fromkeys(SCORES)})[r["score"]] = r["value"]
    return [days[d] for d in sorted(days)]


def fetch_history(reader: Reader, flt: Filters, days: int) -> list[Row]:
    params = {"tenant": flt.tenant, "until": fmt_time(flt.until - dt.timedelta(milliseconds=1)), "days": days}
    return pivot(reader.query_json(render_sql(HISTORY_SQL, flt.database), params))
