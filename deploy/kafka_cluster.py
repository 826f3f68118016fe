"""A local Apache Kafka cluster: N combined broker+controller nodes (KRaft) from the same jars.

Lifecycle: :meth:`LocalKafkaCluster.start` (fix every node's port and controller port, one
cluster id, a quorum of N voters; launch every JVM, then wait until each node answers and the
metadata lists all N brokers; give ``__consumer_offsets`` its min ISR) -> create topics
(:func:`deploy.kafka.create_topics` derives 3 replicas, min ISR 2) -> :meth:`stop` (SIGTERM to
every node at once, SIGKILL after a deadline).

For fault tests: :meth:`kill` (SIGKILL of one node's JVM) and :meth:`restart` (same ports and
data directory), :meth:`leaders` of a topic's partitions, :meth:`wait_fully_replicated`, and the
transaction coordinators and hanging transactions as Kafka's own ``kafka-transactions.sh``
(``org.apache.kafka.tools.TransactionsCommand``, in the jars) reports them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from deploy.kafka import DEFAULT_CACHE, KafkaStartError, LocalKafka, fetch_jars, free_port
from deploy.kafka_config import _cluster_id, min_insync_for, replication_for

log = logging.getLogger("fleetpulse.kafka")

OFFSETS_TOPIC = "__consumer_offsets"

# C1 only: a node needs ~40 % less CPU to start (3.9 s instead of 6.3 s to ready, measured side by
# side) at the cost of peak throughput. For test clusters, whose JVMs start and restart more than
# they work; never for a benchmark.
QUICK_START_JVM = ("-XX:TieredStopAtLevel=1",)

TOOLS_LOG4J2 = """\
Configuration:
  status: warn
  Appenders:
    Console: {name: stderr, target: SYSTEM_ERR, PatternLayout: {pattern: "%p %m%n"}}
  Loggers:
    Root: {level: warn, AppenderRef: [{ref: stderr}]}
"""


@dataclass(frozen=True)
class Transaction:
    """One row of ``kafka-transactions.sh list``."""

    transactional_id: str
    coordinator: int
    producer_id: int
    state: str


@dataclass
class LocalKafkaCluster:
    """``brokers`` KRaft nodes (ids 1..N) on loopback, each with its own data dir and ports."""

    data_dir: Path
    brokers: int = 3
    version: str = "4.1.1"
    heap_mb: int = 512
    partitions: int = 6
    cache_dir: Path = DEFAULT_CACHE
    jvm_opts: tuple[str, ...] = ()
    nodes: dict[int, LocalKafka] = field(default_factory=dict, init=False)
    startup_s: float = field(default=0.0, init=False)
    shutdown_s: float = field(default=0.0, init=False)

    @property
    def bootstrap(self) -> str:
        """Every node, comma-separated (what ``FLEETPULSE_KAFKA_BOOTSTRAP`` takes)."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    @property
    def replication(self) -> tuple[int, int]:
        """(replication factor, min.insync.replicas) of this cluster's topics."""
        return replication_for(self.brokers)

    def _build(self) -> None:
        if self.nodes:
            return
        ids = range(1, self.brokers + 1)
        controller_ports = {i: free_port() for i in ids}
        voters = ",".join(f"{i}@127.0.0.1:{port}" for i, port in controller_ports.items())
        cluster_id = _cluster_id()  # every node formats its storage with the same one
        for i in ids:
            self.nodes[i] = LocalKafka(
                data_dir=self.data_dir / f"node-{i}",
                version=self.version,
                port=free_port(),
                heap_mb=self.heap_mb,
                partitions=self.partitions,
                cache_dir=self.cache_dir,
                node_id=i,
                controller_port=controller_ports[i],
                voters=voters,
                cluster_id=cluster_id,
                replication=self.replication[0],
                jvm_opts=self.jvm_opts,
            )

    def start(self, timeout_s: float = 180.0) -> None:
        """Start every node; return once the cluster serves metadata listing all of them."""
        started = time.monotonic()
        fetch_jars(self.version, self.cache_dir)
        self._build()
        try:
            # every storage format (a JVM each) beside the others, then every node before waiting
            # for any: none answers before a quorum of them elected a leader
            _each(self.nodes.values(), LocalKafka.prepare, "format-kafka")
            for node in self.nodes.values():
                node.launch()
            deadline = started + timeout_s
            for node in self.nodes.values():
                node.wait_ready(deadline)
            self.wait_brokers(self.brokers, deadline)
            self._offsets_topic_min_isr(deadline)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        log.info("kafka cluster of %d ready on %s in %.1fs", self.brokers, self.bootstrap, self.startup_s)

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})

    def wait_brokers(self, n: int, deadline: float) -> None:
        """Until the metadata lists ``n`` brokers (a fenced or dead one is not listed)."""
        admin, seen = self.admin(), 0
        while time.monotonic() < deadline:
            try:
                seen = len(admin.list_topics(timeout=2.0).brokers)
            except Exception:
                seen = 0
            if seen >= n:
                return
            time.sleep(0.2)
        raise KafkaStartError(f"the cluster lists {seen} of {n} brokers after the deadline")

    def _offsets_topic_min_isr(self, deadline: float) -> None:
        """Create ``__consumer_offsets`` now (a coordinator lookup does) and set its
        min.insync.replicas: no broker setting covers it, and a committed offset must be on two
        replicas as an acknowledged record is. Done once; the value stays with the topic."""
        isr = str(min_insync_for(self.replication[0]))
        admin = self.admin()
        while OFFSETS_TOPIC not in admin.list_topics(timeout=5.0).topics:
            if time.monotonic() > deadline:
                raise KafkaStartError(f"{OFFSETS_TOPIC} was not created in time")
            # FindCoordinator for a group makes the broker create the offsets topic
            for future in admin.describe_consumer_groups(["fleetpulse-cluster-start"]).values():
                try:
                    future.result(timeout=5.0)
                except Exception as exc:
                    log.debug("coordinator lookup while %s is created: %s", OFFSETS_TOPIC, exc)
            time.sleep(0.2)
        entry = ConfigEntry("min.insync.replicas", isr, incremental_operation=AlterConfigOpType.SET)
        resource = ConfigResource(ConfigResource.Type.TOPIC, OFFSETS_TOPIC, incremental_configs=[entry])
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(timeout=30.0)

    # -- one node, for fault tests --------------------------------------------------------------

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id]

    def kill(self, node_id: int) -> None:
        """kill -9 of one node's JVM (its whole process group)."""
        node = self.nodes[node_id]
        proc, node.process = node.process, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        log.info("kafka node %d killed", node_id)

    def restart(self, node_id: int, timeout_s: float = 120.0) -> float:
        """The node again on its ports and data dir; seconds until the cluster lists it again."""
        started = time.monotonic()
        node = self.nodes[node_id]
        node.launch()
        node.wait_ready(started + timeout_s)
        self.wait_brokers(self.brokers, started + timeout_s)
        node.startup_s = time.monotonic() - started
        return node.startup_s

    def leaders(self, topic: str) -> dict[int, int]:
        """partition -> id of the broker leading it (-1 while it has none)."""
        meta = self.admin().list_topics(topic, timeout=10.0).topics[topic]
        if meta.error is not None:
            raise RuntimeError(f"{topic}: {meta.error}")
        return {p: part.leader for p, part in sorted(meta.partitions.items())}

    def under_replicated(self) -> list[tuple[str, int]]:
        """(topic, partition) whose in-sync replicas are fewer than its replicas."""
        meta = self.admin().list_topics(timeout=10.0)
        return [
            (name, p)
            for name, topic in sorted(meta.topics.items())
            for p, part in sorted(topic.partitions.items())
            if len(part.isrs) < len(part.replicas)
        ]

    def wait_fully_replicated(self, timeout_s: float = 120.0) -> float:
        """Until every partition's replicas are all in sync again (after a restart); seconds."""
        started = time.monotonic()
        lagging: list[tuple[str, int]] = []
        while time.monotonic() - started < timeout_s:
            try:
                lagging = self.under_replicated()
            except Exception as exc:
                lagging = [(str(exc), -1)]
            if not lagging:
                return time.monotonic() - started
            time.sleep(0.5)
        raise TimeoutError(f"still under-replicated after {timeout_s:.0f}s: {lagging[:10]}")

    # -- transactions, as kafka-transactions.sh reports them ----------------------------------------

    def tool(self, *args: str, timeout_s: float = 120.0) -> str:
        """Run ``kafka-transactions.sh ARGS`` from the jars against this cluster; its stdout."""
        libs = fetch_jars(self.version, self.cache_dir)
        config = self.data_dir / "tools-log4j2.yaml"
        config.write_text(TOOLS_LOG4J2)
        cmd = [
            "java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={config}", "-cp", f"{libs}/*",
            "org.apache.kafka.tools.TransactionsCommand", "--bootstrap-server", self.bootstrap, *args,
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"kafka-transactions {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def transactions(self) -> list[Transaction]:
        """Every transactional id the coordinators know: its coordinator broker and state."""
        rows = _table(self.tool("list"))
        return [
            Transaction(
                r["TransactionalId"], int(r["Coordinator"]), int(r["ProducerId"]), r["TransactionState"]
            )
            for r in rows
        ]

    def hanging(self) -> list[dict[str, str]]:
        """Transactions left open on a partition with no coordinator state behind them (a
        half-written transaction), on every broker; ``[]`` when there are none."""
        found: dict[int, list[dict[str, str]]] = {}

        def ask(node: LocalKafka) -> None:
            found[node.node_id] = _table(self.tool("find-hanging", "--broker-id", str(node.node_id)))

        _each(self.nodes.values(), ask, "find-hanging")  # one tool JVM per broker, side by side
        return [row for node_id in sorted(found) for row in found[node_id]]

    # -- stop -------------------------------------------------------------------------------

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM every node at once (each waits for the quorum to let it go), SIGKILL after
        ``timeout_s``."""
        started = time.monotonic()
        _each(self.nodes.values(), lambda node: node.stop(timeout_s), "stop-kafka")
        self.shutdown_s = time.monotonic() - started
        log.info("kafka cluster stopped in %.1fs", self.shutdown_s)

    def __enter__(self) -> LocalKafkaCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _each(nodes: Iterable[LocalKafka], action: Callable[[LocalKafka], None], name: str) -> None:
    """``action`` on every node at once (threads); the first error is raised once all are done."""
    errors: list[BaseException] = []

    def run(node: LocalKafka) -> None:
        try:
            action(node)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(node,), name=f"{name}-{node.node_id}") for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _table(text: str) -> list[dict[str, str]]:
    """The tool's whitespace-aligned table (a header line, then one line per row) as dicts."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header, rows = lines[0], lines[1:]
    return [dict(zip(header, row, strict=False)) for row in rows if len(row) == len(header)]
