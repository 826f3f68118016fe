"""Backpressure: an unreachable broker and a tiny producer queue give 503 + Retry-After, fast,
with bounded memory; failed deliveries are not remembered as seen (a retry is not a duplicate)."""

from __future__ import annotations

import re
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest

from deploy.kafka import free_port
from fleetpulse.settings import load_settings
from ingest.harness import CollectorThread
from ingest.records import fresh_record
from tests.integration.test_collector_hostile import get, post

pytestmark = pytest.mark.kafka

QUEUE = 50
PER_REQUEST = 30


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def body(first_seq: int) -> bytes:
    return b"\n".join(
        orjson.dumps(fresh_record("Fleet.Agent.Heartbeat", device=500, seq=first_seq + i))
        for i in range(PER_REQUEST)
    )


def test_unreachable_broker_and_full_queue_answer_503_with_retry_after() -> None:
    settings = load_settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}",  # nothing listens there
        collector_port=free_port(),
        collector_queue_max_messages=QUEUE,
        collector_delivery_timeout_ms=2000,
        collector_retry_after_s=7,
    )
    with CollectorThread(settings) as url:
        status, _ = get(url, "/healthz")
        assert status == 503

        # one request fills the queue and waits for its delivery reports: they fail -> 503
        first: list[tuple[int, dict[str, str], Any]] = []
        waiting = threading.Thread(target=lambda: first.append(post(url, body(1))))
        started = time.monotonic()
        waiting.start()
        time.sleep(0.5)

        # meanwhile the queue is above its high-water mark: refused at once, nothing produced
        t0 = time.monotonic()
        status, headers, answer = post(url, body(1000))
        assert time.monotonic() - t0 < 1.0
        assert (status, headers["Retry-After"], answer["detail"]) == (503, "7", "queue_messages")

        waiting.join(30)
        status, headers, answer = first[0]
        assert (status, headers["Retry-After"], answer["detail"]) == (503, "7", "delivery_failed")
        assert time.monotonic() - started < 10

        # a flood of concurrent requests: all 503, the queue never passes its cap, memory flat
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        depths: list[float] = []
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(post, url, body(10_000 + i * PER_REQUEST)) for i in range(400)]
            while not all(f.done() for f in futures):
                text = get(url, "/metrics")[1].decode()
                depths.append(metric(text, "fleetpulse_collector_kafka_queue_depth"))
                time.sleep(0.05)
            statuses = [f.result()[0] for f in futures]
        assert set(statuses) == {503}
        assert max(depths) <= QUEUE
        assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024 < 100

        # the failed records were not remembered: resending them is not a duplicate
        status, _, _ = post(url, body(1))
        assert status == 503
        text = get(url, "/metrics")[1].decode()
        assert metric(text, "fleetpulse_collector_records_duplicate_total") == 0
        assert metric(text, "fleetpulse_collector_records_accepted_total") == 0
        assert 'fleetpulse_collector_backpressure_total{cause="queue_messages"}' in text
