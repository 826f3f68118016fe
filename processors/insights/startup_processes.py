"""Startup processes: the processes that keep the CPU busy after the desktop appears.

A sign-in's *responsive desktop* phase (``responsiveDesktopMs``: desktop shown until the CPU
settles) is when startup processes delay the user. Each sign-in lists its top startup processes
with their CPU share of that phase (``topStartupProcesses[].cpuPercent``); the delay a process
causes in that sign-in is the CPU time it took in the phase::

    delay_ms = responsiveDesktopMs × cpuPercent / 100

(EA's agents send the same CPU usage and EA publishes no formula.) Per process (name, publisher,
version), over the kept sign-ins in range: devices, sign-ins, median delay (``np.median`` over
its sign-ins), total delay (Σ). A process is listed when it affects at least ``min_devices``
devices (EA: 10). Removing processes (:func:`without`) takes each device's median delay of those
processes off its time to responsive desktop, never below its time to desktop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

from processors.insights.config import StartupProcessConfig

ProcessKey = tuple[str, str, str]  # (name, publisher, version)
DeviceValues = Mapping[str, Mapping[str, float]]  # device -> metric -> median (processors/scores.py)


def delay_ms(responsive_ms: float, cpu_percent: float) -> float:
    """The delay one startup process adds to one sign-in."""
    return responsive_ms * cpu_percent / 100.0


@dataclass(frozen=True, slots=True)
class ProcessImpact:
    name: str
    publisher: str
    version: str
    devices: int
    signins: int
    median_delay_ms: float
    total_delay_ms: float
    mean_cpu_percent: float

    @property
    def key(self) -> ProcessKey:
        return (self.name, self.publisher, self.version)


def listed(rows: Iterable[ProcessImpact], cfg: StartupProcessConfig) -> list[ProcessImpact]:
    """Processes on at least ``min_devices`` devices, largest total delay first."""
    out = [r for r in rows if r.devices >= cfg.min_devices]
    out.sort(key=lambda r: (-r.total_delay_ms, r.name, r.publisher, r.version))
    return out


def insight_processes(rows: Iterable[ProcessImpact], cfg: StartupProcessConfig) -> list[ProcessImpact]:
    """The listed processes slow enough for an insight (median delay), at most ``insight_max_processes``."""
    slow = [r for r in listed(rows, cfg) if r.median_delay_ms >= cfg.insight_min_median_delay_ms]
    return slow[: cfg.insight_max_processes]


def without(
    values: DeviceValues,
    desktop_ms: Mapping[str, float],
    delays: Mapping[str, Mapping[ProcessKey, float]],
    keys: Set[ProcessKey],
) -> dict[str, dict[str, float]]:
    """Device values with the ``keys`` processes' median delays taken off ``total_logon_ms``."""
    out: dict[str, dict[str, float]] = {}
    for device, vals in values.items():
        row = dict(vals)
        total = row.get("total_logon_ms")
        removed = sum(v for k, v in delays.get(device, {}).items() if k in keys)
        if total is not None and removed > 0:
            row["total_logon_ms"] = max(total - removed, desktop_ms.get(device, 0.0))
        out[device] = row
    return out
