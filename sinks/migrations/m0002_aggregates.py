"""``aggregates``: the processors' windowed metric results, with their DDSketch buckets.

Processors re-emit a window each time it changes (late events are accepted for 96 h), so the
table is a ReplacingMergeTree on ``updated_at``: read with ``FINAL`` (or ``argMax(…,
updated_at)``) to see each window once. Sketch buckets merge across scopes and windows with
``sumMap`` (see docs/tables.md for the quantile query).
"""

from __future__ import annotations

from sinks.migrations.context import MigrationContext

NAME = "aggregates"


def up(ctx: MigrationContext) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {ctx.database}.aggregates
(
    tenant LowCardinality(String),
    metric LowCardinality(String),
    scope_type LowCardinality(String),
    scope String CODEC(ZSTD(1)),
    window_kind LowCardinality(String),
    window_start DateTime('UTC') CODEC(Delta, ZSTD(1)),
    count UInt64 CODEC(T64, ZSTD(1)),
    sum Float64 CODEC(ZSTD(1)),
    min_value Float64 CODEC(ZSTD(1)),
    max_value Float64 CODEC(ZSTD(1)),
    sketch Map(Int16, UInt64) CODEC(ZSTD(1)),
    zero_count UInt64 CODEC(T64, ZSTD(1)),
    devices UInt32 CODEC(T64, ZSTD(1)),
    p50 Float64 CODEC(ZSTD(1)),
    p90 Float64 CODEC(ZSTD(1)),
    p99 Float64 CODEC(ZSTD(1)),
    updated_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1))
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, metric, scope_type, scope, window_kind, window_start)
TTL window_start + INTERVAL {ctx.aggregate_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000"""
    ]
