"""Startup performance: boot / sign-in / startup scores and phase percentiles (raw tables, exact).

Sources: ``boot_events`` without Fast Startup boots and ``logon_events`` without first sign-ins
for a user and sign-ins right after a feature update (the exclusions of processors/metrics_def.py;
excluded rows are counted, not measured).

* ``p50`` / ``p90`` of a phase: exact, the element of rank ``floor(q (n - 1))`` of the sorted
  values in range (:func:`params.q_lower`); ``NULL`` values (phase not reported) are skipped.
* Scores: per device the median of each metric (``np.median``), then processors/scores.py:
  ``boot_score``, ``signin_score``, ``startup_score``; ``None`` below ``min_devices`` devices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleetpulse.reports.params import Filters, median_mid, model_key, q_lower, render_sql, where
from processors import scores
from sinks.reader import Reader

Row = dict[str, Any]

#: (metric, label, phase) in the order reports show them.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("core_boot_ms", "Core boot", "boot"),
    ("gp_boot_ms", "Group Policy boot", "boot"),
    ("total_boot_ms", "Total boot", "boot"),
    ("core_logon_ms", "Core sign-in", "sign-in"),
    ("gp_logon_ms", "Group Policy sign-in", "sign-in"),
    ("desktop_shown_ms", "Time to desktop", "sign-in"),
    ("total_logon_ms", "Time to responsive desktop", "sign-in"),
)
BOOT_METRICS = tuple(m for m, _, p in METRICS if p == "boot")
LOGON_METRICS = tuple(m for m, _, p in METRICS if p == "sign-in")
SCORED_BOOT = ("core_boot_ms", "gp_boot_ms")
SCORED_LOGON = ("core_logon_ms", "gp_logon_ms", "desktop_shown_ms", "total_logon_ms")

#: A sign-in kept for the sign-in metrics (EA's exclusions).
LOGON_KEPT = "NOT is_first_logon_for_user AND NOT is_after_feature_update"
#: A boot kept for the boot metrics: a full boot, not a Fast Startup resume.
BOOT_KEPT = "coalesce(boot_kind, 'full') != 'fastStartup'"


def _kept(col: str, kept: str = LOGON_KEPT) -> str:
    return f"if({kept}, {col}, NULL)"


def _quantile_cols(metrics: Sequence[str], expr: Mapping[str, str]) -> str:
    cols = (f"{q_lower(expr[m], q)} AS {m}_p{int(q * 100)}" for m in metrics for q in (0.5, 0.9))
    return ",\n    ".join(cols)


def boot_percentiles_sql(group: str) -> str:
    """Boot phase percentiles per ``group`` (an SQL expression: ``''`` for the fleet, a model key…)."""
    return f"""
SELECT {group} AS grp, countIf({BOOT_KEPT}) AS boots, countIf(NOT ({BOOT_KEPT})) AS boots_fast_startup,
    uniqExactIf(device_id, {BOOT_KEPT}) AS devices,
    {_quantile_cols(BOOT_METRICS, {m: _kept(m, BOOT_KEPT) for m in BOOT_METRICS})}
FROM {{db}}.boot_events
WHERE {where()}
GROUP BY grp ORDER BY grp"""


def logon_percentiles_sql(group: str) -> str:
    """Sign-in phase percentiles per ``group``, excluded sign-ins counted but not measured."""
    return f"""
SELECT {group} AS grp, countIf({LOGON_KEPT}) AS signins, countIf(NOT ({LOGON_KEPT})) AS signins_excluded,
    uniqExactIf(device_id, {LOGON_KEPT}) AS devices,
    {_quantile_cols(LOGON_METRICS, {m: _kept(m) for m in LOGON_METRICS})}
FROM {{db}}.logon_events
WHERE {where()}
GROUP BY grp ORDER BY grp"""


def _device_sql(table: str, count: str, medians: Mapping[str, str]) -> str:
    cols = ",\n    ".join(f"{median_mid(e)} AS {m}_med" for m, e in medians.items())
    return f"""
SELECT device_id, argMax(dev_make, event_time) AS make, argMax(dev_model, event_time) AS model,
    argMax(os_ver, event_time) AS os_build, {count},
    {cols}
FROM {{db}}.{table}
WHERE {where()}
GROUP BY device_id ORDER BY device_id"""


DEVICE_BOOT_SQL = _device_sql(
    "boot_events", f"countIf({BOOT_KEPT}) AS boots", {m: _kept(m, BOOT_KEPT) for m in BOOT_METRICS}
)
DEVICE_LOGON_SQL = _device_sql(
    "logon_events", f"countIf({LOGON_KEPT}) AS signins", {m: _kept(m) for m in LOGON_METRICS}
)


def fetch_devices(reader: Reader, flt: Filters) -> tuple[list[Row], list[Row]]:
    """Per-device medians: (boot rows, sign-in rows)."""
    params = flt.params()
    boots = reader.query_json(render_sql(DEVICE_BOOT_SQL, flt.database), params)
    logons = reader.query_json(render_sql(DEVICE_LOGON_SQL, flt.database), params)
    return boots, logons


def fetch_percentiles(reader: Reader, flt: Filters, group: str = "''") -> tuple[list[Row], list[Row]]:
    """Phase percentiles per group: (boot rows, sign-in rows)."""
    params = flt.params()
    boots = reader.query_json(render_sql(boot_percentiles_sql(group), flt.database), params)
    logons = reader.query_json(render_sql(logon_percentiles_sql(group), flt.database), params)
    return boots, logons


MODEL_GROUP = model_key()

# -- pure shaping -----------------------------------------------------------------------------


def merge_devices(boot_rows: Sequence[Row], logon_rows: Sequence[Row]) -> dict[str, Row]:
    """One row per device: identity (from boots when it has any), counts and every metric median."""
    out: dict[str, Row] = {}
    for r in logon_rows:
        out[r["device_id"]] = {
            "device_id": r["device_id"],
            "make": r["make"],
            "model": r["model"],
            "os_build": r["os_build"],
            "boots": 0,
            "signins": r["signins"],
            **dict.fromkeys(BOOT_METRICS),
            **{m: r[f"{m}_med"] for m in LOGON_METRICS},
        }
    for r in boot_rows:
        row = out.setdefault(r["device_id"], {"signins": 0, **dict.fromkeys(LOGON_METRICS)})
        row.update({k: r[k] for k in ("device_id", "make", "model", "os_build", "boots")})
        row.update({m: r[f"{m}_med"] for m in BOOT_METRICS})
    return out


def model_label(make: str, model: str) -> str:
    return "(unknown)" if not make and not model else f"{make}/{model}"


def device_values(devices: Mapping[str, Row]) -> dict[str, dict[str, float]]:
    """``device -> metric -> median`` for the scored metrics (what processors/scores.py takes)."""
    return {
        d: {m: float(row[m]) for m in (*SCORED_BOOT, *SCORED_LOGON) if row.get(m) is not None}
        for d, row in devices.items()
    }


def score_block(values: Mapping[str, Mapping[str, float]], cfg: scores.ScoreConfig) -> Row:
    """Boot, sign-in and startup scores of a set of devices, with the devices behind each."""
    boot_n = sum(1 for v in values.values() if scores.device_score(v, cfg.boot_weights, cfg) is not None)
    signin_n = sum(1 for v in values.values() if scores.device_score(v, cfg.signin_weights, cfg) is not None)
    startup = scores.startup_score(values, cfg)
    return {
        "startup_score": startup,
        "boot_score": scores.boot_score(values, cfg),
        "signin_score": scores.signin_score(values, cfg),
        "boot_devices": boot_n,
        "signin_devices": signin_n,
        "status": "ok" if startup is not None else "insufficient data",
    }


def metric_rows(boot: Row | None, logon: Row | None) -> list[Row]:
    """One row per phase: label, count, devices, p50, p90 (``None`` without data)."""
    out = []
    for metric, label, phase in METRICS:
        src = boot if phase == "boot" else logon
        n_key = "boots" if phase == "boot" else "signins"
        out.append(
            {
                "metric": metric,
                "label": label,
                "phase": phase,
                "count": src[n_key] if src else 0,
                "devices": src["devices"] if src else 0,
                "p50": src[f"{metric}_p50"] if src else None,
                "p90": src[f"{metric}_p90"] if src else None,
            }
        )
    return out


def shape_startup(
    flt: Filters,
    boot_pct: Sequence[Row],
    logon_pct: Sequence[Row],
    boot_dev: Sequence[Row],
    logon_dev: Sequence[Row],
    cfg: scores.ScoreConfig = scores.DEFAULT_SCORES,
) -> Row:
    """The startup report document."""
    devices = merge_devices(boot_dev, logon_dev)
    boot = boot_pct[0] if boot_pct else None
    logon = logon_pct[0] if logon_pct else None
    return {
        "report": "startup",
        "filters": flt.describe(),
        "min_devices": cfg.min_devices,
        "devices": len(devices),
        "scores": score_block(device_values(devices), cfg),
        "boots": boot["boots"] if boot else 0,
        "boots_fast_startup": boot["boots_fast_startup"] if boot else 0,
        "signins": logon["signins"] if logon else 0,
        "signins_excluded": logon["signins_excluded"] if logon else 0,
        "metrics": metric_rows(boot, logon),
    }


def startup_report(reader: Reader, flt: Filters, cfg: scores.ScoreConfig = scores.DEFAULT_SCORES) -> Row:
    boot_pct, logon_pct = fetch_percentiles(reader, flt)
    boot_dev, logon_dev = fetch_devices(reader, flt)
    return shape_startup(flt, boot_pct, logon_pct, boot_dev, logon_dev, cfg)
