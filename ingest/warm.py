"""Warm the dedup store from the tail of the events topic before serving (a restart must not forget).

A collector killed after Kafka acknowledged a request's records but before its answer reached
the agent receives that request again once it is back. Its dedup store lives in memory, so
without this step the resend is forwarded a second time and stored twice downstream (the raw
tables are plain MergeTree: they do not de-duplicate by identity). At start-up the collector
reads back the last ``collector_dedup_warm_s`` seconds of ``topic_events`` (by Kafka timestamp,
at most ``collector_dedup_max_entries`` messages) and remembers their dedup keys, then serves.
The agent's retries of an unanswered request fall well inside that window (docs/reliability.md).
"""

from __future__ import annotations

import logging
import time
import uuid

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from fleetpulse.settings import Settings
from ingest.dedup import DedupStore, dedup_keys

log = logging.getLogger("fleetpulse.collector")


def keys_of(key: bytes | None, value: bytes | None) -> tuple[int, ...]:
    """The dedup keys of a forwarded message (key = device id, value = the stamped record)."""
    if not key or not value:
        return ()
    try:
        record = orjson.loads(value)
        sdk = record["ext"]["sdk"]
        rid = record.get("data", {}).get("reportId")
        return dedup_keys(
            key.decode(), str(sdk["epoch"]), int(sdk["seq"]), rid if isinstance(rid, str) else None
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return ()


def warm_dedup(settings: Settings, store: DedupStore, timeout_s: float = 60.0) -> int:
    """Remember the keys of the topic's last ``collector_dedup_warm_s`` seconds; returns how many messages."""
    if settings.collector_dedup_warm_s <= 0:
        return 0
    started = time.monotonic()
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"fleetpulse-collector-warm-{uuid.uuid4().hex[:8]}",  # never commits
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 3,
        }
    )
    try:
        topic = settings.topic_events
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        since_ms = int((time.time() - settings.collector_dedup_warm_s) * 1000)
        wanted = [TopicPartition(topic, p, since_ms) for p in sorted(partitions)]
        starts = consumer.offsets_for_times(wanted, timeout=10)
        budget = settings.collector_dedup_max_entries
        assign, ends = [], {}
        for tp in starts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            start = tp.offset if tp.offset >= 0 else high
            start = max(start, low, high - budget)
            if start < high:
                assign.append(TopicPartition(topic, tp.partition, start))
                ends[tp.partition] = high
        consumer.assign(assign)
        done: set[int] = set()
        n = 0
        while len(done) < len(ends) and time.monotonic() - started < timeout_s:
            for msg in consumer.consume(5000, 0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        done.add(msg.partition())
                    continue
                if msg.offset() >= ends[msg.partition()] - 1:
                    done.add(msg.partition())
                store.remember(keys_of(msg.key(), msg.value()))
                n += 1
        log.info(
            "dedup store warmed from the last %.0f s of %s: %d messages in %.1f s%s",
            settings.collector_dedup_warm_s, topic, n, time.monotonic() - started,
            "" if len(done) == len(ends) else " (timed out: partial)",
        )  # fmt: skip
        return n
    except KafkaException as exc:  # Kafka down at start-up: serve (healthz says 503) with an empty store
        log.error(
            "dedup store not warmed (%s): a resend of an unanswered request may be stored twice",
            exc,
        )
        return 0
    finally:
        consumer.close()
