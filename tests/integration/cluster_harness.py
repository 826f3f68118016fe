"""The broker-kill runs of tests/integration/test_kafka_cluster.py: the fleet, the snapshot of
every aggregate cell, the kill plans, a supervisor that restarts a crashed service, and the checks
of a disturbed run (docs/operations.md "The Kafka cluster", docs/reliability.md fault 8).

Only the stack's public behaviour is read: HTTP in, ClickHouse (through the sink) and Kafka
topics out, Kafka's own transaction tool; nothing looks inside the processor.
"""

from __future__ import annotations

import contextlib
import math
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from deploy.kafka_cluster import LocalKafkaCluster
from fleetpulse.settings import Settings
from simulator.config import SimulationConfig
from tests.faults.harness import FaultReport, FaultStack, Load, Watch, assert_exact, reconcile

# 3 803 events of every type, paced slowly enough to outlast both kills and restarts on a busy
# 2-core box (a node's restart took 19-50 s there at load averages of 12-18): 190 s at most; the
# rest goes at full speed once both brokers are back
FLEET = SimulationConfig(devices=12, days=10, seed=19, chunk_devices=2)
# one calendar for every run of the session: a run after midnight UTC would otherwise start a day
# later and send other events than the undisturbed run did
FLEET = FLEET.model_copy(update={"start": FLEET.resolved_start()})
PACE = 20.0
FIRST_KILL_AT = 150  # acknowledged events before the first kill
BETWEEN_KILLS = 100  # acknowledged after the first broker is back, before the second kill
DOWN_S = 2.0  # how long a killed broker stays down
DB = "fleetpulse"

Cells = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]

# every table the processor feeds, merged across source partitions as readers do (docs/tables.md)
SNAPSHOT_SQL = {
    "aggregates": f"""SELECT tenant, window_kind, toString(window_start) AS w, scope_type, scope, metric,
        count, sum, min, max, devices, zero_count, p50, p90, p99 FROM {DB}.aggregates_merged""",
    "counters": f"""SELECT tenant, window_kind, toString(window_start) AS w, scope_type, scope, counter,
        sum(value) AS value, sum(devices) AS devices FROM {DB}.counters FINAL
        GROUP BY tenant, window_kind, w, scope_type, scope, counter""",
    "app_reliability": f"""SELECT tenant, window_kind, toString(window_start) AS w, scope_type, app,
        app_version, scope, sum(active_devices) AS a, sum(usage_ms) AS u, sum(crashes) AS c,
        sum(crashes_counted) AS cc, sum(hangs) AS h, sum(crash_devices) AS cd
        FROM {DB}.app_reliability FINAL
        GROUP BY tenant, window_kind, w, scope_type, app, app_version, scope""",
}
KEY_COLUMNS = {"aggregates": 6, "counters": 6, "app_reliability": 7}


def _value(v: Any) -> Any:
    # float sums folded in another order may differ in the last bits; NaN (an empty sketch) != NaN
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    return v


def snapshot(stack: FaultStack) -> Cells:
    """table -> cell key -> values, for every cell the processor produced."""
    cells: Cells = {}
    for table, sql in SNAPSHOT_SQL.items():
        k = KEY_COLUMNS[table]
        rows = [tuple(_value(v) for v in row.values()) for row in stack.query(sql)]
        cells[table] = {row[:k]: row[k:] for row in rows}
    return cells


def differences(got: Cells, want: Cells) -> list[str]:
    out = []
    for table, cells in want.items():
        for key in sorted(cells.keys() | got[table].keys()):
            if got[table].get(key) != cells.get(key):
                out.append(f"{table} {key}: {got[table].get(key)} != undisturbed {cells.get(key)}")
    return out


class Supervisor:
    """Restarts a service that exits on its own, as the compose stack's ``restart: unless-stopped``
    does; records each restart (service, exit code, the crash reason its log gives).

    Lifecycle: ``start()`` -> ``pause()`` before the test stops services itself -> ``close()``
    only once the stack is down: a restarted service is a child of this thread, and its
    parent-death signal (tests/faults/harness.py ``child_preexec``) fires when the thread ends.
    """

    def __init__(self, stack: FaultStack) -> None:
        self.stack = stack
        self.restarts: list[dict[str, Any]] = []
        self._paused = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def _run(self) -> None:
        while not self._closed.wait(0.5):
            if self._paused.is_set():
                continue
            for service in self.stack.services.values():
                if service.proc is not None and service.proc.poll() is not None:
                    reasons = re.findall(r"Crashed reason=([^\"]{0,200})", service.tail(1_000_000))
                    self.restarts.append(
                        {"service": service.name, "exit": service.proc.returncode, "reason": reasons[-1:]}
                    )
                    service.start()

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def pause(self) -> None:
        self._paused.set()
        time.sleep(0.6)  # a round that already began ends before the caller goes on

    def close(self) -> None:
        self._closed.set()
        self._thread.join(10)


@contextlib.contextmanager
def cpu_hog() -> Iterator[None]:
    """One busy core beside the test (a 2-core box has then one left for everything else)."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait(10)


def busiest(leaders: dict[int, int]) -> int:
    """The broker leading most partitions (the lowest id among equals)."""
    counts = Counter(b for b in leaders.values() if b >= 0)
    return min(counts, key=lambda b: (-counts[b], b))


def processor_coordinator(cluster: LocalKafkaCluster, app_id: str) -> int:
    """The broker coordinating most of the processor's transactional ids (those naming its app)."""
    ours = [t for t in cluster.transactions() if app_id in t.transactional_id]
    assert ours, f"no transactional id of {app_id} known to the coordinators"
    return busiest({i: t.coordinator for i, t in enumerate(ours)})


def kill_and_restart(cluster: LocalKafkaCluster, node: int, watch: Watch, what: str, down_s: float) -> None:
    fault_at = time.monotonic()
    cluster.kill(node)
    time.sleep(down_s)
    restart_s = cluster.restart(node)
    replicated_s = cluster.wait_fully_replicated()
    back_at = time.monotonic()
    watch.extra[what] = {
        "broker": node,
        "restart_s": round(restart_s, 1),
        "in_sync_after_s": round(replicated_s, 1),
        "_at": (fault_at, back_at),
    }


def open_transactions(cluster: LocalKafkaCluster, topics: list[str]) -> dict[str, int]:
    """partition -> high watermark minus last stable offset, where they differ (an open transaction)."""
    committed = Consumer(
        {"bootstrap.servers": cluster.bootstrap, "group.id": "lso", "isolation.level": "read_committed"}
    )
    uncommitted = Consumer(
        {"bootstrap.servers": cluster.bootstrap, "group.id": "hw", "isolation.level": "read_uncommitted"}
    )
    gaps: dict[str, int] = {}
    try:
        for topic in topics:
            for p in cluster.leaders(topic):
                tp = TopicPartition(topic, p)
                lso = committed.get_watermark_offsets(tp, timeout=10, cached=False)[1]
                hw = uncommitted.get_watermark_offsets(tp, timeout=10, cached=False)[1]
                if lso != hw:
                    gaps[f"{topic}/{p}"] = hw - lso
    finally:
        committed.close()
        uncommitted.close()
    return gaps


def count_records(cluster: LocalKafkaCluster, topic: str, isolation: str) -> int:
    """Records of ``topic`` a consumer with ``isolation.level`` reads, start to end."""
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": f"count-{isolation}",
            "isolation.level": isolation,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    parts = list(cluster.leaders(topic))
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    n, at_end = 0, set[int]()
    try:
        deadline = time.monotonic() + 120
        while len(at_end) < len(parts) and time.monotonic() < deadline:
            for msg in consumer.consume(5000, timeout=1.0):
                if msg.error() is None:
                    n += 1
                elif msg.error().code() == -191:  # _PARTITION_EOF
                    at_end.add(msg.partition())
    finally:
        consumer.close()
    assert len(at_end) == len(parts), f"{topic}: read to the end of {len(at_end)} of {len(parts)} partitions"
    return n


Pick = Callable[[LocalKafkaCluster, Settings], int]


def events_leader(cluster: LocalKafkaCluster, s: Settings) -> int:
    return busiest(cluster.leaders(s.topic_events))


def txn_coordinator(cluster: LocalKafkaCluster, s: Settings) -> int:
    return processor_coordinator(cluster, s.processor_app_id)


def processor_topics_leader(cluster: LocalKafkaCluster, s: Settings) -> int:
    """The broker leading most partitions of the processor's own topics (those naming its app)."""
    topics = [t for t in cluster.admin().list_topics(timeout=10).topics if s.processor_app_id in t]
    leaders = [b for t in topics for b in cluster.leaders(t).values()]
    return busiest(dict(enumerate(leaders)))


# the suite's plan: (what, which broker, seconds down)
KILLS: list[tuple[str, Pick, float]] = [
    ("events_leader", events_leader, DOWN_S),
    ("txn_coordinator", txn_coordinator, DOWN_S),
]
# the soak's: also a node down past faust's 60 s transaction timeout, the one holding most of the
# processor's own partitions (one replica each today: docs/reliability.md, Limits)
SOAK_KILLS = [*KILLS, ("processor_topics_leader", processor_topics_leader, 75.0)]


def disturbed_run(
    cluster: LocalKafkaCluster, root: Path, kills: list[tuple[str, Pick, float]], pace: float, hog: bool
) -> tuple[FaultReport, Cells]:
    """The fleet through a fresh stack while each planned broker is killed and restarted in turn."""
    supervisor: Supervisor | None = None
    try:
        with (
            cpu_hog() if hog else contextlib.nullcontext(),
            FaultStack(root, with_processor=True, cluster=cluster) as stack,
        ):
            supervisor = Supervisor(stack).start()
            return _disturbed(stack, cluster, supervisor, kills, pace, hog)
    finally:
        if supervisor is not None:
            supervisor.close()  # the stack is down: nothing it restarted is left to lose


def _disturbed(
    stack: FaultStack,
    cluster: LocalKafkaCluster,
    supervisor: Supervisor,
    kills: list[tuple[str, Pick, float]],
    pace: float,
    hog: bool,
) -> tuple[FaultReport, Cells]:
    s = stack.settings
    load = Load(stack.collector_url, FLEET, rate=pace).start()
    with Watch(stack, load) as watch:
        load.wait_acked(FIRST_KILL_AT)
        watch.fault()
        for what, pick, down_s in kills:
            kill_and_restart(cluster, pick(cluster, s), watch, what, down_s)
            load.wait_acked(load.stats.acc + BETWEEN_KILLS)
        watch.cleared()
        watch.extra["load_outlasted_faults"] = load.manifest is None
        load.release()
        name = "3 brokers: " + " + ".join(what for what, _, _ in kills) + " kill -9" + " + hog" * hog
        report = reconcile(stack, name, load, watch, drain_timeout_s=300.0)
    for what, _, _ in kills:
        fault_at, back_at = watch.extra[what].pop("_at")
        watch.extra[what]["recovery_s"] = watch.recovery_s(fault_at, back_at)
    got = snapshot(stack)
    supervisor.pause()
    watch.extra["restarts"] = supervisor.restarts

    # the processor's clean stop ends its transactions; none may stay open or half-written
    code, stop_s = stack.services["processor"].terminate(60)
    topics = cluster.admin().list_topics(timeout=10).topics
    outputs = [s.topic_aggregates, s.topic_regressions, s.topic_device_daily]
    outputs += sorted(t for t in topics if s.processor_app_id in t)  # its state changelogs
    report.extra.update(
        watch.extra,
        transactional_ids=len(
            [t for t in cluster.transactions() if s.processor_app_id in t.transactional_id]
        ),
        processor_exit=code,
        processor_stop_s=round(stop_s, 1),
        open_transactions=open_transactions(cluster, outputs),
        hanging=cluster.hanging(),
        aggregates_records_committed=count_records(cluster, s.topic_aggregates, "read_committed"),
        aggregates_records_uncommitted=count_records(cluster, s.topic_aggregates, "read_uncommitted"),
    )
    return report, got


def check(report: FaultReport, got: Cells, undisturbed: Cells) -> None:
    assert_exact(report)
    assert report.extra["load_outlasted_faults"], (
        f"the load ended before the faults did: lower PACE {report.line()}"
    )
    assert report.extra["processor_exit"] == 0, report.line()
    assert report.extra["open_transactions"] == {}, report.line()
    assert report.extra["hanging"] == [], report.line()
    off = differences(got, undisturbed)
    assert not off, f"{len(off)} aggregate cells differ from the undisturbed run:\n" + "\n".join(off[:20])
    assert sum(len(c) for c in got.values()) == sum(len(c) for c in undisturbed.values()) > 0
