"""Fault harness: a private stack, a steady simulated load, one fault mid-load, exact reconciliation.

stack (own DATA_DIR, own free ports, own LocalKafka so the broker can be restarted) -> load (the
simulator posting to the collector on a thread, paced) -> fault (the test's callable) -> drain
(wait until ClickHouse holds what the collector acknowledged) -> reconcile (per raw table: rows
== acknowledged, distinct (device_id, epoch, seq) == rows; with processors: merged aggregate
counts == counts computed from the raw tables) -> a :class:`FaultReport` printed and appended
to a JSON file. Used by ``tests/integration/test_faults_*.py`` and ``python -m tests.faults.soak``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deploy.kafka import LocalKafka, child_preexec, create_topics, free_port
from deploy.kafka_cluster import LocalKafkaCluster
from fleetpulse.reports.startup import BOOT_KEPT
from fleetpulse.settings import DEMO_API_KEY, DEMO_IKEY, Settings, load_settings
from simulator.config import SimulationConfig
from simulator.http import SendOptions, send_stream, split_lanes
from simulator.manifest import Manifest, SendStats
from simulator.simulation import Simulation
from sinks.migrations.m0001_raw_events import FAMILIES
from sinks.reader import RemoteReader
from tests.offsets import caught_up

DB = "fleetpulse"


def _say(message: str) -> None:
    print(f"[faults] {message}", file=sys.stderr, flush=True)


# -- one service process ---------------------------------------------------------------------


@dataclass
class Service:
    """``python -m fleetpulse.cli <argv>`` (or ``-c code``) with its own log file; restartable."""

    name: str
    argv: tuple[str, ...]
    port: int
    env: dict[str, str]
    cwd: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.cwd / f"{self.name}.log"

    def start(self) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts} at {time.time():.3f} =====\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, *self.argv],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=child_preexec,  # SIGKILL if the harness dies
                start_new_session=True,
            )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as resp:
                return int(resp.status) == 200
        except OSError:
            return False

    def wait_healthy(self, timeout_s: float = 120.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.tail()}")
            if self.healthy():
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not healthy after {timeout_s:.0f}s:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self, deadline_s: float) -> tuple[int | None, float]:
        """SIGTERM; (exit code or None if it outlived the deadline and was killed, seconds)."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(deadline_s)
        except subprocess.TimeoutExpired:
            code = None
            self.kill9()
        return code, time.monotonic() - started

    def restart(self) -> float:
        self.start()
        return self.wait_healthy()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.terminate(60)


# -- the stack ---------------------------------------------------------------------


def _processor_argv() -> tuple[str, ...]:
    """``fleetpulse process`` once registered in the CLI; until then the same command directly."""
    from fleetpulse.cli import cli

    if "process" in cli.commands:
        return ("-m", "fleetpulse.cli", "process")
    return ("-c", "from processors.cli import process; process(prog_name='fleetpulse process')")


def private_names() -> dict[str, str]:
    """Topic, group and app names of one stack on a shared cluster (a suffix of its own)."""
    run = uuid.uuid4().hex[:8]
    topics = ("events", "dlq", "aggregates", "regressions", "device_daily", "baselines")
    names = {f"topic_{t}": f"telemetry.{t.replace('_', '-')}.{run}" for t in topics}
    names.update(
        processor_app_id=f"fleetpulse-processors-{run}",
        sink_group_id=f"fleetpulse-sink-{run}",
        replay_group_id=f"fleetpulse-replay-dlq-{run}",
    )
    return names


class FaultStack:
    """Kafka (restartable) + sink + collector (+ processor workers) as child processes.

    With ``cluster`` (a running :class:`LocalKafkaCluster` the caller owns and stops) the stack
    uses it instead of a broker of its own, under topic, group and app names of its own.
    """

    def __init__(
        self,
        root: Path,
        *,
        with_processor: bool,
        partitions: int = 3,
        env: dict[str, str] | None = None,
        sink_env: dict[str, str] | None = None,
        cluster: LocalKafkaCluster | None = None,
    ) -> None:
        self.root = root.resolve()
        self.with_processor = with_processor
        self.cluster = cluster
        self.kafka = LocalKafka(  # the stack's own broker, not started when it runs on a cluster
            data_dir=self.root / "kafka", port=free_port(), heap_mb=384, partitions=partitions
        )
        self.bootstrap = self.kafka.bootstrap if cluster is None else cluster.bootstrap
        names = {} if cluster is None else private_names()
        self.settings: Settings = load_settings(
            data_dir=self.root / "data",
            kafka_bootstrap=self.bootstrap,
            partitions_events=partitions,
            partitions_aggregates=partitions,
            partitions_dlq=1,
            partitions_regressions=1,
            **names,
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith("FLEETPULSE_")}
        self.env = {
            **base,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "FLEETPULSE_KAFKA_BOOTSTRAP": self.bootstrap,
            "FLEETPULSE_DATA_DIR": str(self.settings.data_dir),
            "FLEETPULSE_PARTITIONS_EVENTS": str(partitions),
            "FLEETPULSE_PARTITIONS_AGGREGATES": str(partitions),
            "FLEETPULSE_PARTITIONS_DLQ": "1",
            "FLEETPULSE_PARTITIONS_REGRESSIONS": "1",
            "FLEETPULSE_LOG_LEVEL": "INFO",
            **{f"FLEETPULSE_{name.upper()}": value for name, value in names.items()},
            **(env or {}),
        }
        self.services: dict[str, Service] = {}
        sink_port, collector_port = free_port(), free_port()
        self.services["sink"] = self._service(
            "sink",
            ("-m", "fleetpulse.cli", "sink"),
            sink_port,
            {"FLEETPULSE_SINK_PORT": str(sink_port), **(sink_env or {})},
        )
        if with_processor:
            self.services["processor"] = self.processor_service("processor")
        self.services["collector"] = self._service(
            "collector",
            ("-m", "fleetpulse.cli", "collector"),
            collector_port,
            {"FLEETPULSE_COLLECTOR_PORT": str(collector_port)},
        )
        self.reader = RemoteReader(self.services["sink"].url, timeout_s=60)

    def _service(self, name: str, argv: tuple[str, ...], port: int, env: dict[str, str]) -> Service:
        return Service(name, argv, port, {**self.env, **env}, self.root / "procs" / name)

    def processor_service(self, name: str) -> Service:
        """A processor worker with its own metrics port and working directory (faust's data dir)."""
        port = free_port()
        env = {
            "FLEETPULSE_PROCESSOR_METRICS_PORT": str(port),
            # the reconciliation counts every raw event, so none may be dropped as too late: which
            # ones would be depends on the order the load's connections deliver (10 to 33 of
            # 38 440 in the end-to-end test). Dropping itself is covered by the step's unit tests.
            "FLEETPULSE_PROCESSOR_MAX_LATENESS_H": str(24 * 30),
        }
        return self._service(name, _processor_argv(), port, env)

    @property
    def collector_url(self) -> str:
        return self.services["collector"].url

    def __enter__(self) -> FaultStack:
        started = time.monotonic()
        try:
            if self.cluster is None:
                self.kafka.start()
            create_topics(self.bootstrap, self.settings.topic_partitions())
            for service in self.services.values():
                service.start()
                service.wait_healthy()
        except BaseException:
            self.__exit__()
            raise
        _say(
            f"stack up in {time.monotonic() - started:.1f}s: "
            + ", ".join(f"{s.name} {s.url}" for s in self.services.values())
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for service in reversed(list(self.services.values())):
            with contextlib.suppress(Exception):
                service.stop()
        if self.cluster is None:
            with contextlib.suppress(Exception):
                self.kafka.stop()

    # -- the broker -----------------------------------------------------------------------------------

    def kill_kafka(self) -> None:
        """kill -9 of the broker (the whole JVM process group)."""
        proc = self.kafka.process
        assert proc is not None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        self.kafka.process = None

    def start_kafka(self) -> float:
        """The broker again, same port and data directory; seconds until it answers."""
        self.kafka.start()
        return self.kafka.startup_s

    # -- reads ------------------------------------------------------------------------------------------

    def query(self, sql: str) -> list[dict[str, Any]]:
        return self.reader.query_json(sql)

    def raw_counts(self) -> dict[str, tuple[int, int]]:
        """table -> (rows, distinct (device_id, epoch, seq))."""
        union = " UNION ALL ".join(
            f"SELECT '{t}' AS t, count() AS n, uniqExact(device_id, epoch, seq) AS u FROM {DB}.{t}"
            for t in FAMILIES
        )
        return {row["t"]: (int(row["n"]), int(row["u"])) for row in self.query(union)}

    def raw_total(self) -> int:
        union = " UNION ALL ".join(f"SELECT count() AS n FROM {DB}.{t}" for t in FAMILIES)
        return int(self.query(f"SELECT sum(n) AS n FROM ({union})")[0]["n"])

    def metric(self, service: str, name: str) -> float:
        """Sum of every sample of ``name`` on a service's /metrics (0 if absent or unreachable)."""
        try:
            with urllib.request.urlopen(f"{self.services[service].url}/metrics", timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return 0.0
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and (line[len(name)] in " {"):
                total += float(line.rsplit(" ", 1)[1])
        return total


# -- the load ---------------------------------------------------------------------


def small_fleet(devices: int = 40, days: int = 20, seed: int = 7) -> SimulationConfig:
    """~27 events per device-day, no invalid records, the demo injections (regressions to find)."""
    return SimulationConfig(devices=devices, days=days, seed=seed, chunk_devices=5)


class Load:
    """The simulator posting to the collector on a thread, paced to ``rate`` events/s.

    ``stats`` is live (what the collector acknowledged so far); ``manifest`` once done.
    The agent retries 429/503/connection errors with backoff, so what was not acknowledged is resent.
    """

    def __init__(self, collector_url: str, config: SimulationConfig, rate: float = 1500.0) -> None:
        self.config = config
        self.rate = rate
        self.opts = SendOptions(
            url=f"{collector_url}/v1/events",
            api_key=DEMO_API_KEY,
            lanes=4,
            max_attempts=40,
            backoff_base_sec=0.25,
            backoff_max_sec=4.0,
            timeout_sec=90.0,
        )
        self.stats = SendStats()
        self.sim = Simulation(config, DEMO_IKEY)
        self.generated = 0
        self.manifest: Manifest | None = None
        self.error: BaseException | None = None
        self.started = 0.0
        self.finished = 0.0
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-load", daemon=True)

    def _run(self) -> None:
        batches = self.sim.batches()

        def next_chunk() -> list[list[list[bytes]]] | None:
            batch = next(batches, None)
            if batch is None:
                return None
            self.generated += len(batch)
            ahead = self.generated / self.rate - (time.monotonic() - self.started)
            if ahead > 0:
                self._released.wait(ahead)
            import orjson

            lines = [(rec["ext"]["device"]["localId"], orjson.dumps(rec)) for rec in batch]
            return split_lanes(lines, self.opts)

        try:
            asyncio.run(send_stream(next_chunk, self.opts, self.stats))
            manifest = self.sim.manifest()
            manifest.send = self.stats
            self.manifest = manifest
        except BaseException as exc:
            self.error = exc
        finally:
            self.finished = time.monotonic()

    def start(self) -> Load:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def release(self) -> None:
        """Stop pacing: the rest of the fleet goes as fast as the collector takes it (a fault test
        paces slowly enough to outlast its faults on a slow machine, then lets the rest go)."""
        self._released.set()

    def wait_acked(self, n: int, timeout_s: float = 120.0) -> None:
        """Until the collector acknowledged ``n`` events (a point mid-load)."""
        deadline = time.monotonic() + timeout_s
        while self.stats.acc < n:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError(f"load stalled at {self.stats.acc} acknowledged (waiting for {n})")
            time.sleep(0.1)

    def join(self, timeout_s: float = 300.0) -> Manifest:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"load not finished after {timeout_s:.0f}s ({self.stats.acc} acknowledged)")
        if self.error is not None:
            raise self.error
        assert self.manifest is not None
        return self.manifest


# -- watching the pipeline (recovery time) ---------------------------------------------------------


class Watch:
    """Samples (time, acknowledged, stored raw rows) every ``every_s`` on a thread.

    Recovery time = fault injected -> ClickHouse holds every event acknowledged up to the moment
    the failed part was back (``cleared``): the fault, the restart and the catch-up of its backlog.
    """

    def __init__(self, stack: FaultStack, load: Load, every_s: float = 0.5) -> None:
        self.stack, self.load, self.every_s = stack, load, every_s
        self.samples: list[tuple[float, int, int]] = []
        self.fault_at = 0.0
        self.cleared_at = 0.0
        self.extra: dict[str, Any] = {}  # figures the fault adds to the report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            acked = self.load.stats.acc
            with contextlib.suppress(Exception):
                self.samples.append((time.monotonic(), acked, self.stack.raw_total()))
            self._stop.wait(self.every_s)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def fault(self) -> None:
        self.fault_at = time.monotonic()

    def cleared(self) -> None:
        self.cleared_at = time.monotonic()

    def recovery_s(self, fault_at: float | None = None, cleared_at: float | None = None) -> float | None:
        """Seconds from the fault until ClickHouse held what was acknowledged when it cleared."""
        fault_at = fault_at if fault_at is not None else self.fault_at
        if not fault_at:
            return None
        cleared = cleared_at if cleared_at is not None else (self.cleared_at or fault_at)
        samples = list(self.samples)
        target = max((acked for t, acked, _ in samples if t <= cleared), default=0)
        for t, _, stored in samples:
            if t >= cleared and stored >= target:
                return round(t - fault_at, 2)
        return None


# -- reconciliation ---------------------------------------------------------------------


@dataclass
class FaultReport:
    """The figures of one fault run (printed and appended to a JSON file)."""

    fault: str
    events: int  # valid events the simulator generated (= acknowledged when nothing failed)
    acknowledged: int
    stored: int  # raw rows in ClickHouse
    lost: int  # acknowledged but not stored
    duplicated: int  # stored more than once
    unexpected: int  # stored but never generated
    recovery_s: float | None
    load_s: float
    drain_s: float
    retries: int
    failed_records: int
    aggregates_checked: int = 0  # (window, scope, metric) cells compared with the raw tables
    aggregates_mismatched: int = 0
    regressions: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        rec = "n/a" if self.recovery_s is None else f"{self.recovery_s:.1f}s"
        agg = (
            f" aggregates {self.aggregates_checked} cells, {self.aggregates_mismatched} off"
            if self.aggregates_checked
            else ""
        )
        return (
            f"{self.fault}: events {self.events} acknowledged {self.acknowledged} stored {self.stored} "
            f"lost {self.lost} duplicated {self.duplicated} recovery {rec} (load {self.load_s:.1f}s, "
            f"drain {self.drain_s:.1f}s, retries {self.retries}){agg} {self.extra or ''}"
        )

    def record(self, *paths: Path) -> None:
        print(f"\n[fault] {self.line()}", flush=True)
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            docs: list[Any] = json.loads(path.read_text()) if path.exists() else []
            docs.append(asdict(self))
            path.write_text(json.dumps(docs, indent=1))


def expected_per_table(manifest: Manifest) -> dict[str, int]:
    return {table: manifest.events_by_type.get(event, 0) for table, (event, _cols) in FAMILIES.items()}


def drain(stack: FaultStack, expected_total: int, timeout_s: float = 180.0, settle_s: float = 3.0) -> float:
    """Wait until ClickHouse holds ``expected_total`` raw rows and nothing more arrives for ``settle_s``."""
    started = time.monotonic()
    last, last_change = -1, time.monotonic()
    while time.monotonic() - started < timeout_s:
        with contextlib.suppress(Exception):
            total = stack.raw_total()
            if total != last:
                last, last_change = total, time.monotonic()
            elif total >= expected_total and time.monotonic() - last_change >= settle_s:
                return time.monotonic() - started - settle_s
        time.sleep(0.5)
    raise AssertionError(f"pipeline did not drain in {timeout_s:.0f}s: {last} of {expected_total} raw rows")


def reconcile(
    stack: FaultStack, fault: str, load: Load, watch: Watch, drain_timeout_s: float = 180.0
) -> FaultReport:
    manifest = load.join()
    send = manifest.send
    assert send is not None
    load_s = load.finished - load.started
    drain_s = drain(stack, send.acc, drain_timeout_s)
    expected = expected_per_table(manifest)
    counts = stack.raw_counts()
    lost = sum(max(0, expected[t] - counts[t][1]) for t in FAMILIES)
    duplicated = sum(counts[t][0] - counts[t][1] for t in FAMILIES)
    unexpected = sum(max(0, counts[t][1] - expected[t]) for t in FAMILIES)
    report = FaultReport(
        fault=fault,
        events=manifest.events_total,
        acknowledged=send.acc,
        stored=sum(n for n, _ in counts.values()),
        lost=lost,
        duplicated=duplicated,
        unexpected=unexpected,
        recovery_s=watch.recovery_s(),
        load_s=round(load_s, 1),
        drain_s=round(drain_s, 1),
        retries=send.retries,
        failed_records=send.failed_records,
        extra=dict(watch.extra),
    )
    if stack.with_processor:
        checked, mismatched = drain_aggregates(stack, drain_timeout_s)
        report.aggregates_checked, report.aggregates_mismatched = checked, mismatched
        report.regressions = count_regressions(stack)
    return report


def assert_exact(report: FaultReport) -> None:
    assert report.failed_records == 0, f"the simulator gave up on {report.failed_records} records"
    assert report.acknowledged == report.events, report.line()
    assert (report.lost, report.duplicated, report.unexpected) == (0, 0, 0), report.line()
    assert report.stored == report.events, report.line()
    assert report.aggregates_mismatched == 0, report.line()


# -- aggregates (with processors) ------------------------------------------------------------------

# metric -> (raw table, rows the processors measure): what they count per (window, scope)
AGGREGATE_SOURCES: dict[str, tuple[str, str]] = {
    "core_boot_ms": ("boot_events", f"core_boot_ms IS NOT NULL AND {BOOT_KEPT}"),
    "total_boot_ms": ("boot_events", f"total_boot_ms IS NOT NULL AND {BOOT_KEPT}"),
}


def check_aggregates(stack: FaultStack) -> tuple[int, int]:
    """Merged fleet-scope daily counts per metric vs the same counts from the raw tables.

    Returns (cells compared, cells that differ). A double-counted or lost event changes a count.
    """
    merged = stack.query(
        f"SELECT metric, toString(window_start) AS w, sum(count) AS n FROM {DB}.aggregates_merged "
        "WHERE window_kind = 'day' AND scope_type = 'fleet' GROUP BY metric, w"
    )
    by_metric: dict[tuple[str, str], int] = {(r["metric"], r["w"]): int(r["n"]) for r in merged}
    checked = mismatched = 0
    for metric, (table, kept) in AGGREGATE_SOURCES.items():
        raw = stack.query(
            f"SELECT toString(toStartOfDay(event_time)) AS w, count() AS n FROM {DB}.{table} "
            f"WHERE {kept} GROUP BY w"
        )
        for row in raw:
            checked += 1
            if by_metric.get((metric, row["w"])) != int(row["n"]):
                mismatched += 1
    return checked, mismatched


def drain_aggregates(stack: FaultStack, timeout_s: float = 180.0) -> tuple[int, int]:
    """:func:`check_aggregates` once the processors committed every event and the sink every
    aggregate record they committed (read from the broker: exact, however long a worker's table
    recovery or backlog takes)."""
    s, deadline = stack.settings, time.monotonic() + timeout_s
    for group, topic in ((s.processor_app_id, s.topic_events), (s.sink_group_id, s.topic_aggregates)):
        while not caught_up(stack.bootstrap, group, topic):
            if time.monotonic() > deadline:
                return check_aggregates(stack)
            time.sleep(1.0)
    return check_aggregates(stack)


def count_regressions(stack: FaultStack) -> int:
    return int(
        stack.query(f"SELECT count() AS n FROM (SELECT DISTINCT scope, metric FROM {DB}.regressions)")[0]["n"]
    )


@contextlib.contextmanager
def fault_run(root: Path, *, with_processor: bool, **stack_kw: Any) -> Iterator[FaultStack]:
    with FaultStack(root, with_processor=with_processor, **stack_kw) as stack:
        yield stack


def run_fault(
    root: Path,
    fault: str,
    inject: Callable[[FaultStack, Load, Watch], None],
    *,
    config: SimulationConfig | None = None,
    rate: float = 1500.0,
    with_processor: bool = False,
    results: tuple[Path, ...] = (),
    **stack_kw: Any,
) -> FaultReport:
    """Stack up -> load -> ``inject(stack, load, watch)`` mid-load -> drain -> reconcile -> record."""
    with FaultStack(root, with_processor=with_processor, **stack_kw) as stack:
        load = Load(stack.collector_url, config or small_fleet(), rate).start()
        with Watch(stack, load) as watch:
            inject(stack, load, watch)
            report = reconcile(stack, fault, load, watch)
        report.record(root / "faults.json", *results)
        return report


def run_outage(
    root: Path,
    *,
    outage_s: float,
    epoch_rows: int = 3_000,
    after_s: float = 8.0,
    config: SimulationConfig | None = None,
    rate: float = 1500.0,
    with_processor: bool = False,
    results: tuple[Path, ...] = (),
) -> FaultReport:
    """ClickHouse unreachable for ``outage_s`` (sink fault setting, ``after_s`` after the writer
    started); records the peak of rows held in memory (``fleetpulse_sink_rows_pending``)."""
    sink_env = {
        "FLEETPULSE_SINK_FAULT_OUTAGE_AFTER_S": str(after_s),
        "FLEETPULSE_SINK_FAULT_OUTAGE_S": str(outage_s),
        "FLEETPULSE_SINK_EPOCH_MAX_ROWS": str(epoch_rows),
        "FLEETPULSE_SINK_RETRY_MAX_S": "2",
    }

    def inject(stack: FaultStack, load: Load, watch: Watch) -> None:
        deadline = time.monotonic() + 120 + after_s
        while stack.metric("sink", "fleetpulse_sink_insert_failures_total") == 0 and not _outage_logged(
            stack
        ):
            assert time.monotonic() < deadline, "the injected outage never started"
            time.sleep(0.2)
        watch.fault()
        peak = 0.0
        while time.monotonic() - watch.fault_at < outage_s:
            peak = max(peak, stack.metric("sink", "fleetpulse_sink_rows_pending"))
            time.sleep(0.5)
        watch.cleared()
        watch.extra.update(outage_s=outage_s, peak_rows_pending=peak, epoch_max_rows=epoch_rows)

    return run_fault(
        root, f"clickhouse outage {outage_s:.0f}s", inject, config=config, rate=rate,
        with_processor=with_processor, results=results, sink_env=sink_env,
    )  # fmt: skip


def _outage_logged(stack: FaultStack) -> bool:
    return "fault injection: ClickHouse outage" in stack.services["sink"].tail(100_000)
