"""Faults under a steady simulated load, reconciled exactly (docs/reliability.md).

Each test starts its own stack (own broker, data dir and ports: tests/faults/harness.py), lets
the simulator post a small fleet to the collector, injects one fault mid-load, waits for the
pipeline to drain and checks: every acknowledged event is in ClickHouse once (count per raw table
== the manifest's count per type, distinct (device_id, epoch, seq) == rows). Figures (events,
lost, duplicated, recovery time) are printed (``pytest -s``) and appended to ``faults.json`` in
the test's tmp dir and in the session's base tmp dir.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.faults.harness import FaultStack, Load, Watch, assert_exact, run_fault, run_outage

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.e2e]

MID_LOAD = 6_000  # acknowledged events before the fault (of ~22 000)


@pytest.fixture
def results(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    return (tmp_path_factory.getbasetemp() / "faults.json",)


def test_collector_kill9_mid_load_loses_and_duplicates_nothing(
    tmp_path: Path, results: tuple[Path, ...]
) -> None:
    """kill -9 of the collector twice, restarted on the same port: the agents resend what was not answered;
    the restarted collector's dedup store, warmed from the topic's tail, drops what Kafka already holds."""

    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        collector = stack.services["collector"]
        load.wait_acked(MID_LOAD)
        watch.fault()
        collector.kill9()
        collector.restart()
        load.wait_acked(2 * MID_LOAD)
        time.sleep(random.uniform(0, 0.3))
        collector.kill9()
        collector.restart()
        watch.cleared()

    report = run_fault(tmp_path, "collector kill -9 (2x)", inject, results=results)
    assert_exact(report)
    assert report.retries > 0  # the agents did resend


def test_sink_kill9_three_times_stores_each_event_once(tmp_path: Path, results: tuple[Path, ...]) -> None:
    """kill -9 of the sink at three random points of the load, restarted each time: epochs + tokens."""
    rng = random.Random(11)

    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        sink = stack.services["sink"]
        for k in range(3):
            load.wait_acked(MID_LOAD // 2 + k * 5_000)
            time.sleep(rng.uniform(0.0, 1.5))
            if k == 0:
                watch.fault()
            sink.kill9()
            sink.restart()
        watch.cleared()

    report = run_fault(
        tmp_path,
        "sink kill -9 (3x)",
        inject,
        results=results,
        sink_env={"FLEETPULSE_SINK_EPOCH_MAX_ROWS": "3000"},
    )
    assert_exact(report)


def test_sink_crash_between_insert_and_commit_replays_under_the_same_tokens(
    tmp_path: Path, results: tuple[Path, ...]
) -> None:
    """The worst point for a kill: after the INSERTs, before the offset commit (fault setting)."""

    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        sink = stack.services["sink"]
        load.wait_acked(MID_LOAD)
        normal_env = dict(sink.env)
        sink.stop()
        sink.env["FLEETPULSE_SINK_FAULT_CRASH_AFTER_INSERT"] = "1"
        sink.start()
        watch.fault()
        assert sink.proc is not None
        assert sink.proc.wait(90) == 137, sink.tail()
        sink.env = normal_env
        sink.restart()
        watch.cleared()

    report = run_fault(tmp_path, "sink crash after insert, before commit", inject, results=results)
    assert_exact(report)


@pytest.mark.parametrize("how", ["kill9"])
def test_broker_restart_resumes_and_reconciles(tmp_path: Path, results: tuple[Path, ...], how: str) -> None:
    """The broker dies (kill -9 of the JVM) mid-load and comes back on the same port and data dir."""

    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        load.wait_acked(MID_LOAD)
        watch.fault()
        if how == "kill9":
            stack.kill_kafka()
        else:
            stack.kafka.stop()
        time.sleep(3.0)
        stack.start_kafka()
        for service in stack.services.values():
            service.wait_healthy(120)
        watch.cleared()

    report = run_fault(tmp_path, f"kafka broker restart ({how})", inject, results=results)
    assert_exact(report)


def test_clickhouse_outage_pauses_the_sink_and_catches_up(tmp_path: Path, results: tuple[Path, ...]) -> None:
    """Inserts fail for 15 s (fault setting at the insert boundary): the sink pauses with one epoch in
    memory, the collector keeps accepting into Kafka, then the sink catches up exactly."""
    report = run_outage(tmp_path, outage_s=15.0, epoch_rows=3_000, results=results)
    assert_exact(report)
    assert report.extra["peak_rows_pending"] <= 3_000  # one epoch (SINK_EPOCH_MAX_ROWS) at most


@pytest.mark.parametrize("service", ["collector", "sink"])
def test_sigterm_exits_zero_within_deadline_and_flushes(
    tmp_path: Path, results: tuple[Path, ...], service: str
) -> None:
    """SIGTERM mid-load: the service exits 0 within its shutdown deadline; after a restart nothing
    acknowledged is missing and nothing is stored twice."""
    deadline_s = 30.0

    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        target = stack.services[service]
        load.wait_acked(MID_LOAD)
        watch.fault()
        code, took = target.terminate(deadline_s)
        watch.extra.update(exit_code=code, shutdown_s=round(took, 2))
        target.restart()
        watch.cleared()

    report = run_fault(tmp_path, f"SIGTERM {service}", inject, results=results)
    assert report.extra["exit_code"] == 0, f"{service} did not exit 0 within {deadline_s}s: {report.extra}"
    assert_exact(report)
