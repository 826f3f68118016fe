"""Device state (quarantine), scores on known inputs, baseline snapshots."""

from __future__ import annotations

import math
from typing import Any

import pytest

from processors.aggregate import aggregate
from processors.baseline import from_dict, snapshot, to_dict
from processors.device_state import DeviceCensus, apply_event, apply_events, census_lookup
from processors.scores import (
    AppFigures,
    Curve,
    ScoreConfig,
    app_score,
    boot_score,
    device_score,
    device_values,
    fleet_app_score,
    mttf_hours,
    signin_score,
    startup_score,
)

DEV = "s:7C1E2A90-5B3D-4F1A-9C27-3E8D5A6B1F04"


def ev(name: str, boot_id: int, time: str = "2026-03-11T07:41:43.902Z", **data: Any) -> dict[str, Any]:
    return {
        "name": name,
        "time": time,
        "ext": {
            "device": {"localId": DEV},
            "os": {"name": "Windows", "ver": "10.0.22631.4169", "bootId": boot_id},
        },
        "data": {"schemaVersion": 1, **data},
    }


def census_ev(boot_id: int) -> dict[str, Any]:
    return ev(
        "Fleet.Census.Device",
        boot_id,
        oemManufacturerName="Dell Inc.",
        oemModelNumber="Latitude 7440",
        osBuild="10.0.22631.4169",
        primaryDiskMediaType="ssd",
    )


def test_device_state_builds_census_and_quarantines_decreasing_boot_id() -> None:
    st, bad = apply_event(None, ev("Fleet.Boot.Performance", 212, coreBootMs=1, totalBootMs=2, gpBootMs=0))
    assert not bad
    assert st.census.os_build == "10.0.22631.4169"  # from ext.os.ver until a census arrives
    st, bad = apply_event(st, census_ev(212))
    assert st.census == DeviceCensus("Dell Inc.|Latitude 7440", "10.0.22631.4169", "ssd", "unknown")
    st, _ = apply_event(
        st, ev("Fleet.Inventory.AppAdd", 213, appName="teams.exe", appVersion="1.2", source="MSI")
    )
    st, _ = apply_event(st, ev("Fleet.Logon.Performance", 213, userType="ad"))
    assert st.census.join_type == "domain"
    assert st.apps == frozenset({("teams.exe", "1.2")})
    assert st.last_boot_id == 213
    before = st
    st2, bad = apply_event(st, ev("Fleet.Boot.Performance", 200, coreBootMs=1, totalBootMs=2))
    assert bad
    assert st2.quarantined == 1
    assert st2.last_boot_id == 213
    assert st2.census == before.census
    same, bad = apply_event(st2, ev("Fleet.Agent.Heartbeat", 213))  # equal boot id is fine
    assert not bad
    assert same is st2


def test_apply_events_splits_quarantined_and_aggregate_ignores_them() -> None:
    events = [
        census_ev(5),
        ev("Fleet.Boot.Performance", 6, coreBootMs=10_000, totalBootMs=20_000),
        ev("Fleet.Boot.Performance", 4, coreBootMs=99_000, totalBootMs=99_000),
    ]
    states, ok, bad = apply_events({}, events)
    assert len(ok) == 2
    assert bad == [events[2]]
    part, _ = aggregate(ok, census_lookup(states))
    m = part.metrics[("day", 1773187200, "model", "Dell Inc.|Latitude 7440", "core_boot_ms")]
    assert m.count == 1
    assert m.sketch.max == 10_000
    assert states[DEV].quarantined == 1


def test_join_type_rules() -> None:
    st, _ = apply_event(None, ev("Fleet.Logon.Performance", 1, userType="local"))
    assert st.census.join_type == "workgroup"
    st, _ = apply_event(st, ev("Fleet.Logon.Performance", 1, userType="entra"))
    assert st.census.join_type == "entra"
    st, _ = apply_event(st, ev("Fleet.Boot.Performance", 2, gpBootMs=1500, coreBootMs=1, totalBootMs=2))
    assert st.census.join_type == "domain"
    st, _ = apply_event(st, ev("Fleet.Logon.Performance", 2, userType="entra"))
    assert st.census.join_type == "domain"  # sticky


def test_curve_known_values() -> None:
    c = Curve(goal=10_000, poor=60_000)
    assert c.score(5_000) == 100.0
    assert c.score(60_000) == 0.0
    assert c.score(90_000) == 0.0
    assert c.score(math.sqrt(10_000 * 60_000)) == pytest.approx(50.0)  # geometric midpoint


def test_scores_on_known_inputs_and_insufficient_data() -> None:
    cfg = ScoreConfig()
    good = {
        "core_boot_ms": 8_000.0,
        "gp_boot_ms": 0.0,
        "core_logon_ms": 4_000.0,
        "gp_logon_ms": 500.0,
        "total_logon_ms": 10_000.0,
    }
    mid = {"core_boot_ms": math.sqrt(10_000 * 60_000), "gp_boot_ms": 30_000.0}
    assert device_score(good, cfg.boot_weights) == 100.0
    assert device_score(mid, cfg.boot_weights) == pytest.approx(0.7 * 50.0)
    assert device_score({"core_boot_ms": math.sqrt(10_000 * 60_000)}, cfg.boot_weights) == pytest.approx(50.0)
    four = {f"d{i}": good for i in range(4)}
    assert boot_score(four) is None
    five = {**four, "d4": mid}
    assert boot_score(five) == pytest.approx((4 * 100 + 35) / 5)
    assert signin_score(five) is None  # d4 has no sign-in values -> only 4 scored devices
    assert startup_score(five) == pytest.approx((4 * 100 + 35) / 5)
    six = {**five, "d5": good}
    assert startup_score(six) == pytest.approx(0.5 * (5 * 100 + 35) / 6 + 0.5 * 100.0)


def test_app_scores_and_mttf() -> None:
    assert mttf_hours(36_000_000, 5) == 2.0
    assert mttf_hours(1, 0) is None
    assert app_score(3_600_000_000, 0, 10) == 100.0
    assert app_score(3_600_000 * 100, 1, 10) == pytest.approx(50.0)  # MTTF 100 h: log midpoint of 10..1000
    assert app_score(3_600_000, 1, 4) is None
    assert app_score(3_600_000, 1, 10, enrolled=1000) is None  # needs 2 % of 1000 = 20 devices
    apps = {
        "a": AppFigures(3_600_000 * 100, 1, 10),
        "b": AppFigures(3_600_000 * 300, 0, 10),
        "tiny": AppFigures(1, 50, 2),
    }
    assert fleet_app_score(apps) == pytest.approx((100 * 50 + 300 * 100) / 400)
    assert fleet_app_score({"tiny": AppFigures(1, 5, 2)}) is None


def test_device_values_from_samples_and_snapshot_round_trip() -> None:
    events = []
    for i in range(6):
        for ms in (10_000, 12_000, 20_000):
            e = ev("Fleet.Boot.Performance", 1, coreBootMs=ms + i, totalBootMs=ms + 9_000)
            e["ext"]["device"]["localId"] = f"dev{i}"
            events.append(e)
    part, _ = aggregate(events, {})
    vals = device_values(part.samples, ["core_boot_ms"], 1773187200, 1773187200)
    assert vals["dev3"] == {"core_boot_ms": 12_003.0}
    assert boot_score(vals) == pytest.approx(
        sum(100 * (1 - math.log((12_000 + i) / 10_000) / math.log(6)) for i in range(6)) / 6
    )
    snap = snapshot("before-driver-rollout", part, 1773187200, 1773187200, created_at=1.0)
    m = snap.metrics[("fleet", "all", "core_boot_ms")]
    assert (m.count, m.devices) == (18, 6)
    assert m.value is not None
    assert abs(m.value - 12_002) / 12_002 <= 0.01
    assert from_dict(to_dict(snap)) == snap
