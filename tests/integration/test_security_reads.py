"""Tenant-scoped reads on a real (embedded) ClickHouse: tenant A never reads tenant B's rows.

The scoping is ClickHouse's ``additional_table_filters`` (sinks/scope.py): every attack below
either returns only A's rows or is refused before it runs. Reports are checked to give, when
scoped and with their own tenant filter switched off, exactly the figures of A alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from deploy.kafka import free_port
from fleetpulse.reports import build
from fleetpulse.reports.tenancy import resolve_tenant
from fleetpulse.settings import DEMO_IKEY, Settings, Tenant
from schemas.examples import load_examples
from sinks.clickhouse import Backend
from sinks.reader import QueryError, RemoteReader, ScopedReader
from sinks.rows import RAW_COLUMNS, rows_for_event
from sinks.scope import ScopeError, scoped_query_json
from sinks.serve import ScopePolicy, make_read_app
from tests.integration.conftest import event_record

pytestmark = pytest.mark.clickhouse

A, B = "contoso", "fabrikam"
DB = "fleetpulse"
N_A, N_B = 6, 15  # devices per event type


@pytest.fixture(scope="module")
def two_tenants(clickhouse: Backend) -> dict[str, int]:
    """Every event type for A (devices 0..5) and B (devices 500..514); aggregates for both."""
    examples = load_examples()
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    offset = 0
    for tenant, first, n in ((A, 0, N_A), (B, 500, N_B)):
        for name in sorted(examples):
            for i in range(first, first + n):
                offset += 1
                table, row = rows_for_event(event_record(examples, name, i, tenant=tenant), 0, offset)
                by_table.setdefault(table, []).append(row)
    for table, rows in by_table.items():
        clickhouse.insert(f"{DB}.{table}", RAW_COLUMNS[table], rows)
    for tenant, count in ((A, 3), (B, 7)):
        clickhouse.execute(
            f"INSERT INTO {DB}.aggregates (tenant, metric, scope_type, scope, window_kind, window_start, "
            "source_partition, version, count, sum, min_value, max_value, sketch, zero_count, devices) "
            "VALUES ({t:String}, 'core_boot_ms', 'fleet', '', 'day', '2026-03-10 00:00:00', 0, 1, "
            "{n:UInt64}, 100, 1, 50, map(1, 1), 0, 1)",
            {"t": tenant, "n": count},
        )
    boots = clickhouse.query(f"SELECT tenant, count() FROM {DB}.boot_events GROUP BY tenant ORDER BY tenant")
    return {str(t): int(n) for t, n in boots}


def as_a(ch: Backend, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return scoped_query_json(ch, sql, params, tenant=A, database=DB)


def test_fixture_has_both_tenants(two_tenants: dict[str, int]) -> None:
    assert two_tenants == {A: N_A, B: N_B}


SCOPED_QUERIES = [
    f"SELECT tenant FROM {DB}.boot_events",
    f"SELECT tenant FROM {DB}.boot_events WHERE tenant = 'fabrikam' OR 1 = 1",
    f"SELECT tenant FROM (SELECT * FROM {DB}.boot_events) WHERE 1",
    f"WITH x AS (SELECT tenant FROM {DB}.boot_events) SELECT tenant FROM x",
    f"SELECT tenant FROM {DB}.boot_events UNION ALL SELECT tenant FROM {DB}.app_crashes",
    f"SELECT b.tenant AS tenant FROM {DB}.boot_events AS b CROSS JOIN {DB}.logon_events AS l",
    f"SELECT l.tenant AS tenant FROM {DB}.boot_events AS b FULL JOIN {DB}.logon_events AS l ON 1 = 1",
    f"SELECT tenant FROM {DB}.logon_events WHERE device_id IN (SELECT device_id FROM {DB}.boot_events)",
    f"SELECT arrayJoin((SELECT groupUniqArray(tenant) FROM {DB}.boot_events)) AS tenant",
    f"SELECT tenant FROM {DB}.aggregates_merged",
    f"SELECT tenant FROM {DB}.aggregates FINAL",
    f"SELECT tenant FROM {DB}.boot_events AS t1, {DB}.boot_events AS t2",
    f"SELECT tenant FROM {DB}.boot_events;",
]


@pytest.mark.usefixtures("two_tenants")
@pytest.mark.parametrize("sql", SCOPED_QUERIES)
def test_every_shape_of_read_sees_only_its_tenant(clickhouse: Backend, sql: str) -> None:
    rows = as_a(clickhouse, sql)
    assert rows, "A has rows in every table"
    assert {r["tenant"] for r in rows} == {A}


@pytest.mark.usefixtures("two_tenants")
def test_counts_are_the_tenants_own(clickhouse: Backend) -> None:
    assert as_a(clickhouse, f"SELECT count() AS n FROM {DB}.boot_events") == [{"n": N_A}]
    assert as_a(clickhouse, f"SELECT count() AS n FROM {DB}.boot_events WHERE tenant = {{t:String}}",
                {"t": B}) == [{"n": 0}]  # fmt: skip
    assert as_a(clickhouse, f"SELECT sum(count) AS n FROM {DB}.aggregates_merged") == [{"n": 3}]
    b = scoped_query_json(
        clickhouse, f"SELECT count() AS n FROM {DB}.boot_events", None, tenant=B, database=DB
    )
    assert b == [{"n": N_B}]
    # the session is left unscoped for everyone else (the sink's writer shares it)
    assert clickhouse.query(f"SELECT count() FROM {DB}.boot_events")[0][0] == N_A + N_B


REFUSED = [
    f"SELECT * FROM merge('{DB}', '^boot_events$')",
    f"SELECT * FROM remote('127.0.0.1', {DB}.boot_events)",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
    f"SELECT * FROM view(SELECT * FROM {DB}.boot_events)",
    "SELECT * FROM numbers(10)",
    f"SELECT tenant FROM {DB}.boot_events SETTINGS additional_table_filters = {{}}",
    f"SELECT * FROM (SELECT tenant FROM {DB}.boot_events SETTINGS additional_table_filters = {{}})",
    f"SELECT tenant FROM {DB}.boot_events UNION ALL SELECT tenant FROM {DB}.boot_events "
    "SETTINGS additional_table_filters = {}",
    f"SELECT 1; SELECT tenant FROM {DB}.boot_events SETTINGS additional_table_filters = {{}}",
    "SET additional_table_filters = {}",
    f"INSERT INTO {DB}.boot_events (tenant) VALUES ('x')",
    f"DROP TABLE {DB}.boot_events",
    f"ALTER TABLE {DB}.boot_events DELETE WHERE 1",
    f"EXPLAIN SELECT * FROM {DB}.boot_events",
    "SELECT query FROM system.query_log",
    "SELECT name FROM system.tables",
    f"SELECT * FROM {DB}.schema_migrations",
    f"SELECT tenant FROM {DB}.boot_events INTO OUTFILE '/tmp/fleetpulse-leak.csv'",
    f"SELECT tenant FROM {DB}.boot_events FORMAT TSV",
    "SELECT dictGet('d', 'x', 1)",
    f"SELECT joinGet('{DB}.boot_events', 'tenant', 1)",
    "",
]


@pytest.mark.usefixtures("two_tenants")
@pytest.mark.parametrize("sql", REFUSED)
def test_escapes_are_refused_before_running(clickhouse: Backend, sql: str) -> None:
    with pytest.raises((ScopeError, QueryError, RuntimeError)):
        as_a(clickhouse, sql)
    assert clickhouse.query(f"SELECT count() FROM {DB}.boot_events")[0][0] == N_A + N_B


@pytest.mark.parametrize("evil", ["contoso' OR 1=1 --", "a'}, {'x", "", "contoso\\", "x" * 65, "é"])
def test_tenant_names_are_validated_before_they_reach_a_setting(clickhouse: Backend, evil: str) -> None:
    with pytest.raises(ScopeError):
        scoped_query_json(clickhouse, "SELECT 1", None, tenant=evil, database=DB)


def _settings(base: Settings, *names: str) -> Settings:
    tenants = {f"key-{n}": Tenant(name=n, ikeys=(DEMO_IKEY,)) for n in names}
    return base.model_copy(update={"tenants": tenants})


def test_tenant_resolution(clickhouse_settings: Settings) -> None:
    one = _settings(clickhouse_settings, A)
    two = _settings(clickhouse_settings, A, B)
    assert resolve_tenant(one, None) == A
    assert resolve_tenant(two, B) == B
    with pytest.raises(ScopeError, match="choose one with --tenant"):
        resolve_tenant(two, None)
    with pytest.raises(ScopeError, match="unknown tenant"):
        resolve_tenant(two, "northwind")


# -- reports -------------------------------------------------------------------------------------


class _Shared:
    """The module's backend, never closed by a reader (the fixture owns it)."""

    def __init__(self, ch: Backend) -> None:
        self.ch = ch

    def query_json(self, sql: str, params: Any = None, *, settings: Any = None) -> list[dict[str, Any]]:
        return self.ch.query_json(sql, params, settings=settings)

    def close(self) -> None:
        pass


def _scoped(ch: Backend, settings: Settings, tenant: str) -> ScopedReader:
    return ScopedReader(_Shared(ch), tenant, settings)  # type: ignore[arg-type]  # a Backend look-alike


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "filters"}


@pytest.mark.usefixtures("two_tenants")
@pytest.mark.parametrize("name", sorted(build.REPORTS))
def test_every_report_scoped_equals_the_tenant_alone(
    clickhouse: Backend, clickhouse_settings: Settings, name: str
) -> None:
    settings = _settings(clickhouse_settings, A, B)
    reader = _scoped(clickhouse, settings, A)
    f = build.make_filters(reader, tenant="")  # the report's own tenant filter switched off
    scoped = build.REPORTS[name](reader, f)
    alone = build.REPORTS[name](clickhouse, dataclasses.replace(f, tenant=A))
    everyone = build.REPORTS[name](clickhouse, f)
    assert _strip(scoped) == _strip(alone)
    if name != "regressions":  # no regressions rows in this module
        assert _strip(scoped) != _strip(everyone)
    text = json.dumps(scoped)
    assert "s:000001F4" not in text.upper()  # B's first device id (500)


INJECTIONS = ["' OR 1=1 --", "x'); DROP TABLE boot_events; --", "contoso' OR tenant != '", "\\' OR 1=1 --"]


@pytest.mark.usefixtures("two_tenants")
@pytest.mark.parametrize("evil", INJECTIONS)
@pytest.mark.parametrize("field", ["model", "os_build", "app", "tenant"])
@pytest.mark.parametrize("name", sorted(build.REPORTS))
def test_report_filters_are_bound_under_scope(
    clickhouse: Backend, clickhouse_settings: Settings, name: str, field: str, evil: str
) -> None:
    reader = _scoped(clickhouse, _settings(clickhouse_settings, A, B), A)
    base = build.make_filters(reader, tenant=A)
    values: dict[str, Any] = {field: evil}
    doc = build.REPORTS[name](reader, dataclasses.replace(base, **values))
    assert "s:000001F4" not in json.dumps(doc).upper()
    assert clickhouse.query(f"SELECT count() FROM {DB}.boot_events")[0][0] == N_A + N_B


@pytest.mark.usefixtures("two_tenants")
def test_report_cli_requires_a_tenant_and_scopes_to_it(
    clickhouse: Backend, clickhouse_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleetpulse.reports import cli

    settings = _settings(clickhouse_settings, A, B)
    opened: list[str | None] = []

    def fake_open(s: Settings, tenant: str | None = None) -> Any:
        opened.append(tenant)
        assert tenant is not None
        return _scoped(clickhouse, s, tenant)

    monkeypatch.setattr(cli, "open_reader", fake_open)
    res = CliRunner().invoke(cli.report, ["devices", "--json"], obj=settings)
    assert res.exit_code != 0
    assert "--tenant" in res.output
    res = CliRunner().invoke(cli.report, ["devices", "--json", "--tenant", "northwind"], obj=settings)
    assert res.exit_code != 0
    assert "unknown tenant" in res.output
    res = CliRunner().invoke(
        cli.report, ["devices", "--json", "--tenant", B, "--limit", "1000"], obj=settings
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["filters"]["tenant"] == B
    assert doc["total_devices"] == N_B
    assert opened == [B]


# -- the read server -------------------------------------------------------------------------------


@pytest.fixture
def read_server(clickhouse: Backend) -> Iterator[str]:
    port = free_port()
    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(max_workers=1)
    app = make_read_app(clickhouse, CollectorRegistry(), executor, scope=ScopePolicy(frozenset({A, B}), DB))
    ready = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        from aiohttp import web

        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        executor.shutdown()


@pytest.mark.usefixtures("two_tenants")
def test_read_server_scopes_by_the_requests_tenant(read_server: str) -> None:
    remote = RemoteReader(read_server)
    sql = f"SELECT tenant, count() AS n FROM {DB}.boot_events GROUP BY tenant ORDER BY tenant"
    assert remote.query_json(sql, tenant=A) == [{"tenant": A, "n": N_A}]
    assert remote.query_json(sql, tenant=B) == [{"tenant": B, "n": N_B}]
    for bad in (f"SELECT * FROM merge('{DB}', 'boot')", f"{sql} SETTINGS additional_table_filters = {{}}"):
        with pytest.raises(QueryError):
            remote.query_json(bad, tenant=A)
    with pytest.raises(QueryError, match="unknown tenant"):
        remote.query_json(sql, tenant="northwind")
    with pytest.raises(QueryError, match="must match"):
        remote.query_json(sql, tenant="a' OR 1=1 --")
    # through ScopedReader, as the CLI reads when the stack runs
    settings = Settings.model_validate({"tenants": {"k": {"name": A, "ikeys": [DEMO_IKEY]}}})
    scoped = ScopedReader(remote, A, settings)
    assert scoped.query_json(f"SELECT count() AS n FROM {DB}.logon_events") == [{"n": N_A}]
