"""Insight cohorts: the device groups in which each Endpoint analytics insight appears (issue 18).

Drawn once per run from their own seed stream; the effects draw nothing from the day's stream
and leave each session's timeline alone, so every device outside a cohort gets exactly the records
it would get without them and recorded in the manifest (``cohorts``: name -> device ids):

* ``hdd``: the catalog's HDD models (boots and sign-ins 3-4x slower, catalog.py);
* ``slow_gp``: 25 % of the domain-joined devices, ``gpLogonMs`` × 3-6 + 10 s (a slow site link);
* ``startup_agent``: 20 % of the devices run ``ContosoEndpointAgent.exe`` 5.2.1 (Contoso Ltd.)
  at sign-in: 45-75 % CPU, responsive desktop + 8-20 s;
* ``fast_startup_off``: 12 % of the devices; every boot after a shutdown is a full boot;
* ``worn_battery``: laptops holding < 60 % (HP EliteBook 840 G5 and ThinkPad L480 health − 0.25);
* ``ram_starved``: devices with ≤ 8 GB RAM (RAM spike time ~60 %, events.py);
* ``not_cloud_managed``: 12 %, ``managementType`` ``configMgr`` (9 %) or ``none`` (3 %);
* ``not_cloud_identity``: 25 % of the domain-joined devices are ``joinType = domain`` (the rest
  ``hybrid``; devices not domain-joined ``entra``);
* ``no_autopilot_profile``: the old models (``none`` 70 % / ``default``) and 10 % of the others;
* ``hang_prone``: HP EliteBook 840 G9 devices with Teams: Teams hangs × 25 on that model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from simulator.catalog import APPS, BOOT_PROFILE, MODELS
from simulator.config import SimulationConfig
from simulator.fleet import Fleet
from simulator.rand import Rand

OLD_MODELS = frozenset({"OptiPlex 3050", "HP ProDesk 600 G3 SFF", "ThinkPad L480", "HP EliteBook 840 G5"})
WORN_MODELS = frozenset({"HP EliteBook 840 G5", "ThinkPad L480"})
AGENT = {"name": "ContosoEndpointAgent.exe", "publisher": "Contoso Ltd.", "version": "5.2.1"}
PROCESS_VERSIONS = {
    "MsMpEng.exe": "4.18.24090.11",
    "OneDrive.exe": "24.201.1006.0005",
    "CcmExec.exe": "5.00.9128.1000",
    "SearchIndexer.exe": "7.0.22621.4317",
    "msedge.exe": "131.0.2903.70",
    "ms-teams.exe": "24277.3502.3161.3007",
}
FAST_CORE_SHARE = 0.6  # a Fast Startup resume's core boot, as a share of a full one (events.boot)
SLOW_GP_EXTRA_MS = 10_000  # a slow site link: a fixed wait on top of the scaled processing
HANG_PRONE = ("ms-teams.exe", "HP EliteBook 840 G9", 25.0)  # (app, model, hang multiplier)


@dataclass
class Cohorts:
    """Per device: the cohort draws (arrays of the fleet's length) and the census fields."""

    fast_startup_off: npt.NDArray[np.bool_]
    gp_mult: npt.NDArray[np.float64]  # 1.0 outside slow_gp
    agent: npt.NDArray[np.bool_]
    agent_cpu: npt.NDArray[np.float64]
    agent_delay_ms: npt.NDArray[np.float64]
    join_type: list[str]
    management_type: list[str]
    autopilot_profile: list[str]
    hang_model: int  # model index of HANG_PRONE (-1: cohorts off)
    hang_app: int  # app index of HANG_PRONE
    enabled: bool = True

    def census_fields(self, i: int) -> dict[str, Any]:
        if not self.enabled:
            return {}
        return {
            "joinType": self.join_type[i],
            "managementType": self.management_type[i],
            "autopilotProfile": self.autopilot_profile[i],
            "isCloudPc": False,
        }

    def hang_mult(self, app: int, model: int) -> float:
        return HANG_PRONE[2] if (app, model) == (self.hang_app, self.hang_model) else 1.0

    def hang_rand(self, seed: int, day: int, i: int, model: int) -> Rand | None:
        """The stream of the hang-prone model's extra hangs for one device-day (``None`` elsewhere)."""
        if model != self.hang_model:
            return None
        return Rand(int(np.random.SeedSequence([seed, 18, day, i]).generate_state(1)[0]))

    def adjust_boot(self, i: int, data: dict[str, Any], total: int) -> int:
        """A Fast Startup resume on a device with Fast Startup off becomes the full boot it would have
        been (core boot / 0.6, simulator/events.py); returns its ``totalBootMs``."""
        if not self.fast_startup_off[i] or data.get("bootKind") != "fastStartup":
            return total
        core = int(data["coreBootMs"])
        full = min(int(core / FAST_CORE_SHARE), 1_800_000)
        grow = full - core
        if total + grow > 3_600_000:
            return total  # keep the record in range: leave this rare one a resume
        for key in ("osLoaderMs", "kernelInitMs", "driverInitMs", "smssInitMs", "criticalServicesInitMs"):
            data[key] = int(data[key] / FAST_CORE_SHARE)
        data.update(
            bootKind="full", coreBootMs=full, mainPathMs=data["mainPathMs"] + grow, totalBootMs=total + grow
        )
        return total + grow

    def adjust_logon(self, i: int, disk: str, data: dict[str, Any]) -> int:
        """Apply the device's sign-in cohorts to a logon body in place; returns its ``totalLogonMs``."""
        if not self.enabled:
            return int(data["totalLogonMs"])
        gp = int(data.get("gpLogonMs") or 0)
        if gp and self.gp_mult[i] > 1.0:
            gp = min(int(gp * float(self.gp_mult[i]) + SLOW_GP_EXTRA_MS) // 1000 * 1000, 600_000)
            data["gpLogonMs"] = gp
            data["desktopShownMs"] = data["coreLogonMs"] + gp
        procs = [
            {**p, "version": PROCESS_VERSIONS.get(p["name"], "1.0")} for p in data["topStartupProcesses"]
        ]
        responsive = int(data["responsiveDesktopMs"])
        if self.agent[i]:
            noise = min(max(responsive / BOOT_PROFILE[disk]["responsive"][0], 0.5), 2.0)
            responsive = min(responsive + int(float(self.agent_delay_ms[i]) * noise), 3_000_000)
            procs.append({**AGENT, "cpuPercent": round(float(self.agent_cpu[i]), 1)})
        data["responsiveDesktopMs"] = responsive
        data["topStartupProcesses"] = procs
        data["totalLogonMs"] = data["desktopShownMs"] + responsive
        return int(data["totalLogonMs"])

    def truth(self, f: Fleet) -> dict[str, list[str]]:
        """Cohort name -> device ids (the manifest's ``cohorts``; empty when they are off)."""
        if not self.enabled:
            return {}
        model = [MODELS[k] for k in f.model.tolist()]
        teams = next(j for j, a in enumerate(APPS) if a.name == HANG_PRONE[0])
        members = {
            "hdd": [m.disk == "hdd" for m in model],
            "slow_gp": (self.gp_mult > 1.0).tolist(),
            "startup_agent": self.agent.tolist(),
            "fast_startup_off": self.fast_startup_off.tolist(),
            "worn_battery": [
                m.has_battery and h < 0.6 for m, h in zip(model, f.battery_health.tolist(), strict=True)
            ],
            "ram_starved": (f.ram_mb <= 8192).tolist(),
            "not_cloud_managed": [t in ("configMgr", "none") for t in self.management_type],
            "not_cloud_identity": [t == "domain" for t in self.join_type],
            "no_autopilot_profile": [t != "assigned" for t in self.autopilot_profile],
            "hang_prone": [
                int(k) == self.hang_model and v >= 0
                for k, v in zip(f.model.tolist(), f.app_ver[:, teams].tolist(), strict=True)
            ],
        }
        return {
            name: [f.device_id[i] for i, yes in enumerate(flags) if yes] for name, flags in members.items()
        }


def build_cohorts(config: SimulationConfig, f: Fleet) -> Cohorts:
    """Draw the cohorts (their own stream) and wear the worn models' batteries in ``f``."""
    n = f.n
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0xF1EE7, 18]))
    u = rng.random((6, n))
    names = [MODELS[k].name for k in f.model.tolist()]
    if not config.insight_cohorts:
        off, none = np.zeros(n, dtype=np.bool_), np.ones(n)
        return Cohorts(off, none, off, none, none, [""] * n, [""] * n, [""] * n, -1, -1, enabled=False)
    worn = np.array([name in WORN_MODELS for name in names])
    f.battery_health[worn] = np.clip(f.battery_health[worn] - 0.25, 0.3, 1.05)
    domain = f.domain
    join = [
        "entra" if not d else "domain" if x < 0.25 else "hybrid" for d, x in zip(domain, u[1], strict=True)
    ]
    manage = [
        "configMgr" if x < 0.09 else "none" if x < 0.12 else "coManaged" if x < 0.55 else "intune"
        for x in u[2]
    ]
    autopilot = [
        ("none" if x < 0.7 else "default") if name in OLD_MODELS else ("default" if x < 0.1 else "assigned")
        for name, x in zip(names, u[3], strict=True)
    ]
    return Cohorts(
        fast_startup_off=u[0] < 0.12,
        gp_mult=np.where(domain & (u[4] < 0.25), rng.uniform(3.0, 6.0, n), 1.0),
        agent=u[5] < 0.20,
        agent_cpu=rng.uniform(45.0, 75.0, n),
        agent_delay_ms=rng.uniform(8_000.0, 20_000.0, n),
        join_type=join,
        management_type=manage,
        autopilot_profile=autopilot,
        hang_model=next(k for k, m in enumerate(MODELS) if m.name == HANG_PRONE[1]),
        hang_app=next(j for j, a in enumerate(APPS) if a.name == HANG_PRONE[0]),
    )
