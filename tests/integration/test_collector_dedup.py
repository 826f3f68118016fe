"""Dedup: the store's window (pure), concurrent replays and delivery failures (real HTTP + Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.cimpl import NewTopic

from deploy.kafka import free_port
from fleetpulse.settings import load_settings
from ingest.dedup import DedupStore, dedup_keys, triage
from ingest.harness import CollectorThread
from ingest.records import event_names, fresh_record
from tests.integration.test_collector_hostile import consume, identity, post

# -- the store, no broker ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _settle_now(store: DedupStore, keys: list[int]) -> None:
    async def run() -> None:
        claim: asyncio.Future[frozenset[int]] = asyncio.get_running_loop().create_future()
        out = triage(store, [(k,) for k in keys], claim)
        store.settle(claim, out.claimed, frozenset(out.claimed))

    asyncio.run(run())


def test_store_forgets_after_the_window_and_past_max_entries() -> None:
    clock = FakeClock()
    store = DedupStore(max_entries=1000, window_s=800.0, generations=8, clock=clock)
    _settle_now(store, [1, 2, 3])
    assert all(store.is_seen(k) for k in (1, 2, 3))
    clock.now = 799.0
    _settle_now(store, [4])
    assert store.is_seen(1)
    assert store.is_seen(4)
    clock.now = 1000.0  # > window + one generation span after key 1
    _settle_now(store, [5])
    assert not store.is_seen(1)
    assert store.is_seen(4)
    assert store.is_seen(5)

    small = DedupStore(max_entries=100, window_s=1e9, generations=4, clock=clock)
    _settle_now(small, list(range(1000)))
    assert len(small) <= 100 + 25
    assert small.is_seen(999)
    assert not small.is_seen(0)


def test_identity_and_report_id_are_separate_keys() -> None:
    a = dedup_keys("s:dev", "1", 5, "AAAA-report")
    b = dedup_keys("s:dev", "1", 6, "aaaa-report")
    assert a[0] != b[0]
    assert a[1] == b[1]
    assert len(dedup_keys("s:dev", "1", 5, None)) == 1


# -- over HTTP and Kafka -----------------------------------------------------------------------


@pytest.mark.kafka
def test_concurrent_replays_are_forwarded_once(kafka_bootstrap: str, new_topic: Callable[..., str]) -> None:
    settings = load_settings(
        kafka_bootstrap=kafka_bootstrap,
        collector_port=free_port(),
        topic_events=new_topic(3, "events"),
        topic_dlq=new_topic(1, "dlq"),
    )
    names = event_names()
    records = [orjson.dumps(fresh_record(names[i % len(names)], device=i % 7, seq=i + 1)) for i in range(200)]
    body = b"\n".join(records)
    with CollectorThread(settings) as url, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(url, body), range(16)))
    assert {(status, answer["acc"], answer["rej"]) for status, _, answer in answers} == {(200, 200, 0)}
    events = consume(kafka_bootstrap, settings.topic_events, expected=len(records))
    assert sorted(identity(m.value()) for m in events) == sorted(identity(r) for r in records)


@pytest.mark.kafka
def test_failed_delivery_is_not_remembered_and_the_retry_lands_once(kafka_bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topic = f"events.tiny.{free_port()}"
    # the broker refuses record batches above 256 bytes: every delivery fails
    futures = admin.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": "256"})])
    futures[topic].result(30)
    settings = load_settings(
        kafka_bootstrap=kafka_bootstrap,
        collector_port=free_port(),
        topic_events=topic,
        collector_delivery_timeout_ms=5000,
    )
    records = [orjson.dumps(fresh_record("Fleet.Fault.AppCrash", device=900, seq=s)) for s in (1, 2, 3)]
    body = b"\n".join(records)
    with CollectorThread(settings) as url:
        status, headers, answer = post(url, body)
        assert (status, answer["detail"]) == (503, "delivery_failed")
        assert "Retry-After" in headers

        entry = ConfigEntry("max.message.bytes", "1048588", incremental_operation=AlterConfigOpType.SET)
        resource = ConfigResource("topic", topic, incremental_configs=[entry])
        admin.incremental_alter_configs([resource])[resource].result(30)
        status, _, answer = post(url, body)
        assert (status, answer) == (200, {"acc": 3, "rej": 0, "errors": []})
        status, _, answer = post(url, body)  # now they are duplicates
        assert (status, answer) == (200, {"acc": 3, "rej": 0, "errors": []})
    events = consume(kafka_bootstrap, topic, expected=3)
    assert sorted(identity(m.value()) for m in events) == sorted(identity(r) for r in records)
