"""``fleetpulse sink`` as a process on a real broker and an embedded store: exactly once, through kill -9.

The sink owns its chdb directory, so it runs as a subprocess (``python -m fleetpulse.cli sink``)
and the test reads through its ``POST /v1/query``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import SinkProcess, count_raw, produce_events, sink_settings, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.e2e, pytest.mark.slow]


def metric_value(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_every_event_lands_exactly_once(
    tmp_path: Path, kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    settings = sink_settings(tmp_path, kafka_bootstrap, new_topic)
    n = 6_500
    produce_events(kafka_bootstrap, settings.topic_events, n)
    sink = SinkProcess(settings)
    try:
        sink.wait_healthy()
        wait_for(lambda: count_raw(sink.query)[0] >= n, 90, f"{n} raw rows")
        assert count_raw(sink.query) == (n, n)
        ((partitions,),) = sink.query(
            "SELECT uniqExact(kafka_partition, kafka_offset) FROM fleetpulse.boot_events"
        )
        ((boots,),) = sink.query("SELECT count() FROM fleetpulse.boot_events")
        assert partitions == boots
        text = sink.metrics_text()
        assert metric_value(text, "fleetpulse_sink_rows_inserted_total", 'table="boot_events"') == boots
        assert (
            metric_value(text, "fleetpulse_event_to_queryable_seconds_count", 'table="boot_events"') == boots
        )
        assert sink.stop() == 0
    finally:
        sink.kill()


def test_kill_between_insert_and_commit_neither_loses_nor_duplicates(
    tmp_path: Path, kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    """Fault injection ``SINK_FAULT_CRASH_AFTER_INSERT``: exit 137 after the first epoch's inserts."""
    settings = sink_settings(tmp_path, kafka_bootstrap, new_topic)
    n = 5_000
    produce_events(kafka_bootstrap, settings.topic_events, n)
    crashing = SinkProcess(
        settings, FLEETPULSE_SINK_FAULT_CRASH_AFTER_INSERT="1", FLEETPULSE_SINK_EPOCH_MAX_ROWS="1500"
    )
    try:
        assert crashing.proc.wait(90) == 137, crashing.log.read_text()[-3000:]
    finally:
        crashing.kill()
    assert "fault injection" in crashing.log.read_text()
    sink = SinkProcess(settings, FLEETPULSE_SINK_EPOCH_MAX_ROWS="1500")
    try:
        sink.wait_healthy()
        # the first epoch (1500 rows, inserted before the crash) is replayed under the same tokens
        wait_for(lambda: count_raw(sink.query)[0] >= n, 90, f"{n} raw rows")
        produce_events(kafka_bootstrap, settings.topic_events, 500, start=n)
        wait_for(lambda: count_raw(sink.query)[0] >= n + 500, 60, f"{n + 500} raw rows")
        assert count_raw(sink.query) == (n + 500, n + 500)
        assert metric_value(sink.metrics_text(), "fleetpulse_sink_epochs_total", 'outcome="replayed"') == 1
        assert sink.stop() == 0
    finally:
        sink.kill()
