"""Model performance: startup scores and boot / sign-in percentiles per ``make/model``.

Same sources and formulas as :mod:`startup`, grouped by model; a model's scores come from its
devices' medians (``None`` = insufficient data below ``min_devices``). Sorted worst first:
models with a startup score ascending, then models without one by median core boot descending.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetpulse.reports.params import Filters
from fleetpulse.reports.startup import (
    MODEL_GROUP,
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

PCT_COLUMNS = ("core_boot_ms", "gp_boot_ms", "total_boot_ms", "core_logon_ms", "total_logon_ms")


def _sort_key(row: Row) -> tuple[int, float, str]:
    s = row["startup_score"]
    if s is not None:
        return (0, float(s), row["model"])
    return (1, -float(row["core_boot_ms_p50"] or 0.0), row["model"])


def shape_models(
    flt: Filters,
    boot_pct: Sequence[Row],
    logon_pct: Sequence[Row],
    boot_dev: Sequence[Row],
    logon_dev: Sequence[Row],
    cfg: scores.ScoreConfig = scores.DEFAULT_SCORES,
) -> Row:
    """The models report: one row per model with devices, scores and phase percentiles."""
    devices = merge_devices(boot_dev, logon_dev)
    by_model: dict[str, dict[str, Row]] = {}
    for dev, drow in devices.items():
        by_model.setdefault(model_label(drow["make"], drow["model"]), {})[dev] = drow
    boot = {r["grp"]: r for r in boot_pct}
    logon = {r["grp"]: r for r in logon_pct}
    rows = []
    for model in sorted(set(by_model) | set(boot) | set(logon)):
        b, lg = boot.get(model, {}), logon.get(model, {})
        row: Row = {
            "model": model,
            "devices": len(by_model.get(model, {})),
            "boots": b.get("boots", 0),
            "signins": lg.get("signins", 0),
        }
        row.update(score_block(device_values(by_model.get(model, {})), cfg))
        for m in PCT_COLUMNS:
            src = b if m.endswith("boot_ms") else lg
            row[f"{m}_p50"] = src.get(f"{m}_p50")
            row[f"{m}_p90"] = src.get(f"{m}_p90")
        rows.append(row)
    rows.sort(key=_sort_key)
    return {
        "report": "models",
        "filters": flt.describe(),
        "min_devices": cfg.min_devices,
        "models": rows[: flt.limit],
    }


def models_report(reader: Reader, flt: Filters, cfg: scores.ScoreConfig = scores.DEFAULT_SCORES) -> Row:
    boot_pct, logon_pct = fetch_percentiles(reader, flt, MODEL_GROUP)
    boot_dev, logon_dev = fetch_devices(reader, flt)
    return shape_models(flt, boot_pct, logon_pct, boot_dev, logon_dev, cfg)
