"""``aggregates`` and ``counters``: the processors' windowed results, and the merged view.

Each processor worker emits the FULL state of a cell (window x scope x metric) for ITS source
partition, with ``version`` = the highest source offset folded in; a replay re-emits the same
or a lower version. So both tables are ``ReplacingMergeTree(version)`` with ``source_partition``
in the key: ``FINAL`` keeps the latest state per source partition, and readers merge across
source partitions (sum counts, sums and devices — devices are partitioned by device id, so
disjoint — and ``sumMap`` the sketch buckets). ``aggregates_merged`` does that merge and reads
p50/p90/p99 from the merged buckets (the documented DDSketch quantile, docs/tables.md).
"""

from __future__ import annotations

from sinks.migrations.context import MigrationContext

NAME = "aggregates"


def quantile_expr(q: str, gamma: str = "gamma") -> str:
    """DDSketch quantile ``q`` of merged buckets (uses keys, cum, zeros, n, lo, hi)."""
    rank = f"floor({q} * (n - 1))"
    return (
        f"if(n = 0, nan, if({rank} < zeros, 0., least(greatest("
        f"2 * pow({gamma}, keys[arrayFirstIndex(c -> c > {rank} - zeros, cum)]) / ({gamma} + 1), lo), hi)))"
    )


def merged_view(ctx: MigrationContext) -> str:
    gamma = f"((1 + {ctx.sketch_alpha!r}) / (1 - {ctx.sketch_alpha!r}))"
    return f"""CREATE VIEW IF NOT EXISTS {ctx.database}.aggregates_merged AS
SELECT
    tenant, window_kind, window_start, scope_type, scope, metric,
    n AS count, total AS sum, if(n = 0, nan, total / n) AS mean, lo AS min, hi AS max,
    devs AS devices, zeros AS zero_count, partitions AS source_partitions,
    arraySort(mapKeys(buckets)) AS keys,
    arrayCumSum(arrayMap(k -> buckets[k], keys)) AS cum,
    {quantile_expr("0.5", gamma)} AS p50,
    {quantile_expr("0.9", gamma)} AS p90,
    {quantile_expr("0.99", gamma)} AS p99
FROM
(
    SELECT
        tenant, window_kind, window_start, scope_type, scope, metric,
        sum(count) AS n, sum(sum) AS total, min(min_value) AS lo, max(max_value) AS hi,
        sum(devices) AS devs, sum(zero_count) AS zeros, count() AS partitions,
        sumMap(sketch) AS buckets
    FROM {ctx.database}.aggregates FINAL
    GROUP BY tenant, window_kind, window_start, scope_type, scope, metric
)"""


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
    source_partition UInt16,
    version UInt64,
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
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, metric, scope_type, scope, window_kind, window_start, source_partition)
TTL window_start + INTERVAL {ctx.aggregate_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000""",
        f"""CREATE TABLE IF NOT EXISTS {ctx.database}.counters
(
    tenant LowCardinality(String),
    counter LowCardinality(String),
    scope_type LowCardinality(String),
    scope String CODEC(ZSTD(1)),
    window_kind LowCardinality(String),
    window_start DateTime('UTC') CODEC(Delta, ZSTD(1)),
    source_partition UInt16,
    version UInt64,
    value UInt64 CODEC(T64, ZSTD(1)),
    devices UInt32 CODEC(T64, ZSTD(1)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, counter, scope_type, scope, window_kind, window_start, source_partition)
TTL window_start + INTERVAL {ctx.aggregate_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000""",
        merged_view(ctx),
    ]
