"""The simulator's output: reproducible, complete, and consistent per device."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
import pytest

from simulator import Simulation, SimulationConfig, expected_reason, generate
from simulator.events import EVENT_TYPES
from simulator.manifest import Manifest

START = datetime(2026, 3, 2, tzinfo=UTC)
Record = dict[str, Any]


@cache
def run(devices: int = 400, days: int = 10, invalid: float = 0.0) -> tuple[tuple[Record, ...], Manifest]:
    sim = Simulation(SimulationConfig(devices=devices, days=days, start=START, invalid_fraction=invalid))
    records = tuple(rec for batch in sim.batches() for rec in batch)
    return records, sim.manifest()


def valid(records: tuple[Record, ...]) -> list[Record]:
    return [r for r in records if expected_reason(r) is None]


def ndjson(config: SimulationConfig) -> bytes:
    return b"".join(orjson.dumps(rec) + b"\n" for batch in generate(config) for rec in batch)


def test_same_seed_same_bytes_and_other_seed_differs() -> None:
    cfg = SimulationConfig(devices=40, days=3, start=START, invalid_fraction=0.02)
    first = ndjson(cfg)
    assert first == ndjson(cfg)
    assert first != ndjson(cfg.model_copy(update={"seed": 7}))


def test_config_rejects_inconsistent_injections() -> None:
    from pydantic import ValidationError

    from simulator import Injection

    with pytest.raises(ValidationError):
        Injection(
            name="x",
            metric="coreBootMs",
            day=1,
            change_type="driver",
            change_id="d",
            change_name="d",
            model="No Such Model",
        )
    with pytest.raises(ValidationError):
        Injection(name="x", metric="appCrashRate", day=1, change_type="app", change_id="a", change_name="a")
    inj = Injection(name="x", metric="none", day=5, change_type="policy", change_id="p", change_name="p")
    with pytest.raises(ValidationError):
        SimulationConfig(days=5, injections=(inj,))


def test_every_event_type_appears() -> None:
    records, manifest = run()
    names = {r["name"] for r in records}
    assert names == set(EVENT_TYPES)
    assert set(manifest.events_by_type) == set(EVENT_TYPES)
    assert manifest.events_total == len(records)


def test_seq_contiguous_per_device_epoch_and_boot_id_non_decreasing() -> None:
    records, _ = run()
    seqs: dict[tuple[str, str], list[int]] = defaultdict(list)
    boots: dict[str, int] = {}
    epochs_seen: dict[str, list[str]] = defaultdict(list)
    for r in valid(records):
        dev, sdk = r["ext"]["device"]["localId"], r["ext"]["sdk"]
        seqs[(dev, sdk["epoch"])].append(sdk["seq"])
        boot = r["ext"]["os"]["bootId"]
        assert boot >= boots.get(dev, 0), dev
        boots[dev] = boot
        if not epochs_seen[dev] or epochs_seen[dev][-1] != sdk["epoch"]:
            assert sdk["epoch"] not in epochs_seen[dev], "an epoch never comes back"
            epochs_seen[dev].append(sdk["epoch"])
    for key, values in seqs.items():
        assert values == list(range(values[0], values[0] + len(values))), key
    first_seqs = [v[0] for (dev, epoch), v in seqs.items() if epochs_seen[dev][0] != epoch]
    assert first_seqs
    assert all(s == 1 for s in first_seqs), "a new epoch starts at seq 1"


def test_boot_events_match_envelope_and_domain_rule() -> None:
    records, _ = run()
    boots = [r for r in valid(records) if r["name"] == "Fleet.Boot.Performance"]
    assert boots
    for r in boots:
        assert r["data"]["bootId"] == r["ext"]["os"]["bootId"]
    logons = [r for r in valid(records) if r["name"] == "Fleet.Logon.Performance"]
    for r in logons:
        d = r["data"]
        assert (d["gpLogonMs"] > 0) == (d["userType"] == "ad") or d["gpLogonMs"] == 0
        assert d["userType"] in ("ad", "entra")


def test_offline_devices_upload_late_within_96_hours() -> None:
    records, manifest = run()
    assert manifest.late_events > 0
    last_time: dict[str, str] = {}
    lags = []
    for r in valid(records):
        dev = r["ext"]["device"]["localId"]
        if dev in last_time and r["time"] < last_time[dev]:
            pytest.fail("a device's records must stay in time order")
        last_time[dev] = r["time"]
        lags.append(r["time"])
    assert lags


def test_restarts_and_stop_errors_are_realistic() -> None:
    records, manifest = run()
    transitions = [r["data"] for r in valid(records) if r["name"] == "Fleet.Power.Transition"]
    device_months = manifest.devices * manifest.days / 30
    updates = sum(t["category"] in ("restartWithUpdate", "shutdownWithUpdate") for t in transitions)
    assert 0.4 <= updates / device_months <= 1.3
    stops = sum(t["category"] == "blueScreen" for t in transitions)
    assert stops / device_months < 0.2
    for t in transitions:
        assert t["isAbnormal"] == (t["category"] in ("blueScreen", "longPowerButtonPress", "unknown"))
