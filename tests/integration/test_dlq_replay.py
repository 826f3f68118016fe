"""``fleetpulse replay-dlq`` on the real broker: a DLQ after a "bad deploy" replayed exactly once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer, TopicPartition

from fleetpulse.settings import DEMO_IKEY, Settings, load_settings
from ingest import batch as steps
from ingest.records import fresh_record
from ingest.replay import replay_dlq, replay_dlq_run

pytestmark = pytest.mark.kafka

Headers = dict[str, str]


def raw_line(device: int, seq: int = 1, ikey: str = DEMO_IKEY) -> bytes:
    return orjson.dumps(fresh_record("Fleet.Logon.Performance", device=device, seq=seq, ikey=ikey))


def collector_headers(reason: str) -> Headers:
    return {
        "reason": reason,
        "field": "",
        "tenant": "contoso",
        "line": "0",
        "received_at": steps.rfc3339(datetime.now(UTC)),
        "size": "1",
        "truncated": "0",
    }


def stamped(settings: Settings, line: bytes) -> tuple[bytes, bytes]:
    """(key, value) exactly as the collector forwards ``line``."""
    tenant = next(iter(settings.tenants.values()))
    ctx = steps.IngestContext(tenant, datetime.now(UTC), "10.0.0.9")
    candidate = steps.classify_one(0, line, ctx, settings.collector_max_record_bytes)
    assert isinstance(candidate, steps.Candidate)
    out = steps.event_message(candidate, ctx, settings.topic_events)
    assert out.key is not None
    return out.key, out.value


def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes, Headers | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i, (key, value, headers) in enumerate(items):
        hdrs = [(k, v.encode()) for k, v in (headers or {}).items()]
        # DLQ records: one partition for a deterministic order (the collector's DLQ copies are unkeyed)
        producer.produce(topic, key=key, value=value, headers=hdrs, partition=0 if key is None else -1)
        if i % 100 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


def read_all(bootstrap: str, topic: str) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}", "log_level": 3})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        got: list[Any] = []
        for _ in range(60):
            if len(got) >= sum(ends.values()):
                break
            got += [m for m in consumer.consume(500, 0.5) if m.error() is None]
        assert len(got) == sum(ends.values())
        return got
    finally:
        consumer.close()


def committed(settings: Settings, group: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group, "log_level": 3})
    try:
        tps = [TopicPartition(settings.topic_dlq, p) for p in range(2)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


@pytest.fixture
def settings(kafka_bootstrap: str, new_topic: Callable[..., str]) -> Settings:
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_events=new_topic(3, "ev"),
        topic_dlq=new_topic(2, "dlq"),
        replay_group_id=f"replay-{uuid.uuid4().hex[:8]}",
    )


def bad_deploy_dlq(settings: Settings) -> dict[str, bytes]:
    """The events topic holds ``dup``; the DLQ holds a mix (partition 0, in this order):
    0 ok1 (valid now), 1 garbage, 2 ok2, 3 tenant_mismatch, 4 dup (already stored),
    5 ok1 again (a resent request dead-lettered twice), 6 sink-origin ok3 (sink bug), 7 ok4."""
    b = settings.kafka_bootstrap
    lines = {name: raw_line(device) for device, name in enumerate(["ok1", "ok2", "dup", "ok3", "ok4"])}
    produce(b, settings.topic_events, [(*stamped(settings, lines["dup"]), None)])
    sink_key, sink_value = stamped(settings, lines["ok3"])
    sink_hdrs = {"reason": "missing_field", "stage": "sink", "origin_topic": settings.topic_events}
    sink_hdrs |= {"origin_partition": "0", "origin_offset": "7", "detail": ""}
    deploy = "invariant_violated"  # what the bad deploy wrongly said about valid records
    dlq: list[tuple[bytes | None, bytes, Headers | None]] = [
        (None, lines["ok1"], collector_headers(deploy)),
        (None, b"{not json", collector_headers("parse_error")),
        (None, lines["ok2"], collector_headers(deploy)),
        (None, raw_line(9, ikey="o:" + "0" * 32), collector_headers("tenant_mismatch")),
        (None, lines["dup"], collector_headers(deploy)),
        (None, lines["ok1"], collector_headers(deploy)),
        (None, sink_value, sink_hdrs),
        (None, lines["ok4"], collector_headers("bad_format")),
    ]
    produce(b, settings.topic_dlq, dlq)
    produce(b, settings.topic_events, [(sink_key, sink_value, None)])  # the message the sink skipped
    return lines


def identities(messages: list[Any]) -> list[tuple[str, int]]:
    recs = [orjson.loads(m.value()) for m in messages]
    return sorted((r["ext"]["device"]["localId"].lower(), r["ext"]["sdk"]["seq"]) for r in recs)


def test_skip_invalid_replays_the_valid_ones_once_and_never_loops_back(settings: Settings) -> None:
    bad_deploy_dlq(settings)
    before = len(read_all(settings.kafka_bootstrap, settings.topic_events))
    summary = replay_dlq_run(settings, policy="skip-invalid")
    assert summary.as_dict() | {"committed": None} == {
        "dry_run": False,
        "read": 8,
        "replayed": 4,  # ok1, ok2, ok3 (sink origin), ok4
        "failed_again": {"parse_error": 1, "tenant_mismatch": 1},
        "skipped_by_filter": {},
        "duplicates": 2,  # dup (in the events topic), ok1's second DLQ copy
        "foreign_origin": {},
        "stopped_at": None,
        "committed": None,
    }
    events = read_all(settings.kafka_bootstrap, settings.topic_events)
    replayed = [m for m in events if orjson.loads(m.value())["ext"]["ingest"].get("replayed")]
    assert len(events) == before + 4
    assert len(replayed) == 4
    assert len(set(identities(replayed))) == 4
    for m in replayed:
        rec = orjson.loads(m.value())
        assert m.key().decode() == rec["ext"]["device"]["localId"].lower()
        assert rec["ext"]["ingest"]["tenant"] == "contoso"
    assert len(read_all(settings.kafka_bootstrap, settings.topic_dlq)) == 8  # nothing looped back
    assert committed(settings, settings.replay_group_id) == {0: 8, 1: -1001}  # p1 empty: nothing to commit
    again = replay_dlq_run(settings, policy="skip-invalid")
    assert (again.read, again.replayed) == (0, 0)
    # a fresh group from the beginning: the warmed dedup store knows every replayed record
    fresh = replay_dlq_run(settings, policy="skip-invalid", group=f"g-{uuid.uuid4().hex[:6]}")
    assert (fresh.read, fresh.replayed, fresh.duplicates) == (8, 0, 6)
    assert len(read_all(settings.kafka_bootstrap, settings.topic_events)) == before + 4


def test_stop_policy_stops_at_the_first_failure_and_commits_only_before_it(settings: Settings) -> None:
    bad_deploy_dlq(settings)
    summary = replay_dlq_run(settings, policy="stop")
    assert (summary.replayed, summary.stopped_at) == (1, "0@1 (parse_error)")
    assert committed(settings, settings.replay_group_id)[0] == 1  # ok1 only; garbage is next
    again = replay_dlq_run(settings, policy="stop")  # still stuck on the same record
    assert (again.read, again.replayed, again.stopped_at) == (1, 0, "0@1 (parse_error)")
    rest = replay_dlq_run(settings, policy="skip-invalid")
    assert (rest.read, rest.replayed) == (7, 3)


def test_reason_filter_and_dry_run(settings: Settings) -> None:
    bad_deploy_dlq(settings)
    events_before = len(read_all(settings.kafka_bootstrap, settings.topic_events))
    dry = replay_dlq_run(settings, policy="skip-invalid", dry_run=True)
    assert (dry.dry_run, dry.read, dry.replayed, dry.duplicates) == (True, 8, 4, 2)
    assert len(read_all(settings.kafka_bootstrap, settings.topic_events)) == events_before
    assert committed(settings, settings.replay_group_id) == {0: -1001, 1: -1001}

    result = CliRunner().invoke(
        replay_dlq,
        ["--policy", "stop", "--reason", "bad_format", "--reason", "missing_field", "--json"],
        obj=settings,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["replayed"] == 2  # ok3 (sink: missing_field) and ok4 (bad_format)
    assert doc["skipped_by_filter"] == {"invariant_violated": 4, "parse_error": 1, "tenant_mismatch": 1}
    assert doc["failed_again"] == {}
    assert doc["committed"] == {"0": 8}
    assert len(read_all(settings.kafka_bootstrap, settings.topic_events)) == events_before + 2
