"""Startup processes, anomalies, the overall score and every insight's points, computed by hand."""

from __future__ import annotations

import math

import pytest

from processors import scores
from processors.insights import anomalies, battery, resource, rules, startup_processes, wfa
from processors.insights.config import DEFAULT_INSIGHTS, AnomalyConfig, OverallConfig
from processors.insights.overall import (
    AppFacts,
    FastStartupDevice,
    FleetFacts,
    StartupFacts,
    overall,
    sub_scores,
)

H = 3_600_000
CFG = DEFAULT_INSIGHTS


def curve(v: float, goal: float, poor: float) -> float:
    """The published timing curve, written out again: 100 · (1 − ln(v/goal) / ln(poor/goal))."""
    return (
        100.0 if v <= goal else 0.0 if v >= poor else 100 * (1 - math.log(v / goal) / math.log(poor / goal))
    )


def test_startup_process_delay_listing_and_removal() -> None:
    assert startup_processes.delay_ms(20_000, 35) == 7_000
    p = startup_processes.ProcessImpact
    rows = [
        p("agent.exe", "Contoso", "5.2", 12, 40, 9_000, 400_000, 60),
        p("small.exe", "X", "1", 9, 30, 20_000, 900_000, 80),  # 9 devices: not listed
        p("av.exe", "MS", "4", 30, 90, 1_000, 500_000, 10),
    ]
    cfg = CFG.startup_processes
    assert [r.name for r in startup_processes.listed(rows, cfg)] == ["av.exe", "agent.exe"]
    assert [r.name for r in startup_processes.insight_processes(rows, cfg)] == ["agent.exe"]  # 1 s < 2 s
    values = {"a": {"total_logon_ms": 30_000.0, "core_logon_ms": 5_000.0}, "b": {"total_logon_ms": 12_000.0}}
    delays = {"a": {rows[0].key: 9_000.0, rows[2].key: 500.0}, "b": {rows[0].key: 8_000.0}}
    after = startup_processes.without(values, {"a": 10_000.0, "b": 6_000.0}, delays, {rows[0].key})
    assert after == {
        "a": {"total_logon_ms": 21_000.0, "core_logon_ms": 5_000.0},
        "b": {"total_logon_ms": 6_000.0},
    }


def counts(kind: str, asset: str, per_device: dict[str, int]) -> list[anomalies.DeviceCount]:
    return [
        anomalies.DeviceCount(d, kind, asset, n, "2026-03-02", "2026-03-05") for d, n in per_device.items()
    ]


def test_anomaly_threshold_severity_groups_and_at_risk() -> None:
    features: dict[str, dict[str, frozenset[str]]] = {}
    for i in range(40):
        model = "HP/G9" if i < 8 else "Dell/7440"
        features[f"d{i:02d}"] = {
            "manufacturer": frozenset({model.split("/")[0]}),
            "model": frozenset({model}),
            "os_version": frozenset({"10.0.22631.4169" if i % 2 else "10.0.26100.2033"}),
            "application": frozenset({"teams.exe 1.0"} if i < 30 else {"other.exe 2"}),
        }
    hangs = {f"d{i:02d}": 5 for i in range(6)}  # 6 of the 8 G9: anomalous
    hangs |= {"d06": 1, "d10": 3}  # one affected G9; one anomalous Dell
    found = anomalies.detect(counts("app_hang", "teams.exe", hangs), features, CFG.anomalies)
    (a,) = found
    assert (a.kind, a.asset, a.exposed, a.anomalous, a.affected, a.events) == (
        "app_hang",
        "teams.exe",
        30,
        7,
        1,
        34,
    )
    assert a.share == 7 / 30  # >= 10 %: high
    assert a.severity == "high"
    top = a.groups[0]
    assert top.features == (("manufacturer", "HP"),) or top.features == (("model", "HP/G9"),)
    g9 = next(g for g in a.groups if g.features == (("model", "HP/G9"),))
    assert (g9.devices, g9.anomalous, g9.affected, g9.at_risk, g9.prevalence, g9.level) == (
        8,
        6,
        1,
        1,
        0.75,
        "high",
    )
    assert g9.at_risk_devices == ("d07",)
    assert all(("model", "Dell/7440") not in g.features for g in a.groups)  # 1 of 22: no lift
    quiet = anomalies.detect(counts("app_hang", "teams.exe", {"d01": 5, "d02": 5}), features, CFG.anomalies)
    assert quiet == []  # 2 anomalous devices < 3
    low_cfg = AnomalyConfig(high_share=0.9, medium_share=0.5)
    (low,) = anomalies.detect(counts("app_hang", "teams.exe", hangs), features, low_cfg)
    assert (low.severity, low.groups) == ("low", ())


def test_stop_error_anomaly_exposes_every_device_and_pairs_features() -> None:
    features = {
        f"d{i}": {
            "model": frozenset({"A" if i < 20 else "B"}),
            "driver": frozenset({"wifi 23.60" if i % 2 == 0 else "wifi 23.50"}),
        }
        for i in range(40)
    }
    stops = {f"d{i}": 2 for i in range(0, 20, 2)}  # model A with the new driver: 10 devices
    (a,) = anomalies.detect(counts("stop_error", "Netwtw10.sys", stops), features, CFG.anomalies)
    assert (a.exposed, a.anomalous, a.share, a.severity) == (40, 10, 0.25, "high")
    pair = a.groups[0]
    assert pair.features == (("driver", "wifi 23.60"), ("model", "A"))
    assert (pair.devices, pair.prevalence, pair.at_risk) == (10, 1.0, 0)
    singles = {g.features: g.prevalence for g in a.groups if len(g.features) == 1}
    assert singles == {(("model", "A"),): 0.5, (("driver", "wifi 23.60"),): 0.5}
    # P(X >= 10 | 20, 0.25) = 0.0139 < 0.05 keeps each single; a stricter test drops them (and the pair)
    assert anomalies.binom_sf(10, 20, 0.25) == pytest.approx(0.013864, abs=1e-6)
    (strict,) = anomalies.detect(
        counts("stop_error", "x.sys", stops), features, AnomalyConfig(group_alpha=0.01)
    )
    assert strict.groups == ()


def test_a_few_devices_sharing_a_driver_by_chance_are_no_cohort() -> None:
    """3 of the 3 devices with a driver are anomalous, but they are the model's: no pair group."""
    features = {
        f"d{i}": {
            "model": frozenset({"G9" if i < 10 else "X"}),
            "driver": frozenset({"rt"} if i < 3 else set()),
        }
        for i in range(60)
    }
    hangs = {f"d{i}": 4 for i in range(9)}  # 9 of the 10 G9
    (a,) = anomalies.detect(
        counts("app_hang", "t.exe", hangs),
        {d: {**f, "application": frozenset({"t.exe 1"})} for d, f in features.items()},
        CFG.anomalies,
    )
    # the pair (driver, model) is no cohort: P(3 of 3 | the model's 0.9) = 0.73; the driver alone is
    # (3 of 3 at the fleet's 0.15), but the model's 9 of 10 is far stronger evidence and ranks first
    assert [g.features for g in a.groups] == [(("model", "G9"),), (("driver", "rt"),)]
    assert anomalies.binom_sf(3, 3, 0.9) == pytest.approx(0.729)
    assert a.groups[0].p_value == pytest.approx(anomalies.binom_sf(9, 10, 0.15))


def startup_fleet() -> StartupFacts:
    """5 HDD devices at 40 s core boot / 20 s core sign-in / 60 s responsive, 5 SSD at the goals."""
    values, disk = {}, {}
    for i in range(10):
        hdd = i < 5
        values[f"d{i}"] = {
            "core_boot_ms": 40_000.0 if hdd else 10_000.0,
            "core_logon_ms": 20_000.0 if hdd else 5_000.0,
            "total_logon_ms": 60_000.0 if hdd else 15_000.0,
        }
        disk[f"d{i}"] = "hdd" if hdd else "ssd"
    model = {d: "Old" if i < 5 else "New" for i, d in enumerate(values)}
    return StartupFacts(values=values, disk=disk, model=model)


def test_hdd_insight_points_and_overall() -> None:
    boot_hdd = curve(40_000, 10_000, 60_000)
    signin_hdd = (0.4 * curve(20_000, 5_000, 45_000) + 0.4 * curve(60_000, 15_000, 90_000)) / 0.8
    before = 0.5 * (5 * 100 + 5 * boot_hdd) / 10 + 0.5 * (5 * 100 + 5 * signin_hdd) / 10
    apps = AppFacts(apps={"a.exe": scores.AppFigures(100 * H, 0, 10)}, enrolled=10)
    facts = FleetFacts(startup=startup_fleet(), apps=apps)
    sub = sub_scores(facts, CFG)
    assert sub["startup"] == pytest.approx(before)
    assert sub["app_reliability"] == 100.0
    assert (sub["work_from_anywhere"], sub["resource"], sub["battery"]) == (None, None, None)
    assert overall(sub, CFG.overall) == pytest.approx((0.3 * before + 0.3 * 100) / 0.6)
    (hdd,) = rules.evaluate(facts, CFG)
    assert hdd.id == "hdd_to_ssd"
    assert hdd.device_ids == ("d0", "d1", "d2", "d3", "d4")
    assert hdd.models == (("Old", 5),)
    assert hdd.evidence["ssd_hdd_ratio_core_boot_ms"] == 0.25  # measured: 10 s / 40 s
    assert hdd.after == pytest.approx(100.0)  # HDD devices now boot like the SSD ones
    assert hdd.points == pytest.approx(100 - before)
    assert hdd.overall_points == pytest.approx(0.5 * (100 - before))


def test_group_policy_startup_process_and_fast_startup_insights() -> None:
    values = {
        f"d{i}": {"gp_logon_ms": 9_000.0 if i < 3 else 1_000.0, "total_logon_ms": 30_000.0} for i in range(6)
    }
    key = ("agent.exe", "Contoso", "5.2")
    procs = [startup_processes.ProcessImpact(*key, 10, 20, 6_000, 120_000, 50)]
    delays = {f"d{i}": {key: 6_000.0} for i in range(6)}
    fast = [FastStartupDevice("d0", "M", 4, 0, 25_000.0), FastStartupDevice("d1", "M", 4, 1, 25_000.0)]
    st = StartupFacts(
        values=values, desktop_ms=dict.fromkeys(values, 10_000.0), processes=procs, process_delays=delays,
        fast_startup=fast, fast_core_ms=7_000.0,
    )  # fmt: skip
    found = {i.id: i for i in rules.evaluate(FleetFacts(startup=st), CFG)}
    signin = [(0.2 * curve(9_000, 1_000, 30_000) + 0.4 * curve(30_000, 15_000, 90_000)) / 0.6] * 3
    signin += [(0.2 * 100 + 0.4 * curve(30_000, 15_000, 90_000)) / 0.6] * 3
    before = sum(signin) / 6  # no boot metric: the startup score is the sign-in score
    gp = found["group_policy_signin"]
    after_gp = (0.2 * 100 + 0.4 * curve(22_000, 15_000, 90_000)) / 0.6  # 9 s GP -> 1 s, total -8 s
    assert gp.device_ids == ("d0", "d1", "d2")
    assert gp.points == pytest.approx((3 * after_gp + sum(signin[3:])) / 6 - before)
    proc = found["startup_process:agent.exe"]
    after_proc = [
        (0.2 * curve(g, 1_000, 30_000) + 0.4 * curve(24_000, 15_000, 90_000)) / 0.6
        for g in (9_000,) * 3 + (1_000,) * 3
    ]
    assert proc.points == pytest.approx(sum(after_proc) / 6 - before)
    off = found["fast_startup_off"]
    assert (off.informational, off.points, off.device_ids) == (True, 0.0, ("d0",))
    assert off.evidence["boot_hours_saved"] == pytest.approx(4 * 18_000 / H)
    assert list(found)[-1] == "fast_startup_off"  # informational last


def test_app_version_wfa_battery_and_starved_model_insights() -> None:
    apps = AppFacts(
        apps={"t.exe": scores.AppFigures(200 * H, 30, 10), "o.exe": scores.AppFigures(100 * H, 0, 10)},
        versions={
            ("t.exe", "2"): scores.AppFigures(100 * H, 25, 5),  # MTTF 4 h
            ("t.exe", "1"): scores.AppFigures(100 * H, 5, 5),  # MTTF 20 h: 5x better
        },
        version_devices={("t.exe", "2"): ("d5", "d6")},
        enrolled=10,
    )
    census = [
        wfa.CensusFacts(f"d{i}", "M", "10.0.19045.1" if i < 2 else "10.0.22631.1", join_type="entra",
                        management_type="intune", autopilot_profile="assigned")
        for i in range(10)
    ]  # fmt: skip
    cells = [battery.DeviceBattery(f"d{i}", "M", "b", 50_000, 45_000, None, 0, 0, None) for i in range(6)]
    cells[:2] = [battery.DeviceBattery(f"d{i}", "M", "b", 50_000, 25_000, None, 0, 0, None) for i in range(2)]
    healths = battery.healths(cells, CFG.battery)
    usage = [resource.DeviceUsage(f"s{i}", "Slow", 10 * H, 3 * H, 6 * H) for i in range(5)]
    usage += [resource.DeviceUsage(f"f{i}", "Fast", 10 * H, 0.5 * H, 1 * H) for i in range(5)]
    facts = FleetFacts(
        startup=StartupFacts(values={}), apps=apps, wfa=[wfa.assess(c, CFG.wfa) for c in census],
        resource=resource.score_devices(usage, CFG.resource), battery=healths,
    )  # fmt: skip
    found = {i.id: i for i in rules.evaluate(facts, CFG)}
    assert set(found) == {"app_version:t.exe@2", "windows", "battery_replacement", "starved_model:Slow"}
    app = found["app_version:t.exe@2"]
    fixed = scores.AppFigures(200 * H, 5 + 5, 10)  # version 2 at 20 h MTTF: 100 h / 20 h = 5 crashes
    assert app.after == pytest.approx(
        scores.fleet_app_score({"t.exe": fixed, "o.exe": apps.apps["o.exe"]}, 10)
    )
    assert app.device_ids == ("d5", "d6")
    win = found["windows"]
    assert win.before == pytest.approx(0.4 * 80 + 0.6 * 100)
    assert win.after == pytest.approx(100.0)
    bat = found["battery_replacement"]
    assert bat.device_ids == ("d0", "d1")
    assert bat.before == pytest.approx(4 * 100 / 6)  # two at 50 % score 0, four at 90 % score 100
    assert bat.after == pytest.approx(100.0)
    slow = found["starved_model:Slow"]
    assert slow.after == pytest.approx(100.0)
    assert "RAM" in slow.title
    sub = sub_scores(facts, CFG)
    weights = OverallConfig().weights()
    assert overall(sub, CFG.overall) == pytest.approx(
        sum(weights[k] * v for k, v in sub.items() if v is not None)
        / sum(weights[k] for k, v in sub.items() if v is not None)
    )
    assert found["windows"].overall_points == pytest.approx(
        (overall({**sub, "work_from_anywhere": 100.0}, CFG.overall) or 0) - (overall(sub, CFG.overall) or 0)
    )
