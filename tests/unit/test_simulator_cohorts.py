"""The insight cohorts are in the generated data exactly where the manifest says (issue 18)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from typing import Any

from simulator import Simulation, SimulationConfig
from simulator.cohorts import AGENT, HANG_PRONE, WORN_MODELS
from simulator.manifest import Manifest

Record = dict[str, Any]


@cache
def run() -> tuple[tuple[Record, ...], Manifest]:
    config = SimulationConfig(
        devices=240, days=6, start=datetime(2026, 3, 2, tzinfo=UTC), seed=5, injections=()
    )
    sim = Simulation(config)
    return tuple(r for batch in sim.batches() for r in batch), sim.manifest()


def by_device(records: tuple[Record, ...], name: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["name"] == name:
            out[r["ext"]["device"]["localId"]].append(r["data"])
    return out


def test_every_cohort_is_recorded_and_non_empty() -> None:
    _, manifest = run()
    assert set(manifest.cohorts) == {
        "hdd", "slow_gp", "startup_agent", "fast_startup_off", "worn_battery", "ram_starved",
        "not_cloud_managed", "not_cloud_identity", "no_autopilot_profile", "hang_prone",
    }  # fmt: skip
    assert all(manifest.cohorts.values()), {k: len(v) for k, v in manifest.cohorts.items()}
    assert len(manifest.cohorts["startup_agent"]) >= 10  # the startup-process insight needs 10 devices


def test_census_carries_the_wfa_cohorts() -> None:
    records, manifest = run()
    census = {d: rows[-1] for d, rows in by_device(records, "Fleet.Census.Device").items()}
    unmanaged = {d for d, c in census.items() if c["managementType"] in ("configMgr", "none")}
    assert unmanaged == set(manifest.cohorts["not_cloud_managed"]) & set(census)
    assert {d for d, c in census.items() if c["joinType"] == "domain"} == set(
        manifest.cohorts["not_cloud_identity"]
    ) & set(census)
    assert {d for d, c in census.items() if c["autopilotProfile"] != "assigned"} == set(
        manifest.cohorts["no_autopilot_profile"]
    ) & set(census)
    worn = [c for d, c in census.items() if d in manifest.cohorts["worn_battery"]]
    assert worn
    assert all(c["batteryFullChargeCapacityMWh"] < 0.6 * c["batteryDesignCapacityMWh"] for c in worn)


def test_sign_in_cohorts_agent_and_slow_group_policy() -> None:
    records, manifest = run()
    logons = by_device(records, "Fleet.Logon.Performance")
    agent = set(manifest.cohorts["startup_agent"])
    for d, rows in logons.items():
        for row in rows:
            names = {p["name"]: p for p in row["topStartupProcesses"]}
            assert (AGENT["name"] in names) == (d in agent)
            assert all(p["version"] for p in row["topStartupProcesses"])
            assert row["totalLogonMs"] == row["desktopShownMs"] + row["responsiveDesktopMs"]
    slow = set(manifest.cohorts["slow_gp"])

    def gp(ds: set[str]) -> float:
        return float(
            statistics.median(r["gpLogonMs"] for d in ds for r in logons.get(d, []) if r["gpLogonMs"])
        )

    domain = {d for d, rows in logons.items() if any(r["gpLogonMs"] for r in rows)}
    assert gp(slow & domain) > 2 * gp(domain - slow)  # x 3-6 + 10 s


def test_fast_startup_off_and_hang_prone_model() -> None:
    records, manifest = run()
    boots = by_device(records, "Fleet.Boot.Performance")
    off = set(manifest.cohorts["fast_startup_off"])
    assert not any(b.get("bootKind") == "fastStartup" for d in off for b in boots.get(d, []))
    assert any(b.get("bootKind") == "fastStartup" for d, bs in boots.items() if d not in off for b in bs)
    hangs = by_device(records, "Fleet.Fault.AppHang")
    prone = set(manifest.cohorts["hang_prone"])
    teams = HANG_PRONE[0]

    def rate(ds: set[str]) -> float:
        return sum(1 for d in ds for h in hangs.get(d, []) if h["appName"] == teams) / max(len(ds), 1)

    teams_users = {
        d
        for d, rows in by_device(records, "Fleet.App.UsageSummary").items()
        if any(r["appName"] == teams for r in rows)
    }
    assert rate(prone & teams_users) > 8 * rate(teams_users - prone)


def test_devices_outside_the_cohorts_get_the_records_they_would_without_them() -> None:
    """The cohorts draw from their own stream and leave session timelines alone (simulator/cohorts.py)."""
    records, manifest = run()
    config = SimulationConfig(
        devices=240,
        days=6,
        start=datetime(2026, 3, 2, tzinfo=UTC),
        seed=5,
        injections=(),
        insight_cohorts=False,
    )
    plain = tuple(r for batch in Simulation(config).batches() for r in batch)
    touched = set().union(
        *(
            manifest.cohorts[k]
            for k in ("slow_gp", "startup_agent", "fast_startup_off", "hang_prone", "worn_battery")
        )
    )

    def strip(r: Record) -> Record:
        data = {
            k: v
            for k, v in r["data"].items()
            if k not in ("joinType", "managementType", "autopilotProfile", "isCloudPc")
        }
        if "topStartupProcesses" in data:
            data["topStartupProcesses"] = [
                {k: v for k, v in p.items() if k != "version"} for p in data["topStartupProcesses"]
            ]
        return {**r, "data": data}

    def outside(rs: tuple[Record, ...]) -> list[Record]:
        return [
            strip(r)
            for r in rs
            if r["ext"]["device"]["localId"] not in touched
            and r["ext"]["protocol"]["devModel"] not in WORN_MODELS
        ]

    assert len(touched) < 240
    assert outside(records) == outside(plain)
    assert not any("joinType" in r["data"] for r in plain if r["name"] == "Fleet.Census.Device")
