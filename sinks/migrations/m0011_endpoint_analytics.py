"""Endpoint analytics (issue 18): the census's work-from-anywhere fields, startup process versions,
and ``score_history``, the daily Endpoint analytics scores kept for 13 months.

* ``census``: ``join_type``, ``management_type``, ``autopilot_profile``, ``is_cloud_pc`` (Nullable,
  after ``battery_cycle_count``: the positions a fresh store gets from m0001's ``FAMILIES``).
* ``logon_events.top_startup_processes`` gains the tuple element ``version String`` (older rows
  read ``''``); ClickHouse converts existing parts in a background mutation.
* ``score_history``: one row per (tenant, score, UTC day), the score over the 14 days ending with
  that day, written by ``fleetpulse scores record`` (fleetpulse/reports/history.py); the newest
  ``computed_at`` wins. TTL ``aggregate_ttl_days`` (default 800, above the 13 months kept).

The column types come from m0001's ``FAMILIES``, so the two definitions cannot drift.
"""

from __future__ import annotations

from sinks.migrations.context import MigrationContext
from sinks.migrations.m0001_raw_events import FAMILIES

NAME = "endpoint_analytics"

CENSUS_COLUMNS = ("join_type", "management_type", "autopilot_profile", "is_cloud_pc")


def _ddl(table: str, column: str) -> str:
    return dict(FAMILIES[table][1])[column]


def up(ctx: MigrationContext) -> list[str]:
    db = ctx.database
    after = "battery_cycle_count"
    census = []
    for column in CENSUS_COLUMNS:
        census.append(f"ADD COLUMN IF NOT EXISTS {column} {_ddl('census', column)} AFTER {after}")
        after = column
    return [
        f"ALTER TABLE {db}.census {', '.join(census)}",
        f"ALTER TABLE {db}.logon_events MODIFY COLUMN top_startup_processes "
        f"{_ddl('logon_events', 'top_startup_processes')}",
        f"""CREATE TABLE IF NOT EXISTS {db}.score_history
(
    tenant LowCardinality(String),
    day Date,
    score LowCardinality(String),
    value Nullable(Float64),
    devices UInt32,
    window_days UInt16,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, score, day)
TTL day + INTERVAL {ctx.aggregate_ttl_days} DAY""",
    ]
