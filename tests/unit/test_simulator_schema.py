"""Every simulated record passes the real contract decoder; every invalid one fails with its reason."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson

import schemas
from simulator import Simulation, SimulationConfig, expected_reason

START = datetime(2026, 3, 2, tzinfo=UTC)


def _reason(raw: bytes, received: datetime) -> str | None:
    try:
        schemas.decode(raw, received_at=received)
    except schemas.InvalidEvent as exc:
        return exc.reason
    return None


def test_valid_records_decode_and_invalid_ones_fail_with_the_manifest_reason() -> None:
    config = SimulationConfig(devices=150, days=8, start=START, invalid_fraction=0.01)
    received = START + timedelta(days=config.days, hours=12)
    sim = Simulation(config)
    rejected: Counter[str] = Counter()
    accepted = 0
    for batch in sim.batches():
        for rec in batch:
            raw = orjson.dumps(rec)
            want = expected_reason(rec)
            got = _reason(raw, received)
            assert want == got, (want, got, raw[:300])
            if got is None:
                accepted += 1
            else:
                rejected[got] += 1
    manifest = sim.manifest()
    assert accepted == manifest.events_total
    assert dict(rejected) == manifest.invalid_by_reason
    assert set(rejected) == {"time_out_of_range", "out_of_range", "invariant_violated"}
    assert manifest.invalid_total == sum(rejected.values()) > 0


def test_default_start_passes_the_freshness_check_now() -> None:
    config = SimulationConfig(devices=10, days=3, injections=())
    for batch in Simulation(config).batches():
        for rec in batch:
            schemas.decode(orjson.dumps(rec))
