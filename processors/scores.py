"""Scores 0-100 with published, configurable curves (docs/analytics.md, "Scores").

Endpoint analytics scores each device 0-100 from its boot / sign-in times and averages devices;
it publishes neither the curve nor the weights. fleetpulse publishes both:

* **Timing curve** (lower is better), per metric with a ``goal`` and a ``poor`` value::

      s(v) = 100                                      if v <= goal
           = 0                                        if v >= poor
           = 100 * (1 - ln(v/goal) / ln(poor/goal))   otherwise   (linear in log-time)

* **Device score** = weighted mean of its metric scores (weights renormalised over the metrics
  the device reported); the device value of a metric is the median of its values in the window.
* **Boot / sign-in score of a scope** = mean of its devices' scores; ``None`` ("insufficient
  data") below ``min_devices`` (5) scored devices. **Startup score** = weighted mean of the boot
  and sign-in scores (renormalised if one is missing).
* **App reliability**: ``MTTF = usage hours / crashes`` (crashes capped 10/app/device/day);
  ``s = 100`` without crashes, else ``100 * clamp(ln(MTTF/poor) / ln(goal/poor), 0, 1)``. An app is
  scored only with ``active devices >= max(min_devices, min_device_share * enrolled)``. Fleet
  app reliability = usage-weighted mean of the scored apps (heavily used crashy apps weigh most).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from processors.samples import DeviceSamples


@dataclass(frozen=True)
class Curve:
    goal: float
    poor: float

    def score(self, value: float) -> float:
        """Lower-is-better log-linear curve between ``goal`` (100) and ``poor`` (0)."""
        if value <= self.goal:
            return 100.0
        if value >= self.poor:
            return 0.0
        return 100.0 * (1.0 - math.log(value / self.goal) / math.log(self.poor / self.goal))


def _default_curves() -> dict[str, Curve]:
    return {
        "core_boot_ms": Curve(goal=10_000, poor=60_000),
        "gp_boot_ms": Curve(goal=1_000, poor=30_000),
        "core_logon_ms": Curve(goal=5_000, poor=45_000),
        "gp_logon_ms": Curve(goal=1_000, poor=30_000),
        "desktop_shown_ms": Curve(goal=8_000, poor=60_000),
        "total_logon_ms": Curve(goal=15_000, poor=90_000),
    }


@dataclass(frozen=True)
class ScoreConfig:
    min_devices: int = 5
    curves: Mapping[str, Curve] = field(default_factory=_default_curves)
    boot_weights: Mapping[str, float] = field(
        default_factory=lambda: {"core_boot_ms": 0.7, "gp_boot_ms": 0.3}
    )
    signin_weights: Mapping[str, float] = field(
        default_factory=lambda: {"core_logon_ms": 0.4, "gp_logon_ms": 0.2, "total_logon_ms": 0.4}
    )
    startup_boot_weight: float = 0.5
    startup_signin_weight: float = 0.5
    app_mttf_goal_hours: float = 1_000.0
    app_mttf_poor_hours: float = 10.0
    app_min_device_share: float = 0.02


DEFAULT_SCORES = ScoreConfig()
DeviceValues = Mapping[str, Mapping[str, float]]  # device -> metric -> value (median)


def metric_score(metric: str, value: float, cfg: ScoreConfig = DEFAULT_SCORES) -> float:
    return cfg.curves[metric].score(value)


def device_score(
    values: Mapping[str, float], weights: Mapping[str, float], cfg: ScoreConfig = DEFAULT_SCORES
) -> float | None:
    """Weighted mean of the metric scores the device has; ``None`` if it has none of them."""
    num = den = 0.0
    for metric, w in weights.items():
        v = values.get(metric)
        if v is not None and w > 0:
            num += w * metric_score(metric, v, cfg)
            den += w
    return num / den if den else None


def _scope_score(devices: DeviceValues, weights: Mapping[str, float], cfg: ScoreConfig) -> float | None:
    scores = [s for vals in devices.values() if (s := device_score(vals, weights, cfg)) is not None]
    return sum(scores) / len(scores) if len(scores) >= cfg.min_devices else None


def boot_score(devices: DeviceValues, cfg: ScoreConfig = DEFAULT_SCORES) -> float | None:
    return _scope_score(devices, cfg.boot_weights, cfg)


def signin_score(devices: DeviceValues, cfg: ScoreConfig = DEFAULT_SCORES) -> float | None:
    return _scope_score(devices, cfg.signin_weights, cfg)


def startup_score(devices: DeviceValues, cfg: ScoreConfig = DEFAULT_SCORES) -> float | None:
    """Weighted mean of boot and sign-in scores (each needs ``min_devices``); ``None`` if neither."""
    parts = [
        (cfg.startup_boot_weight, boot_score(devices, cfg)),
        (cfg.startup_signin_weight, signin_score(devices, cfg)),
    ]
    present = [(w, s) for w, s in parts if s is not None and w > 0]
    if not present:
        return None
    return sum(w * s for w, s in present) / sum(w for w, _ in present)


def mttf_hours(usage_ms: float, crashes: int) -> float | None:
    """Mean time to failure = usage / crashes, in hours; ``None`` when there is no crash."""
    return usage_ms / 3_600_000.0 / crashes if crashes > 0 else None


def app_score(
    usage_ms: float, crashes: int, active_devices: int, enrolled: int = 0, cfg: ScoreConfig = DEFAULT_SCORES
) -> float | None:
    """Per-app reliability score, or ``None`` when too few active devices use the app."""
    if active_devices < max(cfg.min_devices, math.ceil(cfg.app_min_device_share * enrolled)):
        return None
    mttf = mttf_hours(usage_ms, crashes)
    if mttf is None:
        return 100.0
    span = math.log(cfg.app_mttf_goal_hours / cfg.app_mttf_poor_hours)
    return 100.0 * min(1.0, max(0.0, math.log(max(mttf, 1e-12) / cfg.app_mttf_poor_hours) / span))


@dataclass(frozen=True)
class AppFigures:
    usage_ms: float
    crashes: int
    active_devices: int


def fleet_app_score(
    apps: Mapping[str, AppFigures], enrolled: int = 0, cfg: ScoreConfig = DEFAULT_SCORES
) -> float | None:
    """Usage-weighted mean of the scored apps; ``None`` if no app qualifies."""
    num = den = 0.0
    for a in apps.values():
        s = app_score(a.usage_ms, a.crashes, a.active_devices, enrolled, cfg)
        if s is not None:
            w = max(a.usage_ms, 1.0)
            num += w * s
            den += w
    return num / den if den else None


def device_values(
    samples: DeviceSamples, metrics: list[str], start_day: int, end_day: int
) -> dict[str, dict[str, float]]:
    """``device -> metric -> median`` over the day range, the input of the startup scores."""
    out: dict[str, dict[str, float]] = {}
    for metric in metrics:
        for dev, med in samples.per_device_medians(metric, start_day, end_day).items():
            out.setdefault(dev, {})[metric] = med
    return out
