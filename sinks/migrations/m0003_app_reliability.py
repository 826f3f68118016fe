"""``app_reliability``: per app (and app version, model, OS build) usage, crashes, hangs.

Like ``aggregates``: each processor worker emits a cell's full state for its source partition
with ``version`` = highest source offset folded in, so the table is
``ReplacingMergeTree(version)`` keyed with ``source_partition``; read with ``FINAL`` and sum
across source partitions (``active_devices`` and ``crash_devices`` are disjoint across them).
MTTF = usage ÷ counted crashes is computed after that merge (docs/tables.md), never stored.
"""

from __future__ import annotations

from sinks.migrations.context import MigrationContext

NAME = "app_reliability"


def up(ctx: MigrationContext) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {ctx.database}.app_reliability
(
    tenant LowCardinality(String),
    window_kind LowCardinality(String),
    window_start DateTime('UTC') CODEC(Delta, ZSTD(1)),
    scope_type LowCardinality(String),
    app LowCardinality(String),
    app_version LowCardinality(String),
    scope String CODEC(ZSTD(1)),
    source_partition UInt16,
    version UInt64,
    active_devices UInt32 CODEC(T64, ZSTD(1)),
    usage_ms UInt64 CODEC(ZSTD(1)),
    crashes UInt64 CODEC(T64, ZSTD(1)),
    crashes_counted UInt64 CODEC(T64, ZSTD(1)),
    hangs UInt64 CODEC(T64, ZSTD(1)),
    crash_devices UInt32 CODEC(T64, ZSTD(1)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, scope_type, app, app_version, scope, window_kind, window_start, source_partition)
TTL window_start + INTERVAL {ctx.aggregate_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000"""
    ]
