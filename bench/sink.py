"""Sink benchmark: ``python -m bench.sink [--events N] [--rate R] [--seconds S]``.

1. *Throughput*: produce N pre-built accepted event records (every event type, distinct devices
   and seqs, ``ext.ingest`` stamped) to a fresh topic, then run the sink (in-process, a fresh
   embedded store) and time from its first insert to the last row stored: rows/s.
2. *Latency*: with the sink caught up, produce at R events/s for S seconds, each stamped with
   its produce time as ``ext.ingest.time``; print event-to-queryable p50/p99 (the quantity
   ``fleetpulse_event_to_queryable_seconds`` observes: insert returned - ingest time).

Uses ``FLEETPULSE_KAFKA_BOOTSTRAP`` (default ``127.0.0.1:19092``, the dev broker).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from deploy.kafka import create_topics
from fleetpulse.settings import load_settings
from schemas.examples import load_examples
from sinks.clickhouse import open_backend
from sinks.insert import InsertStep
from sinks.metrics import SinkMetrics
from sinks.migrations import migrate
from sinks.pipeline import SinkPipeline

EXAMPLES = load_examples()
NAMES = sorted(EXAMPLES)


def record(i: int, ingest_time: str) -> tuple[bytes, bytes]:
    """Accepted event ``i`` as the collector writes it: (key, value)."""
    base = EXAMPLES[NAMES[i % len(NAMES)]]
    device = f"s:{i % 20_000:08X}-5B3D-4F1A-9C27-3E8D5A6B1F04"
    data = dict(base["data"])
    for key in ("reportId", "logonId", "appSessionId"):
        if key in data:
            data[key] = str(uuid.UUID(int=i + 1))
    ext = base["ext"]
    value = {
        **base,
        "data": data,
        "ext": {
            **ext,
            "device": {"localId": device},
            "sdk": {**ext["sdk"], "seq": i + 1},
            "ingest": {"time": ingest_time, "clientIp": "10.0.0.1", "tenant": "contoso"},
        },
    }
    return device.lower().encode(), orjson.dumps(value)


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def produce(producer: Producer, topic: str, items: Sequence[tuple[bytes, bytes]]) -> None:
    for key, value in items:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(60)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rate", type=int, default=20_000, help="events/s in the latency phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency phase")
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args(argv)

    bootstrap = os.environ.get("FLEETPULSE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    suffix = uuid.uuid4().hex[:8]
    topics = {f"bench.ev.{suffix}": args.partitions, f"bench.agg.{suffix}": 1, f"bench.reg.{suffix}": 1}
    create_topics(bootstrap, topics)
    directory = Path(tempfile.mkdtemp(prefix="fleetpulse-bench-sink-"))
    settings = load_settings(
        data_dir=directory,
        clickhouse_url=f"chdb://{directory / 'store'}",
        kafka_bootstrap=bootstrap,
        topic_events=f"bench.ev.{suffix}",
        topic_aggregates=f"bench.agg.{suffix}",
        topic_regressions=f"bench.reg.{suffix}",
        sink_group_id=f"bench-sink-{suffix}",
    )
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4"})
    t0 = time.perf_counter()
    stamp = now_text()
    items = [record(i, stamp) for i in range(args.events)]
    print(f"built {len(items):,} records in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    produce(producer, settings.topic_events, items)
    print(f"produced {len(items):,} records in {time.perf_counter() - t0:.1f} s")
    del items

    samples: list[float] = []
    first_insert: list[float] = []
    observe = InsertStep._observe_queryable

    def recording(self: InsertStep, table: str, received: Sequence[Any]) -> None:
        now = time.time()
        if not first_insert:
            first_insert.append(time.perf_counter())
        samples.extend(now - value.timestamp() for value in received)
        observe(self, table, received)

    InsertStep._observe_queryable = recording  # type: ignore[method-assign]  # bench-only probe
    backend = open_backend(settings.clickhouse_url_resolved)
    stop = threading.Event()
    writer = threading.Thread()
    try:
        migrate(backend, settings)
        metrics = SinkMetrics.create(CollectorRegistry())
        writer = threading.Thread(target=SinkPipeline(settings, backend, metrics).run, args=(stop,))
        started = time.perf_counter()
        writer.start()
        while len(samples) < args.events:
            time.sleep(0.05)
        done = time.perf_counter()
        elapsed = done - first_insert[0]
        print(
            f"throughput: {args.events:,} rows inserted in {done - started:.2f} s from start "
            f"({elapsed:.2f} s from the first insert): {args.events / elapsed:,.0f} rows/s "
            f"({args.events / (done - started):,.0f} rows/s including start-up and the first epoch)"
        )
        samples.clear()
        total = int(args.rate * args.seconds)
        interval = 0.05
        per_tick = max(1, int(args.rate * interval))
        i = args.events
        next_tick = time.perf_counter()
        while i < args.events + total:
            stamp = now_text()
            for _ in range(per_tick):
                key, value = record(i, stamp)
                producer.produce(settings.topic_events, key=key, value=value)
                i += 1
            producer.poll(0)
            next_tick += interval
            time.sleep(max(0.0, next_tick - time.perf_counter()))
        producer.flush(60)
        while len(samples) < total:
            time.sleep(0.05)
        lat = np.array(samples)
        print(
            f"latency at {args.rate:,} events/s for {args.seconds:.0f} s: event-to-queryable "
            f"p50 {np.quantile(lat, 0.5):.3f} s, p99 {np.quantile(lat, 0.99):.3f} s, max {lat.max():.3f} s "
            f"(epoch <= {settings.sink_epoch_max_rows:,} rows or {settings.sink_epoch_max_s:.1f} s)"
        )
        rows = sum(
            v
            for (v,) in backend.query(
                "SELECT count() FROM system.parts WHERE active AND database = 'fleetpulse'"
            )
        )
        print(f"active parts in the store: {rows}")
    finally:
        stop.set()
        if writer.is_alive():
            writer.join(60)
        backend.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
