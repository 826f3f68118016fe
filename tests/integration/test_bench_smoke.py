"""Smoke test of ``fleetpulse bench``: the tiniest configuration runs and reports every figure.

No timed assertion (performance is measured by the command, never by a test): only that the
JSON document has its keys, that each figure is a number, positive where any run yields one. The
sustained end-to-end rate may honestly be 0 on a loaded machine (no offered step kept up; the
report says so), so only the steps it was searched with must have carried events.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bench.cli import TINY, run_bench
from bench.peers import PEERS
from fleetpulse.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.e2e]

KEYS = (
    "p50_event_to_queryable_s",
    "p99_event_to_queryable_s",
    "bytes_per_event",
    "rss_mb_per_million_devices",
    "percentile_max_rel_error",
)


def test_tiny_bench_reports_every_figure(kafka_bootstrap: str, tmp_path: Path) -> None:
    peers = tuple(p for p in PEERS if p != "quixstreams" or importlib.util.find_spec("quixstreams"))
    doc = run_bench(load_settings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path), TINY, peers)
    for key in KEYS:
        assert isinstance(doc[key], float), key
        assert doc[key] > 0, key
    assert isinstance(doc["end_to_end_events_per_s"], float)
    assert doc["end_to_end_events_per_s"] >= 0
    assert doc["steps"]
    assert all(step["accepted"] > 0 for step in doc["steps"]), doc["steps"]
    assert doc["stages"]["collector accept rate, flat out (events/s)"] > 0
    assert set(doc["peers"]) == set(peers)
    assert all(rate > 0 for rate in doc["peers"].values()), doc["peer_runs"]
    assert doc["storage"]["boot_events"]["rows"] > 0
