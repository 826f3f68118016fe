"""Run the peers one after another on the same topic of the same events.

``fill_topic`` produces the fleet's events once (key = device id, message timestamp = event
time, retention unlimited, 6 partitions: the raw topic's shape). Each peer is a child process
(``python -m bench.peer_<name>``, its own consumer group) that writes its result file when it
has processed every message; the runner then stops its process group. Peers run alone (never two
at once) and in rounds, so each figure is a median of runs taken side by side.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.e2e import stamped
from bench.peer_common import BOOT, CRASH
from bench.peer_worker import run_worker, stop
from bench.sink import now_text

PEERS: dict[str, str] = {
    "fleetpulse": "bench.peer_fleetpulse",
    "faust_naive": "bench.peer_faust_naive",
    "quixstreams": "bench.peer_quix",
    "clickhouse_kafka_engine": "bench.peer_chdb",
    # not a peer: the same pure core behind a batch consumer instead of faust (what would move it)
    "fleetpulse_core_batch_consumer": "bench.peer_fleetpulse_batch",
}
WORKER_EVENTS = 100_000
WORKER = "fleetpulse_worker"  # fleetpulse's own worker (``fleetpulse process``), when registered


@dataclass
class PeerRuns:
    rates: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0


def fill_topic(bootstrap: str, lines: list[bytes], partitions: int = 6) -> tuple[str, int]:
    """A fresh topic holding ``lines`` as the collector writes them (``ext.ingest`` stamped, keyed
    by device id); returns (topic, boots + crashes among them)."""
    topic = f"bench.peers.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(topic, num_partitions=partitions, replication_factor=1, config={"retention.ms": "-1"})
    for future in admin.create_topics([new]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4"})
    expected = 0
    for key, value in stamped(lines, now_text()):
        ev = orjson.loads(value)
        expected += ev["name"] in (BOOT, CRASH)
        ts = int(datetime.fromisoformat(ev["time"].replace("Z", "+00:00")).timestamp() * 1000)
        while True:
            try:
                producer.produce(topic, key=key, value=value, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)
    return topic, expected


def run_peer(module: str, bootstrap: str, topic: str, events: int, expected: int, timeout_s: float,
             workdir: Path) -> float:  # fmt: skip
    """Events/s of one run of one peer; raises on failure or timeout."""
    tag = uuid.uuid4().hex[:8]
    out = workdir / f"{module}.{tag}.json"
    log = workdir / f"{module}.{tag}.log"
    group = f"bench-{module.split('.')[-1]}-{tag}"
    argv = [sys.executable, "-m", module, "--bootstrap", bootstrap, "--topic", topic, "--events", str(events),
            "--expected", str(expected), "--out", str(out), "--group", group]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        try:
            while not out.exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"{module} exited with {proc.returncode}; see {log}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{module} did not finish in {timeout_s:.0f} s; see {log}")
                time.sleep(0.1)
        finally:
            stop(proc)
    result = orjson.loads(out.read_bytes())
    return float(result["events"]) / float(result["seconds"])


def run_peers(bootstrap: str, lines: list[bytes], rounds: int, timeout_s: float,
              only: tuple[str, ...] = tuple(PEERS),
              worker_events: int = WORKER_EVENTS) -> dict[str, PeerRuns]:  # fmt: skip
    topic, expected = fill_topic(bootstrap, lines)
    workdir = Path(tempfile.mkdtemp(prefix="fleetpulse-bench-peers-"))
    runs = {name: PeerRuns() for name in only}
    for r in range(rounds):
        for name in only:
            try:
                if name == WORKER:  # the worker does every aggregate: timed over at most WORKER_EVENTS
                    rate = run_worker(bootstrap, topic, min(len(lines), worker_events), timeout_s, workdir)
                else:
                    rate = run_peer(PEERS[name], bootstrap, topic, len(lines), expected, timeout_s, workdir)
                runs[name].rates.append(rate)
                print(f"  round {r + 1} {name:<24} {rate:>12,.0f} events/s", flush=True)
            except (RuntimeError, TimeoutError) as exc:
                runs[name].errors.append(str(exc))
                print(f"  round {r + 1} {name:<24} failed: {exc}", flush=True)
    return runs
