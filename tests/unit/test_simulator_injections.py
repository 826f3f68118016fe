"""Injected regressions are visible in the generated data, exactly where the manifest says."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from typing import Any

from simulator import Simulation, SimulationConfig
from simulator.catalog import MODELS_BY_NAME
from simulator.manifest import Manifest

START = datetime(2026, 3, 2, tzinfo=UTC)
Record = dict[str, Any]


@cache
def run() -> tuple[tuple[Record, ...], Manifest]:
    sim = Simulation(SimulationConfig(devices=1500, days=12, start=START, seed=11))
    return tuple(r for batch in sim.batches() for r in batch), sim.manifest()


def injection(manifest: Manifest, metric: str) -> Any:
    return next(i for i in manifest.injections if i.metric == metric)


def test_manifest_lists_injections_with_changes_on_the_devices() -> None:
    records, manifest = run()
    assert {i.metric for i in manifest.injections} == {"coreBootMs", "appCrashRate", "none"}
    control = set(manifest.control_devices)
    changes: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r["name"] == "Fleet.Config.Change":
            changes[r["data"]["changeId"]].add(r["ext"]["device"]["localId"])
    for inj in manifest.injections:
        assert inj.affected_devices, inj.name
        assert not control & set(inj.affected_devices), "the control cohort is never touched"
        assert set(inj.affected_devices) <= changes[inj.change_id]
        assert min(inj.applied_day) >= inj.day
    boot = injection(manifest, "coreBootMs")
    models = {r["ext"]["device"]["localId"]: r["ext"]["protocol"]["devModel"] for r in records}
    assert {models[d] for d in boot.affected_devices} == {boot.scope["model"]}


def test_boot_regression_is_about_plus_30_percent_after_the_change() -> None:
    records, manifest = run()
    inj = injection(manifest, "coreBootMs")
    applied = dict(zip(inj.affected_devices, inj.applied_day, strict=True))
    first_change: dict[str, str] = {}
    for r in records:
        d = r["data"]
        if r["name"] == "Fleet.Config.Change" and d["changeId"] == inj.change_id:
            first_change.setdefault(r["ext"]["device"]["localId"], r["time"])
    before: list[int] = []
    after: list[int] = []
    for r in records:
        dev = r["ext"]["device"]["localId"]
        if r["name"] != "Fleet.Boot.Performance" or dev not in applied or r["data"]["bootKind"] != "full":
            continue  # fast-startup boots are 0.6x and their share shifts with update waves
        (after if r["time"] > first_change[dev] else before).append(r["data"]["coreBootMs"])
    ratio = statistics.median(after) / statistics.median(before)
    assert 1.15 <= ratio <= 1.45, (ratio, len(before), len(after))


def test_app_version_crash_rate_is_about_four_times() -> None:
    records, manifest = run()
    inj = injection(manifest, "appCrashRate")
    app, bad = inj.scope["app"], inj.to_version
    usage_days: dict[bool, set[tuple[str, str]]] = {True: set(), False: set()}
    crashes = {True: 0, False: 0}
    for r in records:
        d = r["data"]
        if d.get("appName") != app:
            continue
        key = d["appVersion"] == bad
        if r["name"] == "Fleet.App.UsageSummary":
            usage_days[key].add((r["ext"]["device"]["localId"], r["time"][:10]))
        elif r["name"] == "Fleet.Fault.AppCrash":
            crashes[key] += 1
    rate_bad = crashes[True] / len(usage_days[True])
    rate_ok = crashes[False] / len(usage_days[False])
    assert 2.8 <= rate_bad / rate_ok <= 5.5, (rate_bad, rate_ok, crashes)


def test_noise_only_change_has_no_effect_on_boot() -> None:
    # each device against itself (devices have their own boot level): full boots after the noise
    # change vs before it, the median over devices of the ratio of their medians stays ~1
    records, manifest = run()
    inj = injection(manifest, "none")
    noisy = set(inj.affected_devices) - {
        d for i in manifest.injections if i.metric != "none" for d in i.affected_devices
    }
    changed: dict[str, str] = {}
    for r in records:
        if r["name"] == "Fleet.Config.Change" and r["data"]["changeId"] == inj.change_id:
            changed.setdefault(r["ext"]["device"]["localId"], r["time"])
    split: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for r in records:
        dev = r["ext"]["device"]["localId"]
        if r["name"] == "Fleet.Boot.Performance" and dev in noisy and r["data"]["bootKind"] == "full":
            split[dev][r["time"] > changed[dev]].append(r["data"]["coreBootMs"])
    ratios = [statistics.median(a) / statistics.median(b) for b, a in split.values() if a and b]
    assert len(ratios) > 100
    assert 0.9 <= statistics.median(ratios) <= 1.1, statistics.median(ratios)


def test_hdd_boots_three_to_four_times_ssd() -> None:
    records, manifest = run()
    affected = {d for inj in manifest.injections for d in inj.affected_devices}
    core: dict[str, list[int]] = {"ssd": [], "hdd": []}
    for r in records:
        if r["name"] == "Fleet.Boot.Performance" and r["ext"]["device"]["localId"] not in affected:
            disk = MODELS_BY_NAME[r["ext"]["protocol"]["devModel"]].disk
            core[disk].append(r["data"]["coreBootMs"])
    ratio = statistics.median(core["hdd"]) / statistics.median(core["ssd"])
    mean_ratio = statistics.fmean(core["hdd"]) / statistics.fmean(core["ssd"])
    assert 3.0 <= ratio <= 4.0, ratio
    assert 3.0 <= mean_ratio <= 4.0, mean_ratio
