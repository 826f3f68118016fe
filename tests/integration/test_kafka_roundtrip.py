"""10 000 keyed records through the real broker: confluent-kafka in, aiokafka (faust's client) out."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer

pytestmark = pytest.mark.kafka

N_RECORDS = 10_000
N_KEYS = 97


def _produce(bootstrap: str, topic: str) -> dict[bytes, list[bytes]]:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": "lz4",
        }
    )
    sent: dict[bytes, list[bytes]] = defaultdict(list)
    failures: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    for i in range(N_RECORDS):
        key = f"device-{i % N_KEYS:03d}".encode()
        value = f"{key.decode()}|{i}".encode()
        sent[key].append(value)
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert failures == []
    return sent


async def _consume(bootstrap: str, topic: str, group: str) -> dict[bytes, list[bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: dict[bytes, list[bytes]] = defaultdict(list)
    await consumer.start()
    try:
        total = 0
        while total < N_RECORDS:
            batches = await asyncio.wait_for(consumer.getmany(timeout_ms=1000, max_records=2000), 60)
            for records in batches.values():
                for record in records:
                    assert record.key is not None
                    assert record.value is not None
                    received[record.key].append(record.value)
                    total += 1
        await consumer.commit()
        extra = await consumer.getmany(timeout_ms=500)
        assert sum(len(r) for r in extra.values()) == 0
    finally:
        await consumer.stop()
    return received


def test_confluent_to_aiokafka_roundtrip(kafka_bootstrap: str, new_topic: Callable[..., str]) -> None:
    topic = new_topic(6)
    sent = _produce(kafka_bootstrap, topic)
    received = asyncio.run(_consume(kafka_bootstrap, topic, group=f"g-{topic}"))
    assert set(received) == set(sent)
    assert sum(len(v) for v in received.values()) == N_RECORDS
    for key, values in sent.items():
        assert received[key] == values, f"order or content differs for {key!r}"
