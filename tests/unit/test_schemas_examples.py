"""Every example decodes; the Event API; JSON Schema export; the bench runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

import schemas
from bench.decode import main as bench_main
from schemas import EVENT_NAMES, Event, InvalidEvent, decode
from schemas.examples import EXAMPLES_RECEIVED_AT, load_examples
from schemas.export import export_json_schemas

EXAMPLES = load_examples()


def test_one_example_per_registered_type() -> None:
    assert len(EVENT_NAMES) == 13
    assert sorted(EXAMPLES) == sorted(EVENT_NAMES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_decodes(name: str) -> None:
    record = EXAMPLES[name]
    event = decode(orjson.dumps(record), received_at=EXAMPLES_RECEIVED_AT)
    assert isinstance(event, Event)
    assert event.name == name
    assert event.raw == record
    assert event.time.tzinfo is not None
    assert event.ikey == record["iKey"]
    assert name == event.data.EVENT_NAME
    assert type(event.data) is schemas.DATA_BY_NAME[name]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_decodes_from_str_and_near_its_own_time(name: str) -> None:
    text = orjson.dumps(EXAMPLES[name]).decode()
    own = datetime.fromisoformat(EXAMPLES[name]["time"])
    assert decode(text, received_at=own + timedelta(minutes=1)).name == name


def test_identity_device_id_and_report_id() -> None:
    event = decode(orjson.dumps(EXAMPLES["Fleet.Fault.AppCrash"]), received_at=EXAMPLES_RECEIVED_AT)
    assert event.device_id == "s:7c1e2a90-5b3d-4f1a-9c27-3e8d5a6b1f04"
    assert event.identity == ("s:7c1e2a90-5b3d-4f1a-9c27-3e8d5a6b1f04", "2291847731", 18402)
    assert event.report_id == "2e8b6f41-7c3a-4d9e-b512-8a0f6c4d2e97"
    boot = decode(orjson.dumps(EXAMPLES["Fleet.Boot.Performance"]), received_at=EXAMPLES_RECEIVED_AT)
    assert boot.report_id is None
    assert boot.boot_id == 212
    assert boot.time == datetime(2026, 3, 11, 7, 41, 43, 902000, tzinfo=UTC)


def test_raw_is_the_parsed_dict_not_a_redump() -> None:
    line = orjson.dumps(EXAMPLES["Fleet.Census.Device"])
    event = decode(line, received_at=EXAMPLES_RECEIVED_AT)
    event.raw["ext"]["ingest"] = {"time": "2026-03-11T14:00:00Z"}  # what the collector does
    assert b'"ingest"' in orjson.dumps(event.raw)


def test_received_at_defaults_to_now() -> None:
    record = EXAMPLES["Fleet.Agent.Heartbeat"]
    with pytest.raises(InvalidEvent) as err:  # the fixed 2026-03-11 example is stale relative to "now"
        decode(orjson.dumps(record), received_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert err.value.reason == "time_out_of_range"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert decode(orjson.dumps({**record, "time": now})).name == "Fleet.Agent.Heartbeat"


def test_pretty_printed_input_is_fine() -> None:
    line = orjson.dumps(EXAMPLES["Fleet.Logon.Performance"], option=orjson.OPT_INDENT_2)
    assert decode(b"  " + line + b"\n", received_at=EXAMPLES_RECEIVED_AT).name == "Fleet.Logon.Performance"


def test_export_json_schemas(tmp_path: Path) -> None:
    paths = export_json_schemas(tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(f"{n}.schema.json" for n in EVENT_NAMES)
    schema = orjson.loads((tmp_path / "out" / "Fleet.Boot.Performance.schema.json").read_bytes())
    assert schema["properties"]["name"]["const"] == "Fleet.Boot.Performance"
    assert schema["additionalProperties"] is False
    assert "iKey" in schema["required"]
    data_def = schema["$defs"]["BootPerformance"]
    assert data_def["properties"]["totalBootMs"]["maximum"] == 3_600_000


def test_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench_main(["--seconds", "0.01"])
    assert "records/s" in capsys.readouterr().out


def test_invalid_event_carries_reason_field_detail() -> None:
    exc = InvalidEvent("out_of_range", "data.totalBootMs", "too big")
    assert (exc.reason, exc.field, exc.detail) == ("out_of_range", "data.totalBootMs", "too big")
    assert "out_of_range" in str(exc)
    assert {"tenant_mismatch", "duplicate"} <= schemas.ALL_REASONS
