"""Stop a worker mid-stream (kill -9, or SIGTERM: exit 0 within 30 s) and restart it: its final
aggregates equal the pure step's over the same records, cell for cell (no event lost, none
counted twice)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.integration.cells import (
    assert_same_cells,
    control_records,
    expected_cells,
    final_cells,
    read_partitions,
)
from tests.integration.processors_harness import (
    processed,
    produce_fleet,
    sim_config,
    start_worker,
    stop_cleanly,
    stop_worker,
    topics_env,
    wait_committed,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.mark.parametrize("how", ["kill9", "sigterm"])
def test_stop_and_restart_equals_the_pure_step(kafka_bootstrap: str, tmp_path: Path, how: str) -> None:
    env = {
        **topics_env(kafka_bootstrap),
        "FLEETPULSE_PROCESSOR_BATCH_MAX": "700",
        # the restarted worker gets the partitions once the killed one's session expired
        "FLEETPULSE_PROCESSOR_SESSION_TIMEOUT_S": "8",
    }
    _, n = produce_fleet(kafka_bootstrap, env["FLEETPULSE_TOPIC_EVENTS"], sim_config(devices=120, days=5))
    expected = expected_cells(read_partitions(kafka_bootstrap, env["FLEETPULSE_TOPIC_EVENTS"]))

    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    deadline = time.monotonic() + 120
    while processed(log) < n // 3:
        assert worker.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.1)
    if how == "kill9":
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)
    else:
        print(f"[restart] SIGTERM: exit 0 in {stop_cleanly(worker, log):.2f} s")
    worker = start_worker(env, log)
    try:
        wait_committed(
            kafka_bootstrap, env["FLEETPULSE_PROCESSOR_APP_ID"], env["FLEETPULSE_TOPIC_EVENTS"], [worker]
        )
    except BaseException:
        stop_worker(worker)
        raise
    # the restarted worker stops cleanly too (one CI run killed it after 60 s, unnoticed)
    print(f"[restart] restarted worker: exit 0 in {stop_cleanly(worker, log):.2f} s")

    got = final_cells(kafka_bootstrap, env["FLEETPULSE_TOPIC_AGGREGATES"])
    # the aggregate records commit in their batch's transaction (faust left them outside once)
    aggregates, partitions = env["FLEETPULSE_TOPIC_AGGREGATES"], int(env["FLEETPULSE_PARTITIONS_AGGREGATES"])
    assert control_records(kafka_bootstrap, aggregates, partitions) > 0
    assert_same_cells(got, expected)
