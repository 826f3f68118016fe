"""``baselines`` (named snapshots, no cap) and ``regressions`` (open/closed, with causes)."""

from __future__ import annotations

from sinks.migrations.context import MigrationContext

NAME = "baselines_regressions"

CAUSES = (
    "Array(Tuple(change_id String, change_name String, prevalence_affected Float64, "
    "prevalence_unaffected Float64, lift Float64))"
)


def up(ctx: MigrationContext) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {ctx.database}.baselines
(
    tenant LowCardinality(String),
    name String,
    created_at DateTime64(3, 'UTC'),
    period_start DateTime('UTC'),
    period_end DateTime('UTC'),
    metric LowCardinality(String),
    scope_type LowCardinality(String),
    scope String CODEC(ZSTD(1)),
    value Float64,
    count UInt64,
    devices UInt32,
    sketch Map(Int16, UInt64) CODEC(ZSTD(1)),
    zero_count UInt64
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (tenant, name, metric, scope_type, scope)
SETTINGS non_replicated_deduplication_window = 1000""",
        f"""CREATE TABLE IF NOT EXISTS {ctx.database}.regressions
(
    tenant LowCardinality(String),
    regression_id String,
    status LowCardinality(String),
    scope_type LowCardinality(String),
    scope String,
    metric LowCardinality(String),
    baseline_name String,
    baseline_value Float64,
    current_value Float64,
    change_pct Float64,
    devices_baseline UInt32,
    devices_current UInt32,
    test LowCardinality(String),
    p_value Float64,
    started_at DateTime64(3, 'UTC'),
    detected_at DateTime64(3, 'UTC'),
    closed_at Nullable(DateTime64(3, 'UTC')),
    causes {CAUSES},
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant, regression_id)
SETTINGS non_replicated_deduplication_window = 1000""",
    ]
