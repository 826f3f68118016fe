"""The embedded backend against the real engine: exact reads, bound parameters, dedup, locking."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetpulse.settings import Settings
from sinks.clickhouse import Backend, ClickHouseError, Columnar, StoreLocked, open_backend

pytestmark = pytest.mark.clickhouse

T0 = dt.datetime(2026, 3, 11, 7, 0, tzinfo=dt.UTC)
BOOT_COLUMNS = [
    "tenant",
    "ikey",
    "device_id",
    "event_time",
    "received_at",
    "epoch",
    "seq",
    "boot_id",
    "os_ver",
    "sdk_ver",
    "dev_make",
    "dev_model",
    "boot_start_time",
    "is_reboot_after_update",
    "total_boot_ms",
    "core_boot_ms",
    "gp_boot_ms",
    "slow_components",
    "kafka_partition",
    "kafka_offset",
]


def boot_row(tenant: str, device: int, n: int, total_ms: int, gp_ms: int | None = None) -> tuple[object, ...]:
    when = T0 + dt.timedelta(hours=n, milliseconds=123)
    return (
        tenant,
        "o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f",
        f"s:{device:08X}-5B3D-4F1A-9C27-3E8D5A6B1F04",
        when,
        when + dt.timedelta(seconds=1),
        "2291847731",
        n + 1,
        200 + n,
        "10.0.22631.4169",
        "fleet-agent-1.4.2",
        "Dell Inc.",
        "Latitude 7440",
        when - dt.timedelta(milliseconds=total_ms),
        False,
        total_ms,
        total_ms // 2,
        gp_ms,
        [("driver", "nvlddmkm.sys", "31.0", 900, 400)],
        device % 6,
        1000 + n,
    )


def test_exact_aggregates_round_trip(clickhouse: Backend) -> None:
    totals = [41230, 30000, 52000, 18000, 27500, 61000, 33333]
    rows = [
        boot_row("exact", device, n, ms, gp_ms=None if n % 2 else 0)
        for n, (device, ms) in enumerate(zip([1, 1, 2, 2, 3, 3, 4], totals, strict=True))
    ]
    clickhouse.insert("fleetpulse.boot_events", BOOT_COLUMNS, rows, dedup_token="exact-0-0-6")
    result = clickhouse.query(
        "SELECT count(), sum(total_boot_ms),"
        " quantileExact(0.5)(total_boot_ms), quantileExact(0.9)(total_boot_ms),"
        " uniqExact(device_id), countIf(gp_boot_ms IS NULL), min(event_time), any(slow_components)"
        " FROM fleetpulse.boot_events WHERE tenant = {tenant:String}",
        {"tenant": "exact"},
    )
    count, total, median, p90, devices, gp_null, first, slow = result[0]
    assert (count, total, devices, gp_null) == (7, sum(totals), 4, 3)
    # quantileExact(level) is the element at 0-based index floor(level * n) of the sorted values
    assert median == sorted(totals)[math.floor(0.5 * len(totals))]
    assert p90 == sorted(totals)[math.floor(0.9 * len(totals))]
    assert first == T0 + dt.timedelta(milliseconds=123)
    assert slow == [("driver", "nvlddmkm.sys", "31.0", 900, 400)]


def test_columnar_insert_equals_row_insert(clickhouse: Backend) -> None:
    rows = [boot_row("columnar", 9, n, 20_000 + n) for n in range(5)]
    clickhouse.insert(
        "fleetpulse.boot_events", BOOT_COLUMNS, Columnar([list(c) for c in zip(*rows, strict=True)])
    )
    got = clickhouse.query(
        "SELECT seq, total_boot_ms, event_time, kafka_offset FROM fleetpulse.boot_events"
        " WHERE tenant = 'columnar' ORDER BY seq"
    )
    assert got == [(r[6], r[14], r[3], r[19]) for r in rows]


def test_query_json_names_columns_and_serialises(clickhouse: Backend) -> None:
    doc = clickhouse.query_json(
        "SELECT toDateTime64('2026-03-11 07:00:00.5', 3, 'UTC') AS t, map(toInt16(3), toUInt64(4)) AS m,"
        " toUInt64(18446744073709551615) AS big, CAST(NULL, 'Nullable(String)') AS n"
    )
    assert doc == [{"t": "2026-03-11T07:00:00.500000Z", "m": {"3": 4}, "big": 2**64 - 1, "n": None}]


def test_dedup_token_stores_a_batch_once(clickhouse: Backend) -> None:
    rows = [boot_row("dedup", 5, n, 40_000 + n) for n in range(100)]
    for _ in range(2):
        clickhouse.insert(
            "fleetpulse.boot_events", BOOT_COLUMNS, rows, dedup_token="telemetry.events.v1-3-0-99"
        )
    clickhouse.insert(
        "fleetpulse.boot_events", BOOT_COLUMNS, rows[:10], dedup_token="telemetry.events.v1-3-0-9"
    )
    count = clickhouse.query("SELECT count() FROM fleetpulse.boot_events WHERE tenant = 'dedup'")[0][0]
    assert count == 110  # the repeat of the first batch was dropped; a new token is a new batch


def test_bad_dedup_token_is_refused(clickhouse: Backend) -> None:
    with pytest.raises(ValueError, match="dedup token"):
        clickhouse.insert("fleetpulse.boot_events", BOOT_COLUMNS, [boot_row("x", 1, 0, 1)], dedup_token="a'b")


@pytest.mark.parametrize(
    "hostile",
    ["'; DROP TABLE fleetpulse.boot_events; --", "a\\'b", "tab\tnew\nline", "{x:String}", "\\N", "é'\""],
)
def test_parameters_are_data(clickhouse: Backend, hostile: str) -> None:
    assert clickhouse.query("SELECT {v:String}, length({v:String})", {"v": hostile}) == [
        (hostile, len(hostile.encode()))
    ]
    rows = clickhouse.query(
        "SELECT count() FROM fleetpulse.boot_events WHERE device_id = {v:String}", {"v": hostile}
    )
    assert rows == [(0,)]
    assert clickhouse.query("EXISTS TABLE fleetpulse.boot_events") == [(1,)]


def test_composite_and_typed_parameters(clickhouse: Backend) -> None:
    when = dt.datetime(2026, 3, 11, 7, 0, 0, 250_000, tzinfo=dt.UTC)
    got = clickhouse.query(
        "SELECT {a:Array(String)}, {m:Map(String, UInt32)}, {t:DateTime64(3, 'UTC')}, {n:Nullable(UInt32)},"
        " {b:Bool}, {f:Float64}",
        {"a": ["x'y", "a\\b"], "m": {"k'": 1}, "t": when, "n": None, "b": True, "f": 0.1},
    )
    assert got == [(["x'y", "a\\b"], {"k'": 1}, when, None, True, 0.1)]


def test_errors_are_clickhouse_errors(clickhouse: Backend) -> None:
    with pytest.raises(ClickHouseError, match=r"UNKNOWN_TABLE|does not exist"):
        clickhouse.query("SELECT 1 FROM fleetpulse.no_such_table")
    with pytest.raises(ValueError, match="identifier"):
        clickhouse.insert("boot_events; DROP", ["a"], [(1,)])


def test_sketch_quantile_query_matches_exact_within_alpha(clickhouse: Backend) -> None:
    """The documented DDSketch quantile query (docs/tables.md) re-merges buckets with sumMap."""
    alpha = 0.005
    gamma = (1 + alpha) / (1 - alpha)
    values = [float(v) for v in range(1000, 61000, 37)] + [0.0] * 5
    halves = [values[0::2], values[1::2]]
    rows = []
    for i, part in enumerate(halves):
        buckets: dict[int, int] = {}
        for v in part:
            if v > 0:
                k = math.ceil(math.log(v) / math.log(gamma))
                buckets[k] = buckets.get(k, 0) + 1
        rows.append(
            (
                "sketchq",
                "total_boot_ms",
                "fleet",
                "",
                "day",
                T0 + dt.timedelta(days=i),
                0,
                1,
                len(part),
                sum(part),
                min(part),
                max(part),
                buckets,
                sum(1 for v in part if v <= 0),
                1,
                0.0,
                0.0,
                0.0,
            )
        )
    clickhouse.insert(
        "fleetpulse.aggregates",
        [
            "tenant",
            "metric",
            "scope_type",
            "scope",
            "window_kind",
            "window_start",
            "source_partition",
            "version",
            "count",
            "sum",
            "min_value",
            "max_value",
            "sketch",
            "zero_count",
            "devices",
            "p50",
            "p90",
            "p99",
        ],
        rows,
    )
    sql = Path(__file__).resolve().parents[2].joinpath("docs", "tables.md").read_text()
    query = sql.split("```sql sketch-quantile\n", 1)[1].split("```", 1)[0]
    for q in (0.5, 0.9, 0.99):
        (estimate,) = clickhouse.query(
            query,
            {
                "tenant": "sketchq",
                "metric": "total_boot_ms",
                "scope_type": "fleet",
                "scope": "",
                "window_kind": "day",
                "from": T0,
                "to": T0 + dt.timedelta(days=2),
                "q": q,
            },
        )[0]
        exact = sorted(values)[math.floor(q * (len(values) - 1))]
        assert abs(estimate - exact) <= alpha * exact + 1e-9, (q, estimate, exact)


def test_second_process_gets_store_locked(clickhouse: Backend, clickhouse_settings: Settings) -> None:
    script = textwrap.dedent(f"""
        import sys
        from sinks.clickhouse import StoreLocked, open_backend
        try:
            open_backend({clickhouse_settings.clickhouse_url_resolved!r})
        except StoreLocked as exc:
            print(exc.owner_pid, exc.owner_cmd)
            print(exc)
            sys.exit(3)
        sys.exit(0)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    pid_line, message = done.stdout.splitlines()[:2]
    import os

    assert pid_line.split()[0] == str(os.getpid())
    assert f"pid {os.getpid()}" in message


def test_second_open_in_this_process_is_refused_too(clickhouse_settings: Settings) -> None:
    with pytest.raises(StoreLocked):
        open_backend(clickhouse_settings.clickhouse_url_resolved)
