"""Everything one simulation run shares: config, fleet, app versions, injections, calendars."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from simulator.cohorts import Cohorts, build_cohorts
from simulator.config import SimulationConfig
from simulator.fleet import Fleet, build_fleet
from simulator.inject import AppTable, Injections, build_app_table, patch_days
from simulator.rand import to_ms

DAY_MS = 86_400_000
PATCH_WINDOW_DAYS = 10


@dataclass
class World:
    """Shared state of a run. Mutated only by the generator, one chunk at a time."""

    config: SimulationConfig
    ikey: str
    fleet: Fleet
    apps: AppTable
    inj: Injections
    day0_ms: int
    weekday0: int
    patch: list[int]
    cohorts: Cohorts  # the insight cohorts (simulator/cohorts.py)
    held: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    due_injections: list[int] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    late_events: int = 0

    def patch_wave(self, day: int) -> int:
        """Index of the OS update wave rolling out on ``day``, or -1."""
        for k, start in enumerate(self.patch):
            if start <= day < start + PATCH_WINDOW_DAYS:
                return k
        return -1


def build_world(config: SimulationConfig, ikey: str) -> World:
    start = config.resolved_start()
    fleet = build_fleet(config)
    apps = build_app_table(config, np.random.default_rng(np.random.SeedSequence([config.seed, 0xA995])))
    mdays = [(start + timedelta(days=d)).day for d in range(config.days)]
    return World(
        config=config,
        ikey=ikey,
        fleet=fleet,
        apps=apps,
        inj=Injections(config, fleet, apps),
        day0_ms=to_ms(start),
        weekday0=start.weekday(),
        patch=patch_days(start.weekday(), mdays, config.days),
        cohorts=build_cohorts(config, fleet),
    )
