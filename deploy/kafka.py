"""The local Apache Kafka broker (KRaft, combined broker+controller) on loopback.

Lifecycle: :func:`fetch_jars` (Maven, once, into an ignored cache folder) ->
:meth:`LocalKafka.start` (write config, format storage once, launch the JVM with a parent-death
signal, wait until it answers metadata requests) -> :meth:`LocalKafka.create_topics` ->
:meth:`LocalKafka.stop` (SIGTERM, then SIGKILL after a deadline).

One node is its own quorum (the default); :mod:`deploy.kafka_cluster` runs N of them as one
cluster (``node_id``, fixed ``controller_port``, shared ``voters`` and ``cluster_id``).
Replication (:func:`replication_for`): topics get min(3, brokers) replicas and
``min.insync.replicas`` 2 from 3 replicas on, unless the settings say otherwise.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from deploy.kafka_config import LOG4J2, _cluster_id, replication_for, server_properties

log = logging.getLogger("fleetpulse.kafka")

DEPLOY_DIR = Path(__file__).resolve().parent
POM = DEPLOY_DIR / "pom.xml"
DEFAULT_CACHE = DEPLOY_DIR.parent / ".cache"
_PR_SET_PDEATHSIG = 1


class KafkaStartError(RuntimeError):
    """The broker did not come up; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch_jars(version: str, cache_dir: Path = DEFAULT_CACHE) -> Path:
    """Download the broker's jars from Maven Central once; return the folder holding them."""
    libs = cache_dir / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    libs.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-Dkafka.version={version}",
        f"-DoutputDirectory={libs}",
    ]
    log.info("fetching Kafka %s jars with Maven into %s", version, libs)
    started = time.monotonic()
    subprocess.run(cmd, check=True)
    marker.write_text(version)
    log.info("fetched Kafka jars in %.1fs", time.monotonic() - started)
    return libs


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def child_preexec() -> None:
    """Runs in a child between fork and exec: it gets SIGKILL if our process dies, and starts
    with no signal blocked whatever the forking thread had blocked."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class LocalKafka:
    """One KRaft broker+controller process owned by this Python process."""

    data_dir: Path
    version: str = "4.1.1"
    port: int = 0
    heap_mb: int = 512
    partitions: int = 6
    cache_dir: Path = DEFAULT_CACHE
    # membership of a cluster (deploy/kafka_cluster.py); the defaults are one node, its own quorum
    node_id: int = 1
    controller_port: int = 0  # 0: a free port at each start (nobody else dials it)
    voters: str = ""  # controller.quorum.voters; "": this node alone
    cluster_id: str = ""  # "": a random one when the storage is first formatted
    replication: int = 1  # internal topics' replicas
    jvm_opts: tuple[str, ...] = ()  # extra JVM flags (deploy/kafka_cluster.py QUICK_START_JVM)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    startup_s: float = field(default=0.0, init=False)
    shutdown_s: float = field(default=0.0, init=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def _java(self, libs: Path, main: str, *args: str, heap_mb: int = 256) -> list[str]:
        return [
            "java",
            *self.jvm_opts,
            f"-Xms{heap_mb}m",
            f"-Xmx{heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.data_dir}",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.yaml'}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def _configure(self, libs: Path) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port()
        props = self.data_dir / "server.properties"
        props.write_text(
            server_properties(
                self.data_dir,
                self.port,
                self.controller_port or free_port(),
                self.partitions,
                node_id=self.node_id,
                voters=self.voters,
                replication=self.replication,
            )
        )
        (self.data_dir / "log4j2.yaml").write_text(LOG4J2)
        if not (self.data_dir / "logs" / "meta.properties").exists():
            cluster_id = self.cluster_id or _cluster_id()
            cmd = self._java(libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props))
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise KafkaStartError(f"formatting {self.data_dir} failed: {done.stdout}{done.stderr}")
        return props

    def start(self, timeout_s: float = 90.0) -> None:
        """Start the broker and return once it answers metadata requests."""
        started = time.monotonic()
        self.launch()
        self._wait_ready(started + timeout_s)
        self.startup_s = time.monotonic() - started
        log.info("kafka %s ready on %s in %.1fs", self.version, self.bootstrap, self.startup_s)

    def prepare(self) -> None:
        """Write the config and format the storage (once); a cluster does it for every node at
        once, in threads: only the spawn must happen on a long-lived thread (the child's
        parent-death signal fires when the thread that forked it exits)."""
        self._configure(fetch_jars(self.version, self.cache_dir))

    def launch(self) -> None:
        """Configure (format once) and start the JVM without waiting: a cluster launches every
        node before any of them can elect a controller and answer."""
        libs = fetch_jars(self.version, self.cache_dir)
        props = self._configure(libs)
        stdout = (self.data_dir / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            self._java(libs, "kafka.Kafka", str(props), heap_mb=self.heap_mb),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=child_preexec,
            start_new_session=True,
        )
        stdout.close()

    def wait_ready(self, deadline: float) -> None:
        """Until this node answers metadata requests (monotonic ``deadline``); stops it on failure."""
        self._wait_ready(deadline)

    def _wait_ready(self, deadline: float) -> None:
        # the port opens before the broker serves metadata; wait for the port first so the client
        # does not log a refused connection every 50 ms
        admin: AdminClient | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise KafkaStartError(f"broker exited with {self.process.returncode}: {self._log_tail()}")
            if admin is None:
                if _port_open(self.port):
                    admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
                else:
                    time.sleep(0.1)
                continue
            try:
                if admin.list_topics(timeout=1.0).brokers:
                    return
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise KafkaStartError(f"broker not ready in time: {self._log_tail()}")

    def _log_tail(self, lines: int = 30) -> str:
        for path in (self.data_dir / "stdout.log", self.log_file):
            if path.exists():
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def create_topics(self, topics: dict[str, int]) -> None:
        create_topics(self.bootstrap, topics)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the broker (a clean shutdown), SIGKILL it if it outlives the deadline."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        started = time.monotonic()
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("kafka did not stop in %.0fs; killing it", timeout_s)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.shutdown_s = time.monotonic() - started
        log.info("kafka stopped in %.1fs", self.shutdown_s)

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cluster_replication(bootstrap: str, factor: int = 0, min_insync: int = 0) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for the cluster at ``bootstrap``: as given, or
    derived from the brokers its metadata lists (:func:`replication_for`)."""
    brokers = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30.0).brokers
    return replication_for(len(brokers), factor, min_insync)


def create_topics(
    bootstrap: str,
    topics: dict[str, int],
    timeout_s: float = 30.0,
    *,
    replication_factor: int = 0,
    min_insync_replicas: int = 0,
) -> None:
    """Create each topic with its partition count; topics that exist already are left as they are.

    Replicas and ``min.insync.replicas`` as given, or derived from the brokers the cluster has
    (:func:`replication_for`: 1/1 on one broker, 3/2 from three on)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=timeout_s)
    rf, isr = replication_for(len(metadata.brokers), replication_factor, min_insync_replicas)
    config = {"min.insync.replicas": str(isr)} if isr > 1 else {}
    wanted = [
        NewTopic(name, num_partitions=n, replication_factor=rf, config=config)
        for name, n in topics.items()
        if name not in metadata.topics
    ]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
            log.debug("topic %s already exists", name)


def main() -> None:
    """``python -m deploy.kafka fetch``: download the broker's jars (used by ./dev)."""
    import sys

    if sys.argv[1:] != ["fetch"]:
        raise SystemExit("usage: python -m deploy.kafka fetch")
    from fleetpulse.settings import load_settings

    print(f"kafka jars: {fetch_jars(load_settings().kafka_version)}")


if __name__ == "__main__":
    main()
