"""Restart frequency: restarts per category, share, abnormal share, Stop errors per device.

Sources (raw, in range, filters applied): ``power_transitions`` (one row per restart / shutdown
with its ``category`` and ``is_abnormal``), ``stop_errors``, and the active devices (any row in
``boot_events``, ``logon_events`` or ``power_transitions``), the denominator of every
"per device" figure (EA: averages over *all* devices, not only those that restarted).
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetpulse.reports.params import Filters, active_devices_sql, render_sql, where
from fleetpulse.reports.startup import Row
from processors.metrics_def import RESTART_CATEGORIES
from sinks.reader import Reader

ACTIVE_TABLES = ("boot_events", "logon_events", "power_transitions")

CATEGORIES_SQL = f"""
SELECT category, count() AS restarts, uniqExact(device_id) AS devices, countIf(is_abnormal) AS abnormal
FROM {{db}}.power_transitions
WHERE {where()}
GROUP BY category ORDER BY category"""

STOP_ERRORS_SQL = f"""
SELECT bug_check_code, count() AS stop_errors, uniqExact(device_id) AS devices
FROM {{db}}.stop_errors
WHERE {where()}
GROUP BY bug_check_code ORDER BY stop_errors DESC, bug_check_code"""

STOP_DEVICES_SQL = f"SELECT uniqExact(device_id) AS devices FROM {{db}}.stop_errors WHERE {where()}"

ACTIVE_SQL = active_devices_sql(ACTIVE_TABLES)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def shape_restarts(
    flt: Filters, categories: Sequence[Row], stop_codes: Sequence[Row], stop_devices: int, active_devices: int
) -> Row:
    """The restarts report document."""
    by_cat = {r["category"]: r for r in categories}
    total = sum(int(r["restarts"]) for r in categories)
    abnormal = sum(int(r["abnormal"]) for r in categories)
    order = [*RESTART_CATEGORIES, *sorted(set(by_cat) - set(RESTART_CATEGORIES))]
    rows = []
    for cat in order:
        r = by_cat.get(cat, {"restarts": 0, "devices": 0, "abnormal": 0})
        rows.append(
            {
                "category": cat,
                "restarts": r["restarts"],
                "devices": r["devices"],
                "abnormal": r["abnormal"],
                "share": _ratio(r["restarts"], total),
                "per_device": _ratio(r["restarts"], active_devices),
            }
        )
    stops = sum(int(r["stop_errors"]) for r in stop_codes)
    return {
        "report": "restarts",
        "filters": flt.describe(),
        "active_devices": active_devices,
        "restarts": total,
        "restarts_per_device": _ratio(total, active_devices),
        "abnormal": abnormal,
        "abnormal_share": _ratio(abnormal, total),
        "stop_errors": stops,
        "stop_error_devices": stop_devices,
        "stop_errors_per_device": _ratio(stops, active_devices),
        "categories": rows,
        "top_bug_checks": [dict(r) for r in stop_codes[: flt.limit]],
    }


def restarts_report(reader: Reader, flt: Filters) -> Row:
    params, db = flt.params(), flt.database
    categories = reader.query_json(render_sql(CATEGORIES_SQL, db), params)
    codes = reader.query_json(render_sql(STOP_ERRORS_SQL, db), params)
    stop_devices = int(reader.query_json(render_sql(STOP_DEVICES_SQL, db), params)[0]["devices"])
    active = int(reader.query_json(render_sql(ACTIVE_SQL, db), params)[0]["devices"])
    return shape_restarts(flt, categories, codes, stop_devices, active)
