"""Migrations on the real engine: every table there, settings honoured, re-running applies nothing."""

from __future__ import annotations

import pytest

from fleetpulse.settings import Settings
from sinks.clickhouse import Backend
from sinks.migrations import discover, migrate
from sinks.migrations.m0001_raw_events import FAMILIES

pytestmark = pytest.mark.clickhouse

DERIVED = {
    "aggregates",
    "aggregates_merged",
    "app_reliability",
    "baselines",
    "counters",
    "regressions",
    "schema_migrations",
}


def test_all_tables_exist(clickhouse: Backend) -> None:
    names = {
        row[0] for row in clickhouse.query("SELECT name FROM system.tables WHERE database = 'fleetpulse'")
    }
    assert names == set(FAMILIES) | DERIVED


def test_rerun_applies_nothing(clickhouse: Backend, clickhouse_settings: Settings) -> None:
    assert migrate(clickhouse, clickhouse_settings) == []
    recorded = clickhouse.query("SELECT id, name FROM fleetpulse.schema_migrations FINAL ORDER BY id")
    assert recorded == [(m.id, m.name) for m in discover()]


def test_raw_tables_share_envelope_and_dedupe(clickhouse: Backend) -> None:
    for table in FAMILIES:
        (ddl,) = clickhouse.query(
            "SELECT create_table_query FROM system.tables WHERE database = 'fleetpulse'"
            " AND name = {t:String}",
            {"t": table},
        )[0]
        assert "non_replicated_deduplication_window = 1000" in ddl, table
        assert "toIntervalDay(400)" in ddl, table  # raw_ttl_days default
        cols = [
            r[0]
            for r in clickhouse.query(
                "SELECT name FROM system.columns"
                " WHERE database = 'fleetpulse' AND table = {t:String} ORDER BY position",
                {"t": table},
            )
        ]
        assert cols[:4] == ["tenant", "ikey", "device_id", "event_time"], table
        assert cols[-3:] == ["kafka_partition", "kafka_offset", "inserted_at"], table


def test_ttl_and_database_come_from_settings(clickhouse: Backend) -> None:
    from sinks.migrations.context import MigrationContext
    from sinks.migrations.m0002_aggregates import up

    statement, counters, view = up(
        MigrationContext(database="other_db", raw_ttl_days=7, aggregate_ttl_days=31)
    )
    assert "other_db.aggregates" in statement
    assert "INTERVAL 31 DAY" in statement
    assert "other_db.counters" in counters
    assert "FROM other_db.aggregates FINAL" in view
    with pytest.raises(ValueError, match="identifier"):
        MigrationContext(database="x; DROP", raw_ttl_days=1, aggregate_ttl_days=1)
