"""The overall Endpoint analytics score and the fleet facts every score is computed from.

``overall = Σ w_s · score_s / Σ w_s`` over the sub-scores that have a value (startup, app
reliability, work from anywhere, resource performance, battery health; weights in
:class:`~processors.insights.config.OverallConfig`, default 0.30 / 0.30 / 0.20 / 0.10 / 0.10).
EA weighs startup, app reliability and work from anywhere and publishes no weights; resource and
battery enter here with smaller weights (set them to 0 for EA's three). ``None`` when no
sub-score has a value. Each sub-score is the one its own report publishes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from processors import scores
from processors.insights import battery, resource, wfa
from processors.insights.common import weighted
from processors.insights.config import InsightsConfig, OverallConfig
from processors.insights.startup_processes import DeviceValues, ProcessImpact, ProcessKey

SUB_SCORES: tuple[str, ...] = ("startup", "app_reliability", "work_from_anywhere", "resource", "battery")


@dataclass(frozen=True, slots=True)
class FastStartupDevice:
    """A device's full boots that followed a plain shutdown, and its Fast Startup resumes."""

    device_id: str
    model: str
    shutdown_full_boots: int
    fast_boots: int
    core_boot_ms: float | None  # median core boot of those full boots


@dataclass(frozen=True)
class StartupFacts:
    values: DeviceValues  # device -> scored metric -> median (processors/scores.py)
    desktop_ms: Mapping[str, float] = field(default_factory=dict)  # device -> median time to desktop
    model: Mapping[str, str] = field(default_factory=dict)  # device -> make/model
    disk: Mapping[str, str] = field(default_factory=dict)  # device -> ssd | hdd | unknown (census)
    processes: Sequence[ProcessImpact] = ()
    process_delays: Mapping[str, Mapping[ProcessKey, float]] = field(default_factory=dict)
    fast_startup: Sequence[FastStartupDevice] = ()
    fast_core_ms: float | None = None  # fleet median core boot of Fast Startup resumes


@dataclass(frozen=True)
class AppFacts:
    apps: Mapping[str, scores.AppFigures] = field(default_factory=dict)
    versions: Mapping[tuple[str, str], scores.AppFigures] = field(default_factory=dict)
    version_devices: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)  # active devices
    enrolled: int = 0


@dataclass(frozen=True)
class FleetFacts:
    """Everything the overall score and the insights need, per device (plain data)."""

    startup: StartupFacts
    apps: AppFacts = AppFacts()
    wfa: Sequence[wfa.DeviceWfa] = ()
    resource: Sequence[resource.DeviceResource] = ()
    battery: Sequence[battery.BatteryHealth] = ()


def sub_scores(
    facts: FleetFacts, cfg: InsightsConfig, score_cfg: scores.ScoreConfig = scores.DEFAULT_SCORES
) -> dict[str, float | None]:
    return {
        "startup": scores.startup_score(facts.startup.values, score_cfg),
        "app_reliability": scores.fleet_app_score(facts.apps.apps, facts.apps.enrolled, score_cfg),
        "work_from_anywhere": wfa.wfa_score(facts.wfa, cfg.wfa),
        "resource": resource.fleet_score(facts.resource, cfg.resource),
        "battery": battery.fleet_score(facts.battery, cfg.battery),
    }


def overall(sub: Mapping[str, float | None], cfg: OverallConfig) -> float | None:
    w = cfg.weights()
    return weighted((w[name], sub.get(name)) for name in SUB_SCORES)
