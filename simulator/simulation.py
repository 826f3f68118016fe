"""The pure entry: :func:`generate` yields batches of records day by day, chunk by chunk.

Memory stays bounded by one chunk of devices on one day (plus offline devices' queues), so a
million-device fleet streams without holding its events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

from simulator.catalog import MODELS
from simulator.config import SimulationConfig
from simulator.invalid import add_invalid
from simulator.manifest import InjectionTruth, Manifest
from simulator.rand import Rand
from simulator.timeline import chunk_day, flush_held
from simulator.world import build_world

DEFAULT_IKEY = "o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f"  # the demo tenant (fleetpulse.settings.DEMO_IKEY)
Record = dict[str, Any]


class Simulation:
    """One run: iterate :meth:`batches` once, then read :meth:`manifest`."""

    def __init__(self, config: SimulationConfig, ikey: str = DEFAULT_IKEY) -> None:
        self.config = config
        self.world = build_world(config, ikey)
        self.invalid: Counter[str] = Counter()
        self.day = 0  # the simulated day being generated

    def batches(self) -> Iterator[list[Record]]:
        """Records per (day, device chunk), then the offline queues left at the end."""
        cfg, w = self.config, self.world
        for d in range(cfg.days):
            self.day = d
            w.due_injections = w.inj.due(d)
            for lo in range(0, cfg.devices, cfg.chunk_devices):
                batch = chunk_day(w, d, lo, min(lo + cfg.chunk_devices, cfg.devices))
                out = self._finish(batch, d, lo)
                if out:
                    yield out
        out = self._finish(flush_held(w), cfg.days, 0)
        if out:
            yield out

    def _finish(self, batch: list[Record], d: int, lo: int) -> list[Record]:
        counts = self.world.counts
        for rec in batch:
            counts[rec["name"]] += 1
        cfg = self.config
        if cfg.invalid_fraction <= 0.0:
            return batch
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 3, d, lo]))
        r = Rand(int(np.random.SeedSequence([cfg.seed, 4, d, lo]).generate_state(1)[0]))
        return add_invalid(batch, cfg.invalid_fraction, cfg.invalid_reasons, rng, r, self.invalid)

    def manifest(self) -> Manifest:
        """The truth of the run so far (complete once :meth:`batches` is exhausted)."""
        w, cfg = self.world, self.config
        f = w.fleet
        truths = []
        for k, inj in enumerate(w.inj.items):
            idx = w.inj.affected(k).tolist()
            scope: dict[str, Any] = {
                key: val
                for key, val in (
                    ("manufacturer", inj.manufacturer),
                    ("model", inj.model),
                    ("os_build", inj.os_build),
                    ("app", inj.app),
                )
                if val is not None
            }
            scope["rollout"] = inj.rollout
            truths.append(
                InjectionTruth(
                    name=inj.name,
                    metric=inj.metric,
                    factor=inj.factor,
                    day=inj.day,
                    change_type=inj.change_type,
                    change_id=inj.change_id,
                    change_name=inj.change_name,
                    to_version=inj.to_version,
                    scope=scope,
                    affected_devices=[f.device_id[i] for i in idx],
                    applied_day=w.inj.applied_day[k][idx].astype(int).tolist(),
                )
            )
        models = Counter(MODELS[m].name for m in f.model.tolist())
        return Manifest(
            seed=cfg.seed,
            devices=cfg.devices,
            days=cfg.days,
            start=cfg.resolved_start().isoformat().replace("+00:00", "Z"),
            ikey=w.ikey,
            injections=truths,
            control_devices=[f.device_id[i] for i in np.flatnonzero(f.control).tolist()],
            events_by_type=dict(sorted(w.counts.items())),
            events_total=sum(w.counts.values()),
            invalid_by_reason=dict(sorted(self.invalid.items())),
            invalid_total=sum(self.invalid.values()),
            late_events=w.late_events,
            models=dict(sorted(models.items())),
            cohorts=w.cohorts.truth(f),
        )


def generate(config: SimulationConfig, *, ikey: str = DEFAULT_IKEY) -> Iterator[list[Record]]:
    """Yield the run's records as batches (one per simulated day and device chunk)."""
    yield from Simulation(config, ikey).batches()


__all__ = ["DEFAULT_IKEY", "Simulation", "generate"]
