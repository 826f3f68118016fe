"""Processor faults under load: kill -9 of a worker, a rebalance (a second worker joins, then leaves
on SIGTERM), SIGTERM within the deadline. faust ``exactly_once``: state changelog, outputs and
source offsets commit in one transaction, so the merged aggregates equal the counts computed from
the raw tables (a double-counted or lost event changes a count) — docs/reliability.md.

Opt-in (``FLEETPULSE_FAULTS_PROCESSORS=1``): on the 2-core box one run takes 1.5-5 min (the worker
lags the load; aggregates drain slowly), which the CI budget does not hold. The suite covers the
same faults directly against Kafka: tests/integration/test_processors_restart.py (kill -9,
SIGTERM) and test_processors_rebalance.py (join and leave); figures in docs/reliability.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fleetpulse.cli import cli
from tests.faults.harness import FaultStack, Load, Watch, assert_exact, run_fault

pytestmark = [
    pytest.mark.slow,
    pytest.mark.kafka,
    pytest.mark.clickhouse,
    pytest.mark.e2e,
    pytest.mark.skipif("process" not in cli.commands, reason="`fleetpulse process` is not registered yet"),
    pytest.mark.skipif(
        os.environ.get("FLEETPULSE_FAULTS_PROCESSORS") != "1", reason="opt-in: FLEETPULSE_FAULTS_PROCESSORS=1"
    ),
]

MID_LOAD = 6_000


@pytest.fixture
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    return (tmp_path_factory.getbasetemp() / "faults.json",)


def test_processor_kill9_keeps_aggregates_exact(tmp_path: Path, results: tuple[Path, ...]) -> None:
    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        worker = stack.services["processor"]
        load.wait_acked(MID_LOAD)
        watch.fault()
        worker.kill9()
        worker.restart()
        watch.cleared()

    report = run_fault(tmp_path, "processor kill -9", inject, with_processor=True, results=results)
    assert report.aggregates_checked > 0
    assert_exact(report)


def test_rebalance_second_worker_joins_then_leaves(tmp_path: Path, results: tuple[Path, ...]) -> None:
    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        load.wait_acked(MID_LOAD)
        second = stack.processor_service("processor-2")
        watch.fault()
        second.start()
        second.wait_healthy()
        load.wait_acked(2 * MID_LOAD)
        time.sleep(2.0)
        code, took = second.terminate(60)
        watch.extra.update(second_exit_code=code, second_shutdown_s=round(took, 2))
        watch.cleared()

    report = run_fault(
        tmp_path, "processor rebalance (join + leave)", inject, with_processor=True, results=results
    )
    assert report.aggregates_checked > 0
    assert report.extra["second_exit_code"] == 0, report.extra
    assert_exact(report)


def test_processor_sigterm_exits_zero_within_deadline(tmp_path: Path, results: tuple[Path, ...]) -> None:
    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        worker = stack.services["processor"]
        load.wait_acked(MID_LOAD)
        watch.fault()
        code, took = worker.terminate(60)
        watch.extra.update(exit_code=code, shutdown_s=round(took, 2))
        worker.restart()
        watch.cleared()

    report = run_fault(tmp_path, "SIGTERM processor", inject, with_processor=True, results=results)
    assert report.extra["exit_code"] == 0, report.extra
    assert report.extra["shutdown_s"] <= 60
    assert_exact(report)
