"""Anomalies: app crash, app hang and Stop-error anomalies with their device correlation groups.

Sources in range (filters applied): per device and app, ``app_crashes`` and ``app_hangs`` counted
at most 10 per UTC day; per device and faulting driver (else bug check code) ``stop_errors``.
Device features: the newest census (manufacturer, ``make/model``, OS build), every app version
installed or used (``inventory``, ``app_usage``: ``"<app> <version>"``) and every driver change
applied (``config_changes`` with ``change_type = 'driver'``: its ``change_name``). Detection,
severity, groups, prevalence and at-risk devices: processors/insights/anomalies.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from fleetpulse.reports.params import Filters, render_sql, where
from fleetpulse.reports.startup import Row
from processors.insights import anomalies
from processors.insights.config import DEFAULT_INSIGHTS, InsightsConfig
from sinks.reader import Reader


def _app_counts(table: str, kind: str) -> str:
    return f"""
SELECT device_id, '{kind}' AS kind, toString(app_name) AS asset, sum(least(n, 10)) AS events,
    min(first) AS first_seen, max(last) AS last_seen
FROM (
    SELECT device_id, app_name, toDate(event_time) AS day, count() AS n,
        min(event_time) AS first, max(event_time) AS last
    FROM {{db}}.{table}
    WHERE {where()}
    GROUP BY device_id, app_name, day
)
GROUP BY device_id, asset"""


COUNTS_SQL = f"""
{_app_counts("app_crashes", "app_crash")}
UNION ALL
{_app_counts("app_hangs", "app_hang")}
UNION ALL
SELECT device_id, 'stop_error' AS kind, toString(coalesce(faulting_module, bug_check_code)) AS asset,
    count() AS events, min(event_time) AS first_seen, max(event_time) AS last_seen
FROM {{db}}.stop_errors
WHERE {where()}
GROUP BY device_id, asset"""

FEATURES_SQL = f"""
SELECT device_id, 'manufacturer' AS type, toString(argMax(oem_manufacturer_name, event_time)) AS value
FROM {{db}}.census WHERE {where()} GROUP BY device_id
UNION ALL
SELECT device_id, 'model' AS type,
    concat(argMax(oem_manufacturer_name, event_time), '/', argMax(oem_model_number, event_time)) AS value
FROM {{db}}.census WHERE {where()} GROUP BY device_id
UNION ALL
SELECT device_id, 'os_version' AS type, toString(argMax(os_build, event_time)) AS value
FROM {{db}}.census WHERE {where()} GROUP BY device_id
UNION ALL
SELECT DISTINCT device_id, 'application' AS type, concat(app_name, ' ', app_version) AS value
FROM (
    SELECT device_id, app_name, app_version FROM {{db}}.inventory WHERE {where()}
    UNION ALL
    SELECT device_id, app_name, app_version FROM {{db}}.app_usage WHERE {where()}
)
UNION ALL
SELECT DISTINCT device_id, 'driver' AS type, toString(change_name) AS value
FROM {{db}}.config_changes WHERE {where()} AND change_type = 'driver'"""


def device_counts(rows: Sequence[Row]) -> list[anomalies.DeviceCount]:
    return [
        anomalies.DeviceCount(
            r["device_id"], r["kind"], r["asset"], int(r["events"]), str(r["first_seen"]), str(r["last_seen"])
        )
        for r in rows
    ]


def features(rows: Sequence[Row]) -> dict[str, dict[str, frozenset[str]]]:
    acc: dict[str, dict[str, set[str]]] = {}
    for r in rows:
        acc.setdefault(r["device_id"], {}).setdefault(r["type"], set()).add(r["value"])
    return {d: {t: frozenset(v) for t, v in f.items()} for d, f in acc.items()}


def _group_row(g: anomalies.Group, limit: int) -> Row:
    row = asdict(g)
    row["features"] = [{"type": t, "value": v} for t, v in g.features]
    row["at_risk_devices"] = list(g.at_risk_devices[:limit])
    return row


def shape_anomalies(
    flt: Filters, found: Sequence[anomalies.Anomaly], population: int, cfg: InsightsConfig
) -> Row:
    rows = []
    for a in found[: flt.limit]:
        row = asdict(a)
        row["anomalous_devices"] = list(a.anomalous_devices[: flt.limit])
        row["groups"] = [_group_row(g, flt.limit) for g in a.groups]
        rows.append(row)
    return {
        "report": "anomalies",
        "filters": flt.describe(),
        "model": "threshold",
        "thresholds": {k: cfg.anomalies.threshold(k) for k in anomalies.KINDS},
        "devices": population,
        "anomalies_total": len(found),
        "by_severity": {s: sum(a.severity == s for a in found) for s in ("high", "medium", "low")},
        "anomalies": rows,
    }


def anomalies_report(reader: Reader, flt: Filters, cfg: InsightsConfig = DEFAULT_INSIGHTS) -> Row:
    params, db = flt.params(), flt.database
    counts = device_counts(reader.query_json(render_sql(COUNTS_SQL, db), params))
    feats = features(reader.query_json(render_sql(FEATURES_SQL, db), params))
    found = anomalies.detect(counts, feats, cfg.anomalies)
    return shape_anomalies(flt, found, len(feats), cfg)
