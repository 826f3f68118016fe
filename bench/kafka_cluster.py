"""Kafka capacity inputs: ``python -m bench.kafka_cluster [--events N] [--rounds R] [--json PATH]``.

One local 3-broker KRaft cluster (deploy/kafka_cluster.py). Events: a simulated fleet's NDJSON
lines stamped like the collector's (generated before anything is timed), key = device id,
produced with the collector's producer settings (idempotent, acks=all, lz4, linger 10 ms).
Each round runs every case side by side on fresh topics, in turn:

* ``rf1``: replication factor 1; ``rf3``: 3 replicas, min ISR 2 (the cluster's default); both
  with ``--partitions`` (6) partitions; ``rf3-pN``: 3 replicas with ``--many-partitions`` (48).
* produce all N events (flat out), then consume them back (``read_committed``, a fresh group).

Per case: events/s and MB/s (payload) produced and consumed; the brokers' CPU seconds (the
three JVMs' utime+stime from /proc) per 10^6 events for each, and the producing client's (this
process: Python and librdkafka's threads); bytes on disk per event (every replica's segment
files). One round goes first unrecorded (JIT warm-up: without it each round ran faster than the
one before, round 3 ~2x round 1).
Printed as medians of the rounds, with every run and the RF3 ÷ RF1 ratios taken within each
round.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from bench.fleet import generate
from deploy.kafka import create_topics
from deploy.kafka_cluster import LocalKafkaCluster
from fleetpulse.settings import load_settings
from ingest.producer import producer_config

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Case:
    name: str
    replication: int
    partitions: int


@dataclass
class Run:
    """One case in one round."""

    case: str
    round: int
    events: int
    produce_events_s: float
    produce_mb_s: float
    produce_broker_cpu_s_per_m: float  # broker CPU seconds (all three JVMs) per 10^6 events
    produce_client_cpu_s_per_m: float  # this process (Python + librdkafka threads) per 10^6 events
    consume_events_s: float
    consume_broker_cpu_s_per_m: float
    disk_bytes_per_event: float  # every replica's segments


def broker_cpu_s(cluster: LocalKafkaCluster) -> float:
    """utime + stime of every node's JVM so far, in seconds."""
    total = 0
    for node in cluster.nodes.values():
        assert node.process is not None
        fields = Path(f"/proc/{node.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / _TICK


def client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stamped(lines: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """(key, value) as the collector writes them: key = device id, ``ext.ingest`` stamped."""
    out = []
    for line in lines:
        rec = orjson.loads(line)
        rec["ext"]["ingest"] = {
            "time": "2026-01-01T00:00:00.000Z",
            "clientIp": "127.0.0.1",
            "tenant": "contoso",
        }
        out.append((rec["ext"]["device"]["localId"].lower().encode(), orjson.dumps(rec)))
    return out


def produce(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> float:
    """Every record, acknowledged; seconds from the first produce to the last acknowledgement."""
    config = {**producer_config(load_settings(kafka_bootstrap=bootstrap)), "client.id": "bench-kafka"}
    producer = Producer(config)
    failed: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    started = time.perf_counter()
    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    left = producer.flush(120)
    took = time.perf_counter() - started
    if left or failed:
        raise RuntimeError(f"{topic}: {left} undelivered, {len(failed)} failed ({failed[:3]})")
    return took


def consume(bootstrap: str, topic: str, partitions: int, expected: int) -> float:
    """Read the topic from the start until ``expected`` records arrived; seconds taken."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    n, started = 0, time.perf_counter()
    try:
        while n < expected:
            if time.perf_counter() - started > 300:
                raise RuntimeError(f"{topic}: consumed {n} of {expected} in 300 s")
            n += sum(1 for m in consumer.consume(10_000, timeout=1.0) if m.error() is None)
    finally:
        consumer.close()
    return time.perf_counter() - started


def disk_bytes(cluster: LocalKafkaCluster, topic: str) -> int:
    """Segment bytes of ``topic`` on every node (all replicas)."""
    return sum(
        f.stat().st_size
        for node in cluster.nodes.values()
        for d in (node.data_dir / "logs").glob(f"{topic}-*")
        for f in d.glob("*.log")
    )


def run_case(cluster: LocalKafkaCluster, case: Case, rnd: int, records: Sequence[tuple[bytes, bytes]]) -> Run:
    topic = f"bench.{case.name}.{uuid.uuid4().hex[:8]}"
    create_topics(cluster.bootstrap, {topic: case.partitions}, replication_factor=case.replication)
    cpu0, client0 = broker_cpu_s(cluster), client_cpu_s()
    produce_s = produce(cluster.bootstrap, topic, records)
    cpu1, client1 = broker_cpu_s(cluster), client_cpu_s()
    consume_s = consume(cluster.bootstrap, topic, case.partitions, len(records))
    cpu2 = broker_cpu_s(cluster)
    n, payload = len(records), sum(len(k) + len(v) for k, v in records)
    per_m = 1e6 / n
    return Run(
        case=case.name,
        round=rnd,
        events=n,
        produce_events_s=round(n / produce_s),
        produce_mb_s=round(payload / produce_s / 1e6, 2),
        produce_broker_cpu_s_per_m=round((cpu1 - cpu0) * per_m, 1),
        produce_client_cpu_s_per_m=round((client1 - client0) * per_m, 1),
        consume_events_s=round(n / consume_s),
        consume_broker_cpu_s_per_m=round((cpu2 - cpu1) * per_m, 1),
        disk_bytes_per_event=round(disk_bytes(cluster, topic) / n, 1),
    )


FIGURES = (
    "produce_events_s",
    "produce_mb_s",
    "produce_broker_cpu_s_per_m",
    "produce_client_cpu_s_per_m",
    "consume_events_s",
    "consume_broker_cpu_s_per_m",
    "disk_bytes_per_event",
)


def _figure(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "runs": values}


def summarize(runs: list[Run]) -> dict[str, Any]:
    """Per case: the median of each figure and every run's value; rf3 ÷ rf1 per round, median."""
    by_case: dict[str, list[Run]] = {}
    for r in runs:
        by_case.setdefault(r.case, []).append(r)
    cases = {name: {f: _figure([getattr(r, f) for r in rs]) for f in FIGURES} for name, rs in by_case.items()}
    ratios: dict[str, Any] = {}
    if "rf1" in by_case and "rf3" in by_case:
        pairs = list(zip(by_case["rf1"], by_case["rf3"], strict=True))
        for f in FIGURES:
            per_round = [round(getattr(b, f) / getattr(a, f), 2) for a, b in pairs if getattr(a, f)]
            ratios[f] = _figure(per_round) if per_round else {"median": None, "runs": []}
    return {"cases": cases, "rf3_over_rf1": ratios}


def render(summary: dict[str, Any], events: int, load: tuple[float, float]) -> str:
    lines = [
        f"kafka cluster bench: 3 brokers, {events} events per case, "
        f"load average {load[0]:.1f} -> {load[1]:.1f}",
        f"{'case':<8} " + " ".join(f"{f:>28}" for f in FIGURES),
    ]
    for name, figs in summary["cases"].items():
        lines.append(
            f"{name:<8} " + " ".join(f"{figs[f]['median']:>14} {figs[f]['runs']!s:>13}" for f in FIGURES)
        )
    for f, r in summary["rf3_over_rf1"].items():
        lines.append(f"rf3/rf1 {f}: {r['median']} (rounds {r['runs']})")
    return "\n".join(lines)


def bench(
    cluster: LocalKafkaCluster,
    events: int,
    rounds: int,
    partitions: int = 6,
    many_partitions: int = 48,
    say: Callable[[str], None] = print,
) -> tuple[list[Run], dict[str, Any]]:
    """Every case, ``rounds`` times, on ``cluster``; (runs, summary)."""
    fleet = generate(devices=max(50, events // 150), days=5)
    lines = (fleet.lines * (events // max(1, len(fleet.lines)) + 1))[:events]
    records = stamped(lines)
    cases = [Case("rf1", 1, partitions), Case("rf3", 3, partitions)]
    if many_partitions:
        cases.append(Case(f"rf3-p{many_partitions}", 3, many_partitions))
    for case in cases:  # JIT warm-up: one round not recorded (later rounds ran ~2x faster without it)
        run_case(cluster, case, 0, records)
    runs = []
    for rnd in range(1, rounds + 1):
        for case in cases if rnd % 2 else reversed(cases):  # alternate the order: no case always first
            run = run_case(cluster, case, rnd, records)
            say(f"round {rnd} {case.name}: {asdict(run)}")
            runs.append(run)
    return runs, summarize(runs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.kafka_cluster", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--many-partitions", type=int, default=48, help="0: skip the many-partitions case")
    parser.add_argument("--heap-mb", type=int, default=512)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-kafka-cluster-"))
    load0 = os.getloadavg()[0]
    try:
        with LocalKafkaCluster(data_dir=root, brokers=3, heap_mb=args.heap_mb) as cluster:
            print(f"cluster {cluster.bootstrap} up in {cluster.startup_s:.1f}s", flush=True)
            runs, summary = bench(cluster, args.events, args.rounds, args.partitions, args.many_partitions)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(render(summary, args.events, (load0, os.getloadavg()[0])))
    if args.json:
        args.json.write_text(json.dumps({"runs": [asdict(r) for r in runs], "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
