"""The simulated fleet straight onto the events topic -> real workers, one per role (stage 1, stage 2,
as docker-compose.yml runs them) -> exactly the injected regressions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.processors_harness import (
    free_port,
    produce_fleet,
    read_topic,
    sim_config,
    start_worker,
    stop_worker,
    topics_env,
    wait_committed,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_injected_regressions_found_with_their_causes(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = topics_env(kafka_bootstrap)
    manifest, _ = produce_fleet(
        kafka_bootstrap, env["FLEETPULSE_TOPIC_EVENTS"], sim_config(devices=400, days=14)
    )
    log, log2 = tmp_path / "aggregates.log", tmp_path / "regressions.log"
    worker = start_worker({**env, "FLEETPULSE_PROCESSOR_ROLE": "aggregates"}, log)
    port2 = str(free_port())
    role2 = {"FLEETPULSE_PROCESSOR_ROLE": "regressions", "FLEETPULSE_PROCESSOR_METRICS_PORT": port2}
    worker2 = start_worker({**env, **role2}, log2)
    try:
        wait_committed(
            kafka_bootstrap, env["FLEETPULSE_PROCESSOR_APP_ID"], env["FLEETPULSE_TOPIC_EVENTS"], [worker]
        )
        # stage 2 reads what stage 1 committed: done once it committed all of that too
        wait_committed(
            kafka_bootstrap,
            env["FLEETPULSE_PROCESSOR_APP_ID"] + "-regressions",
            env["FLEETPULSE_TOPIC_DEVICE_DAILY"],
            [worker2],
        )
        assert worker.poll() is None, log.read_text()[-3000:]
        assert worker2.poll() is None, log2.read_text()[-3000:]
    finally:
        stop_worker(worker)
        stop_worker(worker2)
    docs = [d for _, d in read_topic(kafka_bootstrap, env["FLEETPULSE_TOPIC_REGRESSIONS"])]
    opened = {(d["scope_type"], d["scope"], d["metric"]): d for d in docs if d["status"] == "open"}
    truth = {i.name: i for i in manifest.injections}
    boot = truth["latitude-7440-graphics-driver"]
    teams = truth["teams-crash-regression"]
    expected = {
        ("model", "Dell Inc.|Latitude 7440", "core_boot_ms"): boot.change_id,
        ("app_version", f"ms-teams.exe|{teams.to_version}", "app_crashes_per_usage_hour"): teams.change_id,
    }
    # both injections found; anything else opened must be a wider scope the same injected change
    # moved (the fleet's or an OS build's median, carried by the regressed model): no false alarm
    assert set(expected) <= set(opened), [(k, d["p_value"]) for k, d in opened.items()]
    injected = {boot.change_id, teams.change_id}
    for key in set(opened) - set(expected):
        doc = opened[key]
        assert key[0] in ("fleet", "os_build"), (key, doc)
        assert doc["causes"], doc
        assert doc["causes"][0]["change_id"] in injected, (key, doc)
    assert len([d for d in docs if d["status"] == "open"]) == len(opened)  # opened once each
    for key, change_id in expected.items():
        doc = opened[key]
        assert doc["causes"], doc
        assert doc["causes"][0]["change_id"] == change_id, doc
        assert doc["change_pct"] > 10
        assert doc["p_value"] < 0.01
        assert doc["devices_current"] >= 5
        assert doc["tenant"] == "contoso"
        assert doc["baseline_name"] == "trailing"
    control = set(manifest.control_devices)
    assert control
    assert not control & set(boot.affected_devices)
