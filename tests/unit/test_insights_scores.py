"""Resource, battery and work-from-anywhere scores on constructed fleets, computed by hand."""

from __future__ import annotations

import pytest

from processors.insights import battery, resource, wfa
from processors.insights.config import DEFAULT_INSIGHTS, BatteryConfig, Linear

H = 3_600_000
RES = DEFAULT_INSIGHTS.resource
BAT = DEFAULT_INSIGHTS.battery
WFA = DEFAULT_INSIGHTS.wfa


def test_linear_curve_both_directions() -> None:
    lower = Linear(good=5, poor=50)
    assert (lower.score(5), lower.score(50), lower.score(27.5), lower.score(0), lower.score(80)) == (
        100.0,
        0.0,
        50.0,
        100.0,
        0.0,
    )
    higher = Linear(good=90, poor=50)
    assert (higher.score(70), higher.score(95), higher.score(10)) == (50.0, 100.0, 0.0)
    with pytest.raises(ValueError, match="differ"):
        Linear(good=1, poor=1)


def test_resource_device_spike_percent_and_score() -> None:
    d = resource.score_device(resource.DeviceUsage("a", "M", 10 * H, 1 * H, 4 * H), RES)
    assert d is not None
    assert (d.cpu_spike_pct, d.ram_spike_pct, d.usage_hours) == (10.0, 40.0, 10.0)
    cpu = 100 * (50 - 10) / (50 - 5)  # 88.9
    ram = 100 * (70 - 40) / (70 - 10)  # 50
    assert d.cpu_score == pytest.approx(cpu)
    assert d.ram_score == pytest.approx(ram)
    assert d.score == pytest.approx((cpu + ram) / 2)
    assert resource.score_device(resource.DeviceUsage("b", "M", 1.5 * H, 0, 0), RES) is None  # < 2 h


def test_resource_models_fleet_and_starved_model_removed() -> None:
    usage = [resource.DeviceUsage(f"s{i}", "Slow", 10 * H, 3 * H, 6 * H) for i in range(5)]  # 30 % / 60 %
    usage += [resource.DeviceUsage(f"f{i}", "Fast", 10 * H, 0.5 * H, 1 * H) for i in range(5)]  # 5 % / 10 %
    usage.append(resource.DeviceUsage("x", "Few", 10 * H, 0, 0))
    devices = resource.score_devices(usage, RES)
    slow = (100 * 20 / 45 + 100 * 10 / 60) / 2  # 30.6
    assert resource.fleet_score(devices, RES) == pytest.approx((5 * slow + 5 * 100 + 100) / 11)
    rows = {r.model: r for r in resource.by_model(devices, RES)}
    assert rows["Slow"].score == pytest.approx(slow)
    assert rows["Slow"].starved
    assert not rows["Fast"].starved
    assert rows["Few"].score is None  # 1 device < 5
    assert [r.model for r in resource.by_model(devices, RES)] == ["Slow", "Fast", "Few"]
    fixed = resource.unstarved(devices, "Slow", RES)
    # the healthy devices' medians: 5 x (5 %, 10 %) and one (0 %, 0 %) -> 5 %, 10 % -> score 100
    assert [d.score for d in fixed if d.model == "Slow"] == [100.0] * 5
    assert resource.fleet_score(fixed, RES) == pytest.approx(100.0)


def test_battery_capacity_runtime_and_replacement() -> None:
    d = battery.DeviceBattery("a", "M", "10.0.22631.1", 50_000, 30_000, 400, 20_000, 4 * H, 7_000)
    h = battery.health(d, BAT)
    assert h.capacity_pct == 60.0
    assert h.runtime_hours == 6.0  # 30 Wh / (20 Wh / 4 h)
    assert h.capacity_score == pytest.approx(100 * (60 - 50) / (90 - 50))  # 25
    assert h.runtime_score == pytest.approx(100 * (6 - 2) / (8 - 2))  # 66.7
    assert h.score == pytest.approx((25 + 200 / 3) / 2)
    new = battery.replaced(h, BAT)
    assert (new.capacity_pct, new.runtime_hours, new.score) == (100.0, 10.0, 100.0)
    short = battery.DeviceBattery("b", "M", "", 50_000, 45_000, None, 500, 0.5 * H, 9_000)
    assert battery.health(short, BAT).runtime_hours is None  # 30 min on battery < 1 h
    assert battery.health(short, BAT).score == battery.health(short, BAT).capacity_score == 100 * 40 / 40
    rate_only = battery.DeviceBattery("c", "M", "", 50_000, 40_000, None, 0, 0, 10_000)
    assert battery.health(rate_only, BAT).runtime_hours == 4.0
    weighted = BatteryConfig(capacity_weight=3, runtime_weight=1)
    assert battery.health(d, weighted).score == pytest.approx((3 * 25 + 200 / 3) / 4)


def test_battery_groups_and_app_impact() -> None:
    hs = [
        battery.health(battery.DeviceBattery(f"o{i}", "Old", "b1", 50_000, 27_500, 900, 0, 0, None), BAT)
        for i in range(5)
    ]  # 55 %: capacity score 12.5, no runtime
    hs += [
        battery.health(battery.DeviceBattery("n", "New", "b1", 50_000, 35_000, 50, 0, 0, None), BAT)
    ]  # 70 %
    old, new = battery.grouped(hs, lambda h: h.model, BAT)
    assert (old.name, old.devices, old.score, old.most_impacted, old.mean_cycle_count) == (
        "Old",
        5,
        12.5,
        5,
        900,
    )
    assert (new.name, new.score, new.moderately_impacted, new.mean_capacity_pct) == ("New", None, 1, 70.0)
    assert battery.fleet_score(hs, BAT) == pytest.approx((5 * 12.5 + 50) / 6)
    impact = battery.app_impact([("a.exe", 100.0, 2), ("b.exe", 300.0, 1)], 800.0)
    assert [(i.app, i.share_pct) for i in impact] == [("b.exe", 37.5), ("a.exe", 12.5)]


def census(i: int, **kw: object) -> wfa.CensusFacts:
    base: dict[str, object] = {
        "device_id": f"d{i}",
        "model": "M",
        "os_build": "10.0.22631.4169",
        "join_type": "entra",
        "management_type": "intune",
        "autopilot_profile": "assigned",
    }
    return wfa.CensusFacts(**{**base, **kw})  # type: ignore[arg-type]  # test rows, checked by the asserts


def test_wfa_metrics_score_and_reasons() -> None:
    fleet = [census(i) for i in range(6)]
    fleet += [census(6, os_build="10.0.19045.5247", join_type="domain", management_type="configMgr")]
    fleet += [census(7, management_type=None, autopilot_profile="default")]
    fleet += [census(8, autopilot_profile="none", join_type="hybrid", management_type="coManaged")]
    fleet += [census(9, is_cloud_pc=True, autopilot_profile=None)]
    devices = [wfa.assess(c, WFA) for c in fleet]
    summary = {s.metric: s for s in wfa.summarize(devices, WFA)}
    assert (summary["windows"].met, summary["windows"].not_met, summary["windows"].pct) == (9, 1, 90.0)
    assert (summary["cloud_management"].unknown, summary["cloud_management"].pct) == (1, 100 * 8 / 9)
    assert summary["cloud_identity"].pct == 90.0
    assert summary["cloud_provisioning"].pct == 80.0  # the default profile and no Autopilot miss it
    assert wfa.wfa_score(devices, WFA) == pytest.approx(0.4 * 90 + 0.2 * 800 / 9 + 0.2 * 90 + 0.2 * 80)
    d6 = devices[6]
    assert d6.checks["windows"].reason.startswith("build 19045 is not a supported")
    assert d6.checks["cloud_identity"] == wfa.Check(False, "domain joined: not Entra joined or hybrid joined")
    assert d6.score == pytest.approx(0.2 * 100 / 1.0)  # only provisioning met
    assert devices[7].checks["cloud_management"] == wfa.Check(None, "management type not reported")
    assert devices[7].score == pytest.approx((0.4 * 100 + 0.2 * 100) / 0.8)
    assert devices[9].checks["cloud_provisioning"].reason == "Windows 365 Cloud PC"
    fixed = wfa.with_met(devices, "windows", WFA)
    assert wfa.wfa_score(fixed, WFA) == pytest.approx(0.4 * 100 + 0.2 * 800 / 9 + 0.2 * 90 + 0.2 * 80)
    assert wfa.wfa_score(devices[:4], WFA) is None  # fewer than 5 devices


def test_windows11_readiness() -> None:
    old = census(
        1, os_build="10.0.19045.1", tpm_version=1, secure_boot=True, firmware_type="UEFI", ram_mb=8192,
        disk_mb=256_000, processor="Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz",
    )  # fmt: skip
    assert wfa.windows11_readiness(old) == ("not capable", ["TPM 2.0", "supported processor"])
    ok = census(
        2, os_build="10.0.19045.1", tpm_version=2, secure_boot=True, firmware_type="UEFI", ram_mb=8192,
        disk_mb=256_000, processor="12th Gen Intel(R) Core(TM) i5-1245U",
    )  # fmt: skip
    assert wfa.windows11_readiness(ok) == ("capable", [])
    assert wfa.windows11_readiness(census(3))[0] == "upgraded"
    assert wfa.windows11_readiness(census(4, os_build="10.0.19045.1"))[0] == "unknown"
    assert wfa.cpu_supported("AMD Ryzen 5 1600") is False
    assert wfa.cpu_supported("AMD Ryzen 7 5800U") is True
