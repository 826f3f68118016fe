"""Battery health: capacity and runtime scores per device, model and OS build; drain per app.

Per device over the range (``Fleet.Power.BatterySnapshot``, the newest snapshot for capacity):

* ``capacity % = 100 · fullChargeCapacityMWh / designCapacityMWh`` (EA's "max capacity");
* drain on battery ``= Σ energyDrainedMWh / Σ windowDurationMs`` over the discharging snapshots
  (mW), when they cover at least ``min_on_battery_hours``; a device whose agent sends no window
  or energy uses its mean ``dischargeRateMW`` instead;
* ``runtime h = fullChargeCapacityMWh / drain`` (a full charge at the device's own usage);
* capacity and runtime scores from linear curves, the device score their weighted mean (the
  capacity score alone when the runtime is unknown); scopes average their devices (``None``
  below ``min_devices``).

*Replacing a battery* (:func:`replaced`) sets capacity to 100 % and scales the runtime by
``100 / capacity %``. App impact: the energy drained in a device-hour on battery is shared among
the apps in focus in that hour in proportion to their focus time (SQL in
fleetpulse/reports/battery.py); an app's impact is its share of all energy drained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from processors.insights.common import scope_mean, weighted
from processors.insights.config import BatteryConfig

HOUR_MS = 3_600_000.0


@dataclass(frozen=True, slots=True)
class DeviceBattery:
    """A device's battery snapshots summed over the range (capacity from the newest)."""

    device_id: str
    model: str
    os_build: str
    design_mwh: float
    full_mwh: float
    cycle_count: int | None
    drained_mwh: float  # on battery, in snapshots with a window
    on_battery_ms: float
    rate_mw: float | None  # mean discharge rate of the discharging snapshots


@dataclass(frozen=True, slots=True)
class BatteryHealth:
    device_id: str
    model: str
    os_build: str
    capacity_pct: float
    runtime_hours: float | None
    cycle_count: int | None
    capacity_score: float
    runtime_score: float | None
    score: float


def capacity_pct(full_mwh: float, design_mwh: float) -> float:
    return 100.0 * full_mwh / design_mwh if design_mwh > 0 else 0.0


def drain_mw(d: DeviceBattery, cfg: BatteryConfig) -> float | None:
    """Mean power drawn on battery; ``None`` when the device was not on battery long enough."""
    if d.on_battery_ms > 0:
        if d.on_battery_ms < cfg.min_on_battery_hours * HOUR_MS or d.drained_mwh <= 0:
            return None
        return d.drained_mwh / (d.on_battery_ms / HOUR_MS)
    return d.rate_mw if d.rate_mw is not None and d.rate_mw > 0 else None


def _scored(h: BatteryHealth, cfg: BatteryConfig) -> BatteryHealth:
    cap = cfg.capacity_curve.score(h.capacity_pct)
    run = None if h.runtime_hours is None else cfg.runtime_curve.score(h.runtime_hours)
    total = weighted(((cfg.capacity_weight, cap), (cfg.runtime_weight, run)))
    return dataclasses.replace(h, capacity_score=cap, runtime_score=run, score=total or 0.0)


def health(d: DeviceBattery, cfg: BatteryConfig) -> BatteryHealth:
    drain = drain_mw(d, cfg)
    runtime = d.full_mwh / drain if drain else None
    blank = BatteryHealth(
        d.device_id, d.model, d.os_build, capacity_pct(d.full_mwh, d.design_mwh), runtime, d.cycle_count,
        0.0, None, 0.0,
    )  # fmt: skip
    return _scored(blank, cfg)


def healths(devices: Iterable[DeviceBattery], cfg: BatteryConfig) -> list[BatteryHealth]:
    return [health(d, cfg) for d in devices if d.design_mwh > 0]


def replaced(h: BatteryHealth, cfg: BatteryConfig) -> BatteryHealth:
    """The device with a new battery: full design capacity, runtime scaled up accordingly."""
    runtime = None
    if h.runtime_hours is not None and h.capacity_pct > 0:
        runtime = h.runtime_hours * 100.0 / h.capacity_pct
    return _scored(dataclasses.replace(h, capacity_pct=100.0, runtime_hours=runtime), cfg)


def fleet_score(devices: Sequence[BatteryHealth], cfg: BatteryConfig) -> float | None:
    return scope_mean([h.score for h in devices], cfg.min_devices)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True, slots=True)
class BatteryGroup:
    """A model's or OS build's batteries."""

    name: str
    devices: int
    score: float | None
    capacity_score: float | None
    mean_capacity_pct: float
    mean_runtime_hours: float | None
    mean_cycle_count: float | None
    most_impacted: int  # capacity below replace_below_pct
    moderately_impacted: int  # between replace_below_pct and impacted_below_pct


def grouped(
    devices: Sequence[BatteryHealth], key: Callable[[BatteryHealth], str], cfg: BatteryConfig
) -> list[BatteryGroup]:
    """Per model or OS build, worst score first (unscored groups last, lowest capacity first)."""
    groups: dict[str, list[BatteryHealth]] = {}
    for h in devices:
        groups.setdefault(key(h), []).append(h)
    rows = []
    for name, hs in groups.items():
        rows.append(
            BatteryGroup(
                name=name,
                devices=len(hs),
                score=scope_mean([h.score for h in hs], cfg.min_devices),
                capacity_score=scope_mean([h.capacity_score for h in hs], cfg.min_devices),
                mean_capacity_pct=sum(h.capacity_pct for h in hs) / len(hs),
                mean_runtime_hours=_mean([h.runtime_hours for h in hs if h.runtime_hours is not None]),
                mean_cycle_count=_mean([float(h.cycle_count) for h in hs if h.cycle_count is not None]),
                most_impacted=sum(h.capacity_pct < cfg.replace_below_pct for h in hs),
                moderately_impacted=sum(
                    cfg.replace_below_pct <= h.capacity_pct < cfg.impacted_below_pct for h in hs
                ),
            )
        )
    rows.sort(key=lambda r: (r.score is None, r.score or 0.0, r.mean_capacity_pct, r.name))
    return rows


@dataclass(frozen=True, slots=True)
class AppImpact:
    app: str
    energy_mwh: float
    devices: int
    share_pct: float | None  # of all energy drained on battery in range


def app_impact(rows: Iterable[tuple[str, float, int]], total_drained_mwh: float) -> list[AppImpact]:
    """``(app, energy mWh, devices)`` -> each app's share of all energy drained, most first."""
    out = [
        AppImpact(app, energy, devices, 100.0 * energy / total_drained_mwh if total_drained_mwh > 0 else None)
        for app, energy, devices in rows
    ]
    out.sort(key=lambda r: (-r.energy_mwh, r.app))
    return out
