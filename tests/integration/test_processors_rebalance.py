"""A rebalance under load: a second worker joins mid-stream, takes half the partitions, then leaves
on SIGTERM (and must exit 0 within the deadline). The final aggregates equal the pure step's over
the same records, cell for cell: a partition changing hands neither loses nor doubles an event.
With faust's own seek after a rebalance (before ``Consumer.perform_seek`` in
processors/transactions.py) 6 of 11 runs went wrong here: the consumer group's commits crawled for
minutes in 5, one event was lost in 1."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.cells import assert_same_cells, expected_cells, final_cells, read_partitions
from tests.integration.processors_harness import (
    fleet_records,
    free_port,
    processed,
    produce_records,
    sim_config,
    start_worker,
    stop_cleanly,
    stop_worker,
    topics_env,
    wait_committed,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def wait_healthy(port: int, worker: subprocess.Popen[bytes], timeout_s: float = 120.0) -> float:
    """Seconds until the worker's /healthz answers 200 (partitions assigned, tables recovered)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        assert worker.poll() is None, "worker exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise AssertionError("worker never became healthy")


def wait_for(what: str, done: Callable[[], bool], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_second_worker_joins_and_leaves_equals_the_pure_step(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {
        **topics_env(kafka_bootstrap),
        "FLEETPULSE_PROCESSOR_BATCH_MAX": "700",
        "FLEETPULSE_PROCESSOR_SESSION_TIMEOUT_S": "8",
    }
    topic = env["FLEETPULSE_TOPIC_EVENTS"]
    _, records = fleet_records(sim_config(devices=120, days=5))
    third = len(records) // 3
    # the load arrives in three parts: before, during and after the second worker's membership
    parts = [records[:third], records[third : 2 * third], records[2 * third :]]

    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    a = start_worker(env, log_a)
    b = None
    try:
        produce_records(kafka_bootstrap, topic, parts[0])
        wait_for("worker a took the first part", lambda: processed(log_a) >= len(parts[0]))

        port_b = free_port()
        b = start_worker({**env, "FLEETPULSE_PROCESSOR_METRICS_PORT": str(port_b)}, log_b)
        wait_healthy(port_b, b)
        produce_records(kafka_bootstrap, topic, parts[1])
        wait_for(
            "both workers took the second part",
            lambda: processed(log_a) + processed(log_b) >= 2 * third and processed(log_b) > 0,
        )

        took = stop_cleanly(b, log_b)
        produce_records(kafka_bootstrap, topic, parts[2])
        wait_committed(kafka_bootstrap, env["FLEETPULSE_PROCESSOR_APP_ID"], topic, [a])
    finally:
        stop_worker(a)
        if b is not None and b.poll() is None:
            stop_worker(b)

    expected = expected_cells(read_partitions(kafka_bootstrap, topic))
    got = final_cells(kafka_bootstrap, env["FLEETPULSE_TOPIC_AGGREGATES"])
    print(f"[rebalance] b processed {processed(log_b)} of {len(records)}; SIGTERM exit in {took:.2f} s")
    assert_same_cells(got, expected)
