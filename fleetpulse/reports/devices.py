"""Device performance: the slowest devices by median core boot, with model and OS build.

Per device (raw ``boot_events`` / kept ``logon_events`` in range): boots, sign-ins, the exact
median (``np.median``) of each phase, and the device's boot and sign-in scores
(processors/scores.py ``device_score``). Model and OS build are those of the device's latest
event. Sorted by median core boot descending (devices without boots last, by core sign-in).
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetpulse.reports.params import Filters
from fleetpulse.reports.startup import (
    BOOT_METRICS,
    LOGON_METRICS,
    Row,
    device_values,
    fetch_devices,
    merge_devices,
    model_label,
)
from processors import scores
from sinks.reader import Reader


def _sort_key(row: Row) -> tuple[float, float, str]:
    return (-(row["core_boot_ms"] or -1.0), -(row["core_logon_ms"] or -1.0), row["device_id"])


def shape_devices(
    flt: Filters,
    boot_dev: Sequence[Row],
    logon_dev: Sequence[Row],
    cfg: scores.ScoreConfig = scores.DEFAULT_SCORES,
) -> Row:
    """The devices report: the ``limit`` slowest devices."""
    devices = merge_devices(boot_dev, logon_dev)
    values = device_values(devices)
    rows = []
    for dev, d in devices.items():
        rows.append(
            {
                "device_id": dev,
                "model": model_label(d["make"], d["model"]),
                "os_build": d["os_build"],
                "boots": d["boots"],
                "signins": d["signins"],
                **{m: d[m] for m in (*BOOT_METRICS, *LOGON_METRICS)},
                "boot_score": scores.device_score(values[dev], cfg.boot_weights, cfg),
                "signin_score": scores.device_score(values[dev], cfg.signin_weights, cfg),
            }
        )
    rows.sort(key=_sort_key)
    return {
        "report": "devices",
        "filters": flt.describe(),
        "total_devices": len(rows),
        "devices": rows[: flt.limit],
    }


def devices_report(reader: Reader, flt: Filters, cfg: scores.ScoreConfig = scores.DEFAULT_SCORES) -> Row:
    boot_dev, logon_dev = fetch_devices(reader, flt)
    return shape_devices(flt, boot_dev, logon_dev, cfg)
