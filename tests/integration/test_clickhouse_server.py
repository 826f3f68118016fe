"""ServerBackend: the native-protocol path, against a real server (FLEETPULSE_TEST_CLICKHOUSE_URL,
or testcontainers' ClickHouse where a Docker engine answers — the ``clickhouse_server_url`` fixture).

Without either the server tests are skipped (no fake server stands in for one); the parameter
encoding the backend hands clickhouse-driver is checked either way, since it needs no network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from clickhouse_driver.util.escape import escape_params

from sinks.clickhouse import Backend, ServerBackend, encode_param, open_backend
from sinks.clickhouse.server_backend import driver_params

pytestmark = pytest.mark.clickhouse


def test_open_backend_builds_a_server_backend_lazily() -> None:
    backend = open_backend("clickhouse://u:p@127.0.0.1:1/db")  # nothing listens: no connection yet
    assert isinstance(backend, ServerBackend)
    backend.close()


@pytest.mark.parametrize(
    "value",
    ["'; DROP TABLE x; --", "a\\b\tc", None, 5, ["x'y"], {"k": 1}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)],
)
def test_driver_sends_our_encoding_as_a_quoted_field(value: object) -> None:
    """The driver wraps each server-side parameter as a quoted Field; unquoting gives encode_param()."""
    sent = escape_params(driver_params({"v": value}), context=None, for_server=True)["v"]
    assert sent.startswith("'")
    assert sent.endswith("'")
    unquoted = sent[1:-1].encode().decode("unicode_escape")  # the server's Field parse of a quoted string
    assert unquoted == encode_param(value)


@pytest.fixture(scope="module")
def server(clickhouse_server_url: str) -> Iterator[Backend]:
    backend = open_backend(clickhouse_server_url)
    backend.execute("CREATE DATABASE IF NOT EXISTS fleetpulse_test")
    yield backend
    backend.execute("DROP DATABASE IF EXISTS fleetpulse_test")
    backend.close()


def test_server_params_are_data(server: Backend) -> None:
    hostile = "'; DROP TABLE x; --"
    assert server.query("SELECT {v:String}", {"v": hostile}) == [(hostile,)]


def test_server_insert_dedup_and_exact_read(server: Backend) -> None:
    server.execute(
        "CREATE TABLE fleetpulse_test.t (a UInt64, s String) ENGINE = MergeTree ORDER BY a"
        " SETTINGS non_replicated_deduplication_window = 100"
    )
    rows = [(i, f"r{i}") for i in range(1000)]
    server.insert("fleetpulse_test.t", ["a", "s"], rows, dedup_token="tok-1")
    server.insert("fleetpulse_test.t", ["a", "s"], rows, dedup_token="tok-1")
    assert server.query("SELECT count(), sum(a) FROM fleetpulse_test.t") == [(1000, sum(range(1000)))]
