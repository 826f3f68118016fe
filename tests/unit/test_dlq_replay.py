"""Pure steps of ``fleetpulse replay-dlq``: header parsing, recovery, verdicts, policy, summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from fleetpulse.settings import DEMO_IKEY, load_settings
from ingest import batch as steps
from ingest.dedup import DedupKey
from ingest.records import fresh_record
from ingest.replay_steps import Summary, Verdict, judge, read_headers, recover, stops
from sinks.rows import rows_for_event

SETTINGS = load_settings()
TENANTS = dict(SETTINGS.tenants)
EVENTS = "telemetry.events.v1"
OTHER_IKEY = "o:" + "0" * 32


def line(device: int = 1, seq: int = 1, now: datetime | None = None, ikey: str = DEMO_IKEY) -> bytes:
    return orjson.dumps(fresh_record("Fleet.Boot.Performance", device=device, seq=seq, now=now, ikey=ikey))


def collector_headers(
    reason: str = "parse_error", when: datetime | None = None, **extra: str
) -> dict[str, str]:
    moment = when or datetime.now(UTC)
    return {
        "reason": reason,
        "field": "",
        "tenant": "contoso",
        "line": "3",
        "received_at": steps.rfc3339(moment),
        "size": "100",
        "truncated": "0",
        **extra,
    }


def never_duplicate(_keys: tuple[DedupKey, ...], _origin: str) -> bool:
    return False


def run(headers: dict[str, str], value: bytes, **kw: Any) -> Verdict:
    args: dict[str, Any] = {
        "tenants": TENANTS,
        "events_topic": EVENTS,
        "max_record_bytes": SETTINGS.collector_max_record_bytes,
        "reasons": frozenset(),
        "is_duplicate": never_duplicate,
    }
    return judge(headers, value, **{**args, **kw})


def test_read_headers_decodes_and_tolerates_none() -> None:
    assert read_headers([("reason", b"parse_error"), ("field", None), ("x", b"\xff")]) == {
        "reason": "parse_error",
        "field": "",
        "x": "\ufffd",
    }
    assert read_headers(None) == {}


def test_collector_record_recovers_line_and_original_context() -> None:
    when = datetime(2026, 3, 11, 7, 41, 43, 902000, tzinfo=UTC)
    got = recover(collector_headers(when=when), b"raw", TENANTS, EVENTS)
    assert not isinstance(got, Verdict)
    assert (got.line, got.origin, got.ctx.tenant.name, got.ctx.received_at, got.ctx.client_ip) == (
        b"raw",
        "collector",
        "contoso",
        when,
        "",
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (collector_headers(truncated="1"), "truncated"),
        (collector_headers(tenant="nobody"), "unknown_tenant"),
        (collector_headers(tenant=""), "no_context"),
        (collector_headers(received_at="yesterday"), "no_context"),
        (collector_headers(received_at="2026-03-11T07:41:43"), "no_context"),  # naive: refused
    ],
)
def test_collector_record_without_usable_context_fails(headers: dict[str, str], reason: str) -> None:
    assert recover(headers, b"raw", TENANTS, EVENTS) == Verdict("failed", reason, "collector")


def sink_value(raw: bytes, tenant: str = "contoso", when: str = "2026-03-11T07:41:43.902Z") -> bytes:
    record = orjson.loads(raw)
    record["ext"]["ingest"] = {"time": when, "clientIp": "10.1.2.3", "tenant": tenant}
    return orjson.dumps(record)


def sink_headers(topic: str = EVENTS, reason: str = "missing_field") -> dict[str, str]:
    return {
        "reason": reason,
        "detail": "",
        "stage": "sink",
        "origin_topic": topic,
        "origin_partition": "2",
        "origin_offset": "41",
    }


def test_sink_record_context_comes_from_its_ext_ingest_which_is_removed() -> None:
    raw = line()
    got = recover(sink_headers(), sink_value(raw), TENANTS, EVENTS)
    assert not isinstance(got, Verdict)
    assert got.origin == "sink"
    assert orjson.loads(got.line) == orjson.loads(raw)  # ext.ingest gone: decode would refuse it
    assert got.ctx.client_ip == "10.1.2.3"
    assert got.ctx.received_at == datetime(2026, 3, 11, 7, 41, 43, 902000, tzinfo=UTC)


def test_sink_record_of_another_topic_is_foreign_and_garbage_has_no_context() -> None:
    assert recover(sink_headers("telemetry.aggregates.v1"), b"{}", TENANTS, EVENTS) == Verdict(
        "foreign", "telemetry.aggregates.v1", "sink"
    )
    for value in (b"{not json", b"[]", b'{"ext": {}}', b'{"ext": "x"}', b'{"ext": {"ingest": {}}}'):
        assert recover(sink_headers(), value, TENANTS, EVENTS) == Verdict("failed", "no_context", "sink")


def test_now_valid_record_is_replayed_with_the_first_stamp_and_replayed_flag() -> None:
    now = datetime.now(UTC)
    verdict = run(collector_headers("invariant_violated", when=now), line(device=7))
    assert verdict.kind == "replay"
    assert verdict.reason == "invariant_violated"
    assert verdict.key.decode() == verdict.key.decode().lower()
    stamped = orjson.loads(verdict.value)
    assert stamped["ext"]["ingest"] == {
        "time": steps.rfc3339(now),
        "clientIp": "",
        "tenant": "contoso",
        "replayed": True,
    }
    table, row = rows_for_event(verdict.value, 0, 0)  # the sink's rows tolerate the extra key
    assert table == "boot_events"
    assert row[0] == "contoso"


def test_time_window_is_judged_as_of_the_original_receive_time() -> None:
    long_ago = datetime.now(UTC) - timedelta(days=60)
    old = line(now=long_ago)
    assert run(collector_headers(when=long_ago), old).kind == "replay"
    assert run(collector_headers(when=datetime.now(UTC)), old) == Verdict(
        "failed", "time_out_of_range", "collector"
    )


def test_still_invalid_records_fail_again_with_the_collector_reasons() -> None:
    assert run(collector_headers(), b"{not json") == Verdict("failed", "parse_error", "collector")
    assert run(collector_headers(), line(ikey=OTHER_IKEY)) == Verdict(
        "failed", "tenant_mismatch", "collector"
    )
    small = run(collector_headers(), line(), max_record_bytes=10)
    assert small == Verdict("failed", "too_large", "collector")


def test_reason_filter_skips_before_anything_else() -> None:
    reasons = frozenset({"bad_format"})
    assert run(collector_headers("parse_error"), b"x", reasons=reasons) == Verdict("filtered", "parse_error")
    assert run(collector_headers("bad_format"), line(), reasons=reasons).kind == "replay"


def test_duplicates_are_told_by_the_dedup_callback_with_the_origin() -> None:
    asked: list[str] = []

    def dup(keys: tuple[DedupKey, ...], origin: str) -> bool:
        asked.append(origin)
        return bool(keys)

    assert run(collector_headers(), line(), is_duplicate=dup).kind == "duplicate"
    assert run(
        sink_headers(), sink_value(line(), when=steps.rfc3339(datetime.now(UTC))), is_duplicate=dup
    ).kind == ("duplicate")
    assert asked == ["collector", "sink"]


def test_policy_stop_halts_only_on_failures() -> None:
    failed, other = Verdict("failed", "parse_error"), Verdict("filtered", "x")
    assert stops("stop", failed)
    assert not stops("skip-invalid", failed)
    assert not stops("stop", other)
    assert not stops("stop", Verdict("duplicate", "x"))
    assert not stops("stop", Verdict("foreign", "t"))


def test_summary_counts_and_renders() -> None:
    s = Summary()
    for v in (
        Verdict("replay", "a"),
        Verdict("failed", "parse_error"),
        Verdict("failed", "parse_error"),
        Verdict("filtered", "b"),
        Verdict("duplicate", "a"),
        Verdict("foreign", "agg"),
    ):
        s.count(v)
    s.committed = {1: 5, 0: 3}
    doc = json.loads(json.dumps(s.as_dict()))
    assert doc == {
        "dry_run": False,
        "read": 6,
        "replayed": 1,
        "failed_again": {"parse_error": 2},
        "skipped_by_filter": {"b": 1},
        "duplicates": 1,
        "foreign_origin": {"agg": 1},
        "stopped_at": None,
        "committed": {"0": 3, "1": 5},
    }
    text = s.render()
    assert "failed again:       parse_error 2" in text
    assert "duplicates:         1" in text
