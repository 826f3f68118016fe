"""ClickHouse fixtures: a fresh embedded store (chdb) per test module, migrated.

chdb serves one directory per process, so a module's store is closed (and its lock released)
before the next module opens its own; tests in a module share it and use their own tables or
tenants where they need isolation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from deploy.kafka_cluster import QUICK_START_JVM, LocalKafkaCluster
from fleetpulse.settings import Settings, load_settings
from schemas.examples import load_examples
from sinks.clickhouse import Backend, open_backend
from sinks.metrics import SinkMetrics
from sinks.migrations import migrate
from sinks.migrations.m0001_raw_events import FAMILIES
from sinks.pipeline import SinkPipeline
from sinks.reader import RemoteReader


@pytest.fixture(scope="module")
def clickhouse_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("clickhouse")
    return load_settings(
        data_dir=data_dir, clickhouse_url=f"chdb://{data_dir / 'store'}", clickhouse_database="fleetpulse"
    )


@pytest.fixture(scope="module")
def clickhouse(clickhouse_settings: Settings) -> Iterator[Backend]:
    """An embedded ClickHouse with every migration applied; closed at the end of the module."""
    backend = open_backend(clickhouse_settings.clickhouse_url_resolved)
    try:
        migrate(backend, clickhouse_settings)
        yield backend
    finally:
        backend.close()


# -- the sink under test: event records, a producer, the sink in-process or as a subprocess --------


def event_record(examples: dict[str, dict[str, Any]], name: str, i: int, tenant: str = "contoso") -> bytes:
    """Example ``name`` as distinct accepted event ``i`` (device, seq, ids), stamped like the collector."""
    record = examples[name]
    ext = record["ext"]
    device = device_id(i)
    data = dict(record["data"])
    for key in ("reportId", "logonId", "appSessionId"):
        if key in data:
            data[key] = str(uuid.UUID(int=i + 1))
    stamped = {
        **record,
        "data": data,
        "ext": {
            **ext,
            "device": {**ext["device"], "localId": device},
            "sdk": {**ext["sdk"], "seq": i + 1},
            "ingest": {"time": _now_rfc3339(), "clientIp": "127.0.0.1", "tenant": tenant},
        },
    }
    return orjson.dumps(stamped)


def device_id(i: int) -> str:
    return f"s:{i % 997:08X}-5B3D-4F1A-9C27-3E8D5A6B1F04"


def _now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def produce(bootstrap: str, topic: str, values: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Produce ``(key, value)`` pairs, acknowledged (acks=all); returns how many."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
    n = 0
    for key, value in values:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return n


def produce_events(bootstrap: str, topic: str, n: int, start: int = 0) -> int:
    """``n`` distinct accepted events cycling through every event type."""
    examples = load_examples()
    names = sorted(examples)
    return produce(
        bootstrap,
        topic,
        (
            (device_id(i).lower().encode(), event_record(examples, names[i % len(names)], i))
            for i in range(start, start + n)
        ),
    )


def count_raw(query: Callable[[str], list[tuple[Any, ...]]], db: str = "fleetpulse") -> tuple[int, int]:
    """(rows, distinct (device_id, epoch, seq)) over every raw table."""
    union = " UNION ALL ".join(f"SELECT device_id, epoch, seq FROM {db}.{t}" for t in FAMILIES)
    ((rows, distinct),) = query(f"SELECT count(), uniqExact(device_id, epoch, seq) FROM ({union})")
    return int(rows), int(distinct)


def sink_settings(data_dir: Path, bootstrap: str, new_topic: Callable[..., str], **extra: Any) -> Settings:
    """Settings for a sink on fresh topics (events 3 partitions, aggregates 2, regressions 1)."""
    return load_settings(
        data_dir=data_dir,
        clickhouse_url=f"chdb://{data_dir / 'store'}",
        kafka_bootstrap=bootstrap,
        topic_events=new_topic(3, "ev"),
        topic_aggregates=new_topic(2, "agg"),
        topic_regressions=new_topic(1, "reg"),
        sink_group_id=f"sink-{uuid.uuid4().hex[:8]}",
        **extra,
    )


@contextlib.contextmanager
def pipeline_thread(settings: Settings, backend: Backend) -> Iterator[SinkMetrics]:
    """The writer in-process on a thread (the test's own store); stopped and joined on exit."""
    metrics = SinkMetrics.create(CollectorRegistry())
    stop = threading.Event()
    thread = threading.Thread(target=SinkPipeline(settings, backend, metrics).run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield metrics
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive(), "the sink writer did not stop within 60 s"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SinkProcess:
    """``python -m fleetpulse.cli sink`` in a subprocess (it owns the chdb directory); reads via /v1/query."""

    def __init__(self, settings: Settings, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "FLEETPULSE_DATA_DIR": str(settings.data_dir),
            "FLEETPULSE_CLICKHOUSE_URL": settings.clickhouse_url,
            "FLEETPULSE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "FLEETPULSE_TOPIC_EVENTS": settings.topic_events,
            "FLEETPULSE_TOPIC_AGGREGATES": settings.topic_aggregates,
            "FLEETPULSE_TOPIC_REGRESSIONS": settings.topic_regressions,
            "FLEETPULSE_SINK_GROUP_ID": settings.sink_group_id,
            "FLEETPULSE_SINK_PORT": str(self.port),
            **env,
        }
        self.log = settings.data_dir / f"sink-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fleetpulse.cli", "sink"], env=environ, stdout=out, stderr=out
            )
        self.reader = RemoteReader(self.url, timeout_s=30)

    def wait_healthy(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"sink exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"sink not healthy in {timeout_s} s:\n{self.log.read_text()[-3000:]}")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row.values()) for row in self.reader.query_json(sql)]

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as resp:
            text: str = resp.read().decode()
            return text

    def stop(self, timeout_s: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


# -- a real 3-broker Kafka cluster (KRaft), for the tests that kill and restart brokers ------------


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    """Three combined broker+controller nodes of the project's launcher, for one module.

    Always local (the tests kill nodes by id), whatever ``FLEETPULSE_KAFKA_BOOTSTRAP`` says;
    module scoped so only the modules that ask for it pay its start (three JVMs, C1 only: they
    start and restart more than they work).
    """
    cluster = LocalKafkaCluster(
        data_dir=tmp_path_factory.mktemp("kafka-cluster"), brokers=3, heap_mb=384, jvm_opts=QUICK_START_JVM
    )
    cluster.start()
    print(f"\n[kafka] 3-broker cluster {cluster.bootstrap} started in {cluster.startup_s:.1f}s")
    try:
        yield cluster
    finally:
        cluster.stop()
        print(f"\n[kafka] 3-broker cluster stopped in {cluster.shutdown_s:.1f}s")
