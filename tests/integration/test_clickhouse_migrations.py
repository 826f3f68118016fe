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
    "score_history",
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


def test_m0011_brings_an_older_store_to_the_fresh_columns(clickhouse: Backend) -> None:
    """A store made before m0011 (census without the WFA fields, 3-element startup processes)
    gets exactly the columns a fresh store has, in the same positions; old rows read defaults."""
    from sinks.migrations import m0011_endpoint_analytics as m0011
    from sinks.migrations.context import MigrationContext

    def columns(db: str, table: str) -> list[tuple[str, str]]:
        rows = clickhouse.query(
            "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}"
            " ORDER BY position",
            {"db": db, "t": table},
        )
        return [(str(n), str(t)) for n, t in rows]

    old = "pre_m0011"
    clickhouse.execute(f"DROP DATABASE IF EXISTS {old}")
    clickhouse.execute(f"CREATE DATABASE {old}")
    for table in ("census", "logon_events"):
        fresh = columns("fleetpulse", table)
        keep = [(n, t) for n, t in fresh if n not in m0011.CENSUS_COLUMNS]
        keep = [(n, t.replace(", version String", "")) for n, t in keep]
        clickhouse.execute(
            f"CREATE TABLE {old}.{table} ({', '.join(f'{n} {t}' for n, t in keep)}) "
            "ENGINE = MergeTree ORDER BY tuple()"
        )
    clickhouse.execute(
        f"INSERT INTO {old}.logon_events (device_id, top_startup_processes) VALUES ('d', [('a.exe', 'P', 5)])"
    )
    ctx = MigrationContext(database=old, raw_ttl_days=400, aggregate_ttl_days=800)
    for statement in m0011.up(ctx):
        clickhouse.execute(statement)
    for table in ("census", "logon_events"):
        assert columns(old, table) == columns("fleetpulse", table), table
    rows = clickhouse.query(f"SELECT top_startup_processes FROM {old}.logon_events")
    assert rows == [([("a.exe", "P", 5.0, "")],)]
    assert columns(old, "score_history")[0] == ("tenant", "LowCardinality(String)")
    clickhouse.execute(f"DROP DATABASE {old}")
