"""decode step: every example event maps to its table's columns; bad input is a typed outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from schemas.examples import load_examples
from sinks.rows import RAW_COLUMNS, TABLE_BY_NAME, BadMessage, rows_for_event
from sinks.rows_results import RESULT_COLUMNS, rows_for_aggregate, rows_for_aggregates, rows_for_regression

INGEST = {"time": "2026-03-11T14:00:00.1234567Z", "clientIp": "10.0.0.1", "tenant": "contoso"}


def stamped(record: dict[str, Any]) -> bytes:
    return orjson.dumps({**record, "ext": {**record["ext"], "ingest": INGEST}})


@pytest.mark.parametrize("name", sorted(load_examples()))
def test_every_example_becomes_one_full_row(name: str) -> None:
    record = load_examples()[name]
    table, row = rows_for_event(stamped(record), 4, 1234)
    assert table == TABLE_BY_NAME[name]
    columns = RAW_COLUMNS[table]
    assert len(row) == len(columns)
    values = dict(zip(columns, row, strict=True))
    assert values["tenant"] == "contoso"
    assert values["device_id"] == record["ext"]["device"]["localId"].lower()
    assert values["seq"] == record["ext"]["sdk"]["seq"]
    assert values["received_at"] == dt.datetime(2026, 3, 11, 14, 0, 0, 123456, tzinfo=dt.UTC)
    assert (values["kafka_partition"], values["kafka_offset"]) == (4, 1234)
    assert "inserted_at" not in values  # a column DEFAULT: never part of the (replayed) row


def test_rows_are_deterministic_from_bytes() -> None:
    value = stamped(load_examples()["Fleet.Boot.Performance"])
    assert rows_for_event(value, 0, 7) == rows_for_event(value, 0, 7)


def test_boot_fields_and_nested_components() -> None:
    table, row = rows_for_event(stamped(load_examples()["Fleet.Boot.Performance"]), 0, 1)
    values = dict(zip(RAW_COLUMNS[table], row, strict=True))
    assert values["total_boot_ms"] > 0
    assert all(isinstance(c, tuple) and len(c) == 5 for c in values["slow_components"])


def test_heartbeat_4xx_column_maps_to_its_wire_key() -> None:
    record = load_examples()["Fleet.Agent.Heartbeat"]
    record["data"]["uploadFailures4xx"] = 3
    table, row = rows_for_event(stamped(record), 0, 1)
    assert dict(zip(RAW_COLUMNS[table], row, strict=True))["upload_failures_4xx"] == 3


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "parse_error"),
        (b"[1]", "parse_error"),
        (b'{"name": "Fleet.Nope"}', "unknown_event"),
        (b'{"name": "Fleet.Boot.Performance", "ext": {}}', "missing_field"),
    ],
)
def test_bad_messages_are_typed(value: bytes, reason: str) -> None:
    with pytest.raises(BadMessage) as info:
        rows_for_event(value, 0, 0)
    assert info.value.reason == reason


def test_missing_required_data_field() -> None:
    record = load_examples()["Fleet.Boot.Performance"]
    del record["data"]["totalBootMs"]
    with pytest.raises(BadMessage, match="totalBootMs"):
        rows_for_event(stamped(record), 0, 0)


METRIC = {
    "kind": "metric", "tenant": "t", "window_kind": "day", "window_start": "2026-03-11T00:00:00Z",
    "scope_type": "fleet", "scope": "", "metric": "total_boot_ms", "source_partition": 2, "version": 99,
    "count": 3, "sum": 30.0, "min": 5.0, "max": 15.0, "zero_count": 0, "buckets": {"-3": 1, "460": 2},
    "p50": 10.0, "p90": 15.0, "p99": 15.0, "devices": 3,
}  # fmt: skip


def test_aggregate_kinds_route_to_their_tables() -> None:
    table, row = rows_for_aggregate(orjson.dumps(METRIC))
    assert table == "aggregates"
    values = dict(zip(RESULT_COLUMNS[table], row, strict=True))
    assert values["sketch"] == {-3: 1, 460: 2}
    assert (values["source_partition"], values["version"]) == (2, 99)
    app = {**METRIC, "kind": "app", "scope_type": "app", "app": "a.exe", "app_version": "1.0", "usage_ms": 5}
    assert rows_for_aggregate(orjson.dumps(app))[0] == "app_reliability"
    counter = {**METRIC, "kind": "counter", "counter": "restart.blueScreen", "value": 4}
    table, row = rows_for_aggregate(orjson.dumps(counter))
    assert table == "counters"
    assert dict(zip(RESULT_COLUMNS[table], row, strict=True))["value"] == 4
    with pytest.raises(BadMessage):
        rows_for_aggregate(orjson.dumps({**METRIC, "kind": "other"}))


def test_regression_version_is_closed_else_detected() -> None:
    doc = {
        "regression_id": "r1", "status": "open", "tenant": "t", "scope_type": "model", "scope": "m",
        "metric": "total_boot_ms", "baseline_name": "rolling", "baseline_value": 10.0, "current_value": 12.0,
        "change_pct": 20.0, "devices_baseline": 50, "devices_current": 40, "test": "van_elteren",
        "p_value": 0.001, "started_at": "2026-03-10T00:00:00Z", "detected_at": "2026-03-11T00:00:00Z",
        "closed_at": None,
        "causes": [{"change_id": "c", "change_name": "n", "prevalence_affected": 0.9,
                    "prevalence_unaffected": 0.1, "lift": 9.0}],
    }  # fmt: skip
    _, row = rows_for_regression(orjson.dumps(doc))
    values = dict(zip(RESULT_COLUMNS["regressions"], row, strict=True))
    assert values["updated_at"] == values["detected_at"]
    assert values["causes"] == [("c", "n", 0.9, 0.1, 9.0)]
    _, row = rows_for_regression(
        orjson.dumps({**doc, "status": "closed", "closed_at": "2026-03-12T00:00:00Z"})
    )
    values = dict(zip(RESULT_COLUMNS["regressions"], row, strict=True))
    assert values["updated_at"] == values["closed_at"]


def test_a_packed_aggregates_message_yields_every_row_in_order() -> None:
    counter = {**METRIC, "kind": "counter", "counter": "restarts", "value": 3, "devices": 2}
    rows = rows_for_aggregates(orjson.dumps([METRIC, counter]))
    assert [table for table, _ in rows] == ["aggregates", "counters"]
    assert rows[0] == rows_for_aggregate(orjson.dumps(METRIC))
    assert rows_for_aggregates(orjson.dumps(METRIC)) == [rows_for_aggregate(orjson.dumps(METRIC))]
    with pytest.raises(BadMessage):
        rows_for_aggregates(b"[]")
    with pytest.raises(BadMessage):
        rows_for_aggregates(b"[1, 2]")
