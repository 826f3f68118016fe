"""The writer in-process on a real broker, against this module's embedded store.

* ClickHouse outage: the engine is embedded, so the outage is injected at the backend boundary
  (a wrapper whose inserts raise ``ConnectionError`` for K seconds) while events keep coming.
* Aggregates: rows re-emitted with increasing versions per source partition; ``FINAL`` keeps the
  latest per partition and ``aggregates_merged`` merges partitions exactly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from fleetpulse.settings import Settings
from sinks.clickhouse import Backend
from sinks.queries import aggregates_merged
from tests.integration.conftest import (
    count_raw,
    pipeline_thread,
    produce,
    produce_events,
    sink_settings,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


class FlakyBackend:
    """The real backend, except that inserts raise ``ConnectionError`` until ``healthy_at``."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.url = inner.url
        self.healthy_at = 0.0
        self.failures = 0

    def execute(self, sql: str, params: Any = None) -> None:
        self.inner.execute(sql, params)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.inner.query(sql, params)

    def query_json(
        self, sql: str, params: Any = None, *, settings: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        return self.inner.query_json(sql, params, settings=settings)

    def insert(
        self, table: str, columns: Sequence[str], rows: Any, *, dedup_token: str | None = None
    ) -> None:
        if time.monotonic() < self.healthy_at:
            self.failures += 1
            raise ConnectionError("injected: ClickHouse unreachable")
        self.inner.insert(table, columns, rows, dedup_token=dedup_token)

    def close(self) -> None:
        """The module fixture closes the real backend."""


def settings_for(
    tmp_path: Path, clickhouse: Backend, bootstrap: str, new_topic: Callable[..., str], **kw: Any
) -> Settings:
    base = sink_settings(tmp_path, bootstrap, new_topic, **kw)
    return base.model_copy(update={"clickhouse_url": clickhouse.url})


def test_outage_pauses_bounds_memory_and_loses_nothing(
    tmp_path: Path, clickhouse: Backend, kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    """Inserts fail for 6 s under continuous production: paused=1, pending <= cap, then exactly once."""
    cap = 2_000
    settings = settings_for(
        tmp_path, clickhouse, kafka_bootstrap, new_topic,
        sink_epoch_max_rows=cap, sink_retry_initial_s=0.2, sink_retry_max_s=1.0,
    )  # fmt: skip
    flaky = FlakyBackend(clickhouse)
    before = count_raw(clickhouse.query)
    total = 0
    with pipeline_thread(settings, flaky) as metrics:
        total += produce_events(kafka_bootstrap, settings.topic_events, 1_000, start=0)
        wait_for(lambda: count_raw(clickhouse.query)[0] - before[0] >= 1_000, 30, "first rows")
        flaky.healthy_at = time.monotonic() + 6.0
        paused_seen, max_pending = 0.0, 0.0
        producing = threading.Thread(
            target=lambda: produce_events(kafka_bootstrap, settings.topic_events, 12_000, start=1_000)
        )
        producing.start()
        while time.monotonic() < flaky.healthy_at + 1.0:
            paused_seen = max(paused_seen, metrics.paused._value.get())
            max_pending = max(max_pending, metrics.rows_pending._value.get())
            time.sleep(0.05)
        producing.join(60)
        total += 12_000
        wait_for(lambda: count_raw(clickhouse.query)[0] - before[0] >= total, 60, f"{total} rows")
        time.sleep(1.5)  # nothing more may arrive
        after = count_raw(clickhouse.query)
        assert (after[0] - before[0], after[1] - before[1]) == (total, total)
        assert paused_seen == 1.0
        assert 0 < max_pending <= cap
        assert flaky.failures > 1
        assert metrics.paused._value.get() == 0.0
        assert metrics.insert_failures._metrics  # counted per table


def metric_msg(partition: int, version: int, count: int, buckets: dict[int, int], devices: int) -> bytes:
    return orjson.dumps(
        {
            "kind": "metric",
            "tenant": "aggr",
            "window_kind": "day",
            "window_start": "2026-03-11T00:00:00Z",
            "scope_type": "fleet",
            "scope": "",
            "metric": "total_boot_ms",
            "source_partition": partition,
            "version": version,
            "count": count,
            "sum": float(count * 100),
            "min": 10.0,
            "max": 900.0,
            "zero_count": 0,
            "buckets": {str(k): v for k, v in buckets.items()},
            "p50": 0.0,
            "p90": 0.0,
            "p99": 0.0,
            "devices": devices,
        }
    )


def test_aggregate_versions_final_and_merged(
    tmp_path: Path, clickhouse: Backend, kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    settings = settings_for(tmp_path, clickhouse, kafka_bootstrap, new_topic)
    messages = [
        metric_msg(0, 10, 5, {460: 5}, 5),
        metric_msg(1, 7, 2, {500: 2}, 2),
        metric_msg(0, 25, 8, {460: 6, 600: 2}, 7),  # latest for partition 0
        metric_msg(0, 20, 6, {460: 6}, 6),  # a replayed, older state: must not win
        metric_msg(1, 9, 4, {500: 3, 700: 1}, 3),  # latest for partition 1
    ]
    produce(kafka_bootstrap, settings.topic_aggregates, ((b"fleet", m) for m in messages))
    with pipeline_thread(settings, clickhouse) as metrics:
        inserted = metrics.rows_inserted.labels("aggregates")
        wait_for(lambda: inserted._value.get() >= len(messages), 30, "aggregate rows")
    final = clickhouse.query(
        "SELECT source_partition, version, count, devices FROM fleetpulse.aggregates FINAL"
        " WHERE tenant = 'aggr' ORDER BY source_partition"
    )
    assert final == [(0, 25, 8, 7), (1, 9, 4, 3)]
    (row,) = aggregates_merged(clickhouse, tenant="aggr", metric="total_boot_ms", window_kind="day")
    assert (row["count"], row["devices"], row["sum"], row["source_partitions"]) == (12, 10, 1200.0, 2)
    assert row["mean"] == pytest.approx(100.0)
    gamma = (1 + 0.005) / (1 - 0.005)
    # merged buckets {460: 6, 500: 3, 600: 2, 700: 1}: rank floor(0.5*11)=5 -> bucket 460
    assert row["p50"] == pytest.approx(2 * gamma**460 / (gamma + 1))
    assert row["p90"] == pytest.approx(min(2 * gamma**600 / (gamma + 1), 900.0))
    assert row["p99"] == row["p90"]  # rank floor(0.99*11)=10 is still in bucket 600
