"""Configuration changes: the declared injections (the truth tests check) and background noise.

An injection picks its target devices once (scope ∧ ¬control ∧ rollout draw); a target
receives the change on its first active day ≥ ``day``. Background changes — app releases,
monthly OS updates, policy and driver deployments — carry no effect and make attribution
non-trivial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.catalog import APPS, MODELS, OS_BUILDS
from simulator.config import APP_METRICS, Injection, SimulationConfig
from simulator.fleet import Fleet

BACKGROUND_POLICIES: tuple[tuple[str, str], ...] = (
    ("policy:0b8e7c2a-6f1d-4a3e-8c5b-2d9f0e1a7b64", "Defender: attack surface reduction rules"),
    ("policy:4d1f9a3c-2e8b-4c7d-9a6e-5b0c1d2e3f70", "Windows Update ring: broad"),
    ("policy:9c3e5a7b-1d2f-4e6a-8b0c-7d5e3f1a9b22", "BitLocker: require TPM+PIN"),
    ("policy:e2a4c6e8-0b1d-4f3a-9c5e-7a9b1c3d5e6f", "OneDrive: known folder move"),
)
BACKGROUND_DRIVERS: tuple[tuple[str, str, str], ...] = (
    ("drv:realtek-audio-6.0.9601.1", "Realtek High Definition Audio 6.0.9601.1", "6.0.9601.1"),
    ("drv:intel-wifi-23.60.1.2", "Intel Wi-Fi 6E AX211 23.60.1.2", "23.60.1.2"),
    ("drv:synaptics-touchpad-19.5.35.11", "Synaptics Pointing Device 19.5.35.11", "19.5.35.11"),
)


@dataclass
class AppTable:
    """Per app: version strings (catalog first, then injected), crash/hang multipliers, release day."""

    versions: list[list[str]]
    crash_mult: list[list[float]]
    hang_mult: list[list[float]]
    n_catalog: list[int]
    release_day: list[int]  # day the newest catalog version starts rolling out; -1 never


def build_app_table(config: SimulationConfig, rng: np.random.Generator) -> AppTable:
    table = AppTable([], [], [], [], [])
    for app in APPS:
        table.versions.append(list(app.versions))
        table.crash_mult.append(list(app.version_crash_mult))
        table.hang_mult.append([1.0] * len(app.versions))
        table.n_catalog.append(len(app.versions))
        released = len(app.versions) > 1 and config.days > 1 and rng.random() < 0.7
        table.release_day.append(int(rng.integers(1, config.days)) if released else -1)
    for inj in config.resolved_injections():
        if inj.app is None or inj.to_version is None:
            continue
        j = next(k for k, a in enumerate(APPS) if a.name == inj.app)
        if inj.to_version not in table.versions[j]:
            table.versions[j].append(inj.to_version)
            table.crash_mult[j].append(1.0)
            table.hang_mult[j].append(1.0)
        v = table.versions[j].index(inj.to_version)
        if inj.metric == "appCrashRate":
            table.crash_mult[j][v] *= inj.factor
        elif inj.metric == "appHangRate":
            table.hang_mult[j][v] *= inj.factor
    return table


def patch_days(start_weekday: int, start_mday: list[int], days: int) -> list[int]:
    """Monthly OS update releases: Patch Tuesdays (day-of-month 8–14) inside the run, else the
    first Tuesday (a run always sees one update wave if it has a Tuesday)."""
    tuesdays = [d for d in range(days) if (start_weekday + d) % 7 == 1]
    patch = [d for d in tuesdays if 8 <= start_mday[d] <= 14]
    return patch or tuesdays[:1]


class Injections:
    """Runtime state of the declared injections."""

    def __init__(self, config: SimulationConfig, fleet: Fleet, apps: AppTable) -> None:
        self.items: tuple[Injection, ...] = config.resolved_injections()
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0x1A7EC7]))
        self.target: list[npt.NDArray[np.bool_]] = []
        self.applied_day: list[npt.NDArray[np.int16]] = []
        self.app_index: list[int] = []
        self.version_index: list[int] = []
        for inj in self.items:
            scope = ~fleet.control & (rng.random(fleet.n) < inj.rollout)
            if inj.model is not None:
                scope &= fleet.model == next(k for k, m in enumerate(MODELS) if m.name == inj.model)
            if inj.manufacturer is not None:
                makers = [k for k, m in enumerate(MODELS) if m.manufacturer == inj.manufacturer]
                scope &= np.isin(fleet.model, makers)
            if inj.os_build is not None:
                builds = [k for k, o in enumerate(OS_BUILDS) if o.build == inj.os_build]
                scope &= np.isin(fleet.os_build, builds)
            self.target.append(scope)
            self.applied_day.append(np.full(fleet.n, -1, dtype=np.int16))
            j = next((k for k, a in enumerate(APPS) if a.name == inj.app), -1)
            self.app_index.append(j)
            self.version_index.append(
                apps.versions[j].index(inj.to_version) if j >= 0 and inj.to_version else -1
            )

    def due(self, day: int) -> list[int]:
        """Indices of injections whose rollout has started by ``day``."""
        return [k for k, inj in enumerate(self.items) if day >= inj.day]

    def apply_effect(self, k: int, fleet: Fleet, i: int) -> None:
        """Multiply device-level metrics of device ``i`` (app metrics live in the version table)."""
        inj = self.items[k]
        if inj.metric in APP_METRICS or inj.metric == "none":
            return
        arr = {
            "coreBootMs": fleet.mult_boot,
            "gpBootMs": fleet.mult_gp,
            "coreLogonMs": fleet.mult_logon,
            "stopErrorRate": fleet.mult_stop,
        }[inj.metric]
        arr[i] *= inj.factor

    def affected(self, k: int) -> npt.NDArray[np.int64]:
        """Device indices that received injection ``k``."""
        return np.flatnonzero(self.applied_day[k] >= 0)
