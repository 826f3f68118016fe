"""The sink's DLQ and its limit: bad messages dead-lettered with origin headers, then a loud stop."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from prometheus_client import CollectorRegistry

from fleetpulse.settings import load_settings
from schemas.examples import load_examples
from sinks.dlq import DeadLetters, DlqLimit, DlqLimitExceeded, LimitTracker
from sinks.metrics import SinkMetrics
from tests.integration.conftest import SinkProcess, event_record, produce, sink_settings, wait_for

TP0 = ("events", 0)


def test_limit_consecutive_and_ratio() -> None:
    t = LimitTracker(DlqLimit(max_invalid_ratio=0.5, max_consecutive_count=2, min_messages=4))
    assert t.check_invalid(TP0) is None  # 1/1 bad, but fewer than min_messages seen
    assert t.check_invalid(TP0) is None
    exceeded = t.check_invalid(TP0)
    assert exceeded is not None
    assert "in a row" in exceeded
    t = LimitTracker(DlqLimit(max_invalid_ratio=0.5, max_consecutive_count=10, min_messages=4))
    for _ in range(2):
        t.valid(TP0)
    assert t.check_invalid(TP0) is None  # 1/3
    assert t.check_invalid(TP0) is None  # 2/4 = 0.5, not above
    exceeded = t.check_invalid(TP0)  # 3/5
    assert exceeded is not None
    assert "ratio" in exceeded
    assert t.check_invalid(("events", 1)) is None  # per partition


class _FakeProducer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def produce(self, topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.sent.append({"topic": topic, "value": value, "headers": dict(headers)})

    def flush(self, _timeout: float) -> int:
        return 0


def test_dead_letters_headers_metrics_and_the_stop() -> None:
    settings = load_settings(sink_dlq_max_consecutive=1, topic_dlq="dlq")
    metrics = SinkMetrics.create(CollectorRegistry())
    fake = _FakeProducer()
    dl = DeadLetters(settings, metrics, producer=fake)
    dl.invalid(TP0, 41, b"garbage", "parse_error", "unexpected character")
    assert fake.sent == [
        {
            "topic": "dlq",
            "value": b"garbage",
            "headers": {
                "reason": b"parse_error",
                "detail": b"unexpected character",
                "stage": b"sink",
                "origin_topic": b"events",
                "origin_partition": b"0",
                "origin_offset": b"41",
            },
        }
    ]
    with pytest.raises(DlqLimitExceeded, match="events/0@42"):
        dl.invalid(TP0, 42, b"more garbage", "parse_error", "")
    assert len(fake.sent) == 1  # the message over the limit is not dead-lettered
    assert metrics.dlq_limit_exceeded.labels("events")._value.get() == 1
    assert metrics.dlq_messages.labels("events", "parse_error")._value.get() == 1


def _dlq_messages(bootstrap: str, topic: str, expect: int) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    got: list[Any] = []
    try:
        for _ in range(60):
            got += [m for m in consumer.consume(100, 0.5) if m.error() is None]
            if len(got) >= expect:
                break
    finally:
        consumer.close()
    return got


@pytest.mark.kafka
@pytest.mark.slow
def test_sink_dead_letters_then_stops_loudly_beyond_the_limit(
    kafka_bootstrap: str, new_topic: Callable[..., str], data_dir: Path
) -> None:
    settings = sink_settings(data_dir, kafka_bootstrap, new_topic)
    dlq = new_topic(1, "dlq")
    sink = SinkProcess(
        settings,
        FLEETPULSE_TOPIC_DLQ=dlq,
        FLEETPULSE_SINK_DLQ_MAX_CONSECUTIVE="5",
        FLEETPULSE_SINK_DLQ_MIN_MESSAGES="1000000",
    )
    try:
        sink.wait_healthy()
        examples = load_examples()
        good = [(b"k", event_record(examples, "Fleet.Boot.Performance", i)) for i in range(4)]
        bad = [(b"k", b"{not json"), (b"k", b'{"name": "Nope"}'), (b"k", b"\xff\xfe")]
        produce(kafka_bootstrap, settings.topic_events, [*bad, *good])  # one partition (same key)
        wait_for(lambda: sink.query("SELECT count() FROM fleetpulse.boot_events") == [(4,)], 60, "4 rows")
        assert sink.proc.poll() is None
        assert len(_dlq_messages(kafka_bootstrap, dlq, 3)) == 3
        produce(kafka_bootstrap, settings.topic_events, [(b"k", b"garbage %d" % i) for i in range(20)])
        code = sink.proc.wait(60)
    finally:
        sink.kill()
    log = sink.log.read_text()
    assert code != 0
    assert "DLQ LIMIT EXCEEDED" in log
    messages = _dlq_messages(kafka_bootstrap, dlq, 8)
    assert len(messages) == 3 + 5  # 3, then 5 in a row; the 6th stopped the sink
    headers = dict(messages[0].headers())
    assert headers["stage"] == b"sink"
    assert headers["origin_topic"] == settings.topic_events.encode()
    assert headers["reason"] == b"parse_error"
    assert messages[0].value() == b"{not json"
