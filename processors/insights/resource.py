"""Resource performance: CPU and RAM spike time, scored per device, model and fleet.

Per device over the range (``Fleet.Resource.UsageSummary``): ``spike % = 100 · Σ spike ms / Σ
usage ms`` for CPU and RAM (a spike is time above the agent's ``spikeThresholdPercent``, 50 %
by default). A device with less than ``min_usage_hours`` of usage is not scored. Device CPU and
RAM scores come from linear curves (``cpu_curve``, ``ram_curve``: 100 at ``good`` %, 0 at
``poor`` %); the device score is their weighted mean; a model's and the fleet's score is the
mean of their devices' (``None`` below ``min_devices``). A model scoring below
``starved_model_score`` is *starved*; removing that cause gives each of its devices the healthy
devices' median spike % where its own is higher (:func:`unstarved`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from processors.insights.common import median, scope_mean, weighted
from processors.insights.config import ResourceConfig

HOUR_MS = 3_600_000.0


@dataclass(frozen=True, slots=True)
class DeviceUsage:
    """A device's resource windows summed over the range."""

    device_id: str
    model: str
    usage_ms: float
    cpu_spike_ms: float
    ram_spike_ms: float


@dataclass(frozen=True, slots=True)
class DeviceResource:
    device_id: str
    model: str
    usage_hours: float
    cpu_spike_pct: float
    ram_spike_pct: float
    cpu_score: float
    ram_score: float
    score: float


def spike_pct(spike_ms: float, usage_ms: float) -> float:
    """Share of usage time spent in a spike, in percent (0 without usage)."""
    return 100.0 * spike_ms / usage_ms if usage_ms > 0 else 0.0


def rescored(d: DeviceResource, cpu_pct: float, ram_pct: float, cfg: ResourceConfig) -> DeviceResource:
    """The device with these spike percentages and the scores that follow from them."""
    cpu, ram = cfg.cpu_curve.score(cpu_pct), cfg.ram_curve.score(ram_pct)
    total = weighted(((cfg.cpu_weight, cpu), (cfg.ram_weight, ram)))
    return dataclasses.replace(
        d, cpu_spike_pct=cpu_pct, ram_spike_pct=ram_pct, cpu_score=cpu, ram_score=ram, score=total or 0.0
    )


def score_device(u: DeviceUsage, cfg: ResourceConfig) -> DeviceResource | None:
    """The device's spike % and scores; ``None`` with less than ``min_usage_hours`` of usage."""
    if u.usage_ms <= 0 or u.usage_ms < cfg.min_usage_hours * HOUR_MS:
        return None
    blank = DeviceResource(u.device_id, u.model, u.usage_ms / HOUR_MS, 0.0, 0.0, 0.0, 0.0, 0.0)
    return rescored(blank, spike_pct(u.cpu_spike_ms, u.usage_ms), spike_pct(u.ram_spike_ms, u.usage_ms), cfg)


def score_devices(usage: Iterable[DeviceUsage], cfg: ResourceConfig) -> list[DeviceResource]:
    return [d for u in usage if (d := score_device(u, cfg)) is not None]


def fleet_score(devices: Sequence[DeviceResource], cfg: ResourceConfig) -> float | None:
    return scope_mean([d.score for d in devices], cfg.min_devices)


@dataclass(frozen=True, slots=True)
class ModelResource:
    model: str
    devices: int
    score: float | None
    cpu_score: float | None
    ram_score: float | None
    cpu_spike_pct: float  # mean of its devices'
    ram_spike_pct: float
    starved: bool


def by_model(devices: Sequence[DeviceResource], cfg: ResourceConfig) -> list[ModelResource]:
    """One row per model, worst score first (unscored models last, most spiking first)."""
    groups: dict[str, list[DeviceResource]] = {}
    for d in devices:
        groups.setdefault(d.model, []).append(d)
    rows = []
    for model, ds in groups.items():
        score = scope_mean([d.score for d in ds], cfg.min_devices)
        rows.append(
            ModelResource(
                model=model,
                devices=len(ds),
                score=score,
                cpu_score=scope_mean([d.cpu_score for d in ds], cfg.min_devices),
                ram_score=scope_mean([d.ram_score for d in ds], cfg.min_devices),
                cpu_spike_pct=sum(d.cpu_spike_pct for d in ds) / len(ds),
                ram_spike_pct=sum(d.ram_spike_pct for d in ds) / len(ds),
                starved=score is not None and score < cfg.starved_model_score,
            )
        )
    rows.sort(key=lambda r: (r.score is None, r.score or 0.0, -(r.cpu_spike_pct + r.ram_spike_pct), r.model))
    return rows


def unstarved(devices: Sequence[DeviceResource], model: str, cfg: ResourceConfig) -> list[DeviceResource]:
    """The fleet with ``model``'s starvation removed: each of its devices gets, for CPU and RAM, the
    median spike % of the devices of models that are not starved, where its own is higher."""
    starved = {r.model for r in by_model(devices, cfg) if r.starved}
    healthy = [d for d in devices if d.model not in starved]
    ref_cpu = median([d.cpu_spike_pct for d in healthy])
    ref_ram = median([d.ram_spike_pct for d in healthy])
    cpu_target = cfg.cpu_curve.good if ref_cpu is None else ref_cpu
    ram_target = cfg.ram_curve.good if ref_ram is None else ref_ram
    return [
        rescored(d, min(d.cpu_spike_pct, cpu_target), min(d.ram_spike_pct, ram_target), cfg)
        if d.model == model
        else d
        for d in devices
    ]
