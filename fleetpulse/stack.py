"""``fleetpulse up``: the whole local stack in the foreground.

start Kafka (unless ``KAFKA_BOOTSTRAP`` names one; ``KAFKA_BROKERS`` > 1: a local cluster) ->
create topics (replicas and min ISR from the settings or the cluster) -> start each service as a
child process (it dies with us) -> wait for every ``/healthz`` -> record endpoints -> wait for
SIGINT/SIGTERM -> stop services (SIGTERM, deadline, SIGKILL) -> stop Kafka.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.kafka import LocalKafka, child_preexec, cluster_replication, create_topics, free_port
from deploy.kafka_cluster import LocalKafkaCluster
from fleetpulse.access import ensure_operator_token
from fleetpulse.runfile import clear_endpoints, write_endpoints
from fleetpulse.settings import Settings

if TYPE_CHECKING:
    from signal import _HANDLER


class StackError(RuntimeError):
    """A part of the local stack failed to start."""


@dataclass(frozen=True)
class Service:
    """A fleetpulse process the stack runs: its CLI subcommand and its HTTP address."""

    name: str
    argv: tuple[str, ...]
    port: int
    env: tuple[tuple[str, str], ...] = ()  # set for this service only

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def services(settings: Settings, with_pipeline: bool, with_console: bool = True) -> list[Service]:
    """The sink owns the embedded store and serves reads; collector and processors join it; the
    console reads through the sink (port 0: a free port, chosen here so the link can be printed)."""
    chosen = [Service("sink", ("sink",), settings.sink_port)]
    if with_pipeline:
        chosen.append(Service("processor", ("process",), settings.processor_metrics_port))
        chosen.append(Service("collector", ("collector",), settings.collector_port))
    if not with_console:
        return chosen
    port = settings.console_port or free_port()
    sink_url = settings.console_sink_url or f"http://127.0.0.1:{settings.sink_port}"
    console_env = (("FLEETPULSE_CONSOLE_PORT", str(port)), ("FLEETPULSE_CONSOLE_SINK_URL", sink_url))
    chosen.append(Service("console", ("console",), port, console_env))
    return chosen


def _say(message: str) -> None:
    print(f"[fleetpulse up] {message}", flush=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def _start(service: Service, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "fleetpulse.cli", *service.argv]
    env = {**env, **dict(service.env)}
    log_dir.mkdir(parents=True, exist_ok=True)
    # each service logs to its own file, keeping the terminal for the stack's own lines; its own
    # session: a terminal's Ctrl-C reaches only us, and we stop the services in order
    with (log_dir / f"{service.name}.log").open("ab") as log:
        return subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=child_preexec,
            start_new_session=True,
        )


def _wait_healthy(service: Service, proc: subprocess.Popen[bytes], timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            raise StackError(f"{service.name} exited with code {proc.returncode} while starting")
        if _healthy(service.url):
            return time.monotonic() - started
        time.sleep(0.2)
    raise StackError(f"{service.name} not healthy at {service.url}/healthz after {timeout_s:.0f}s")


def _stop(procs: dict[str, subprocess.Popen[bytes]], deadline_s: float) -> None:
    # stop in reverse start order: the collector first, the sink (which flushes) last
    for name, proc in reversed(list(procs.items())):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            _say(f"{name} did not stop within {deadline_s:.0f}s; killing it")
            proc.kill()
            proc.wait()


@contextmanager
def _kafka(settings: Settings) -> Iterator[str]:
    if settings.kafka_bootstrap:
        yield settings.kafka_bootstrap
        return
    if settings.kafka_brokers > 1:
        with _kafka_cluster(settings) as bootstrap:
            yield bootstrap
        return
    broker = LocalKafka(
        data_dir=settings.data_dir.resolve() / "kafka",
        version=settings.kafka_version,
        heap_mb=settings.kafka_heap_mb,
        partitions=settings.partitions_events,
    )
    broker.start()
    _say(
        f"kafka {settings.kafka_version} (KRaft) listening on {broker.bootstrap} "
        f"(started in {broker.startup_s:.1f}s)"
    )
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
        _say(f"kafka stopped in {broker.shutdown_s:.1f}s")


@contextmanager
def _kafka_cluster(settings: Settings) -> Iterator[str]:
    cluster = LocalKafkaCluster(
        data_dir=settings.data_dir.resolve() / "kafka-cluster",
        brokers=settings.kafka_brokers,
        version=settings.kafka_version,
        heap_mb=settings.kafka_heap_mb,
        partitions=settings.partitions_events,
    )
    cluster.start()
    _say(
        f"kafka {settings.kafka_version} (KRaft) listening on {cluster.bootstrap} "
        f"({settings.kafka_brokers} brokers, started in {cluster.startup_s:.1f}s)"
    )
    try:
        yield cluster.bootstrap
    finally:
        cluster.stop()
        _say(f"kafka stopped in {cluster.shutdown_s:.1f}s")


class LocalStack:
    """Kafka plus the fleetpulse services as child processes; ``with LocalStack(s) as endpoints:``."""

    def __init__(
        self,
        settings: Settings,
        *,
        with_pipeline: bool,
        stop_deadline_s: float = 30.0,
        with_console: bool = True,
    ) -> None:
        self.settings = settings
        self.with_pipeline = with_pipeline
        self.with_console = with_console
        self.stop_deadline_s = stop_deadline_s
        self.endpoints: dict[str, str] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._kafka: AbstractContextManager[str] | None = None

    def __enter__(self) -> dict[str, str]:
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._kafka = _kafka(settings)
        bootstrap = self._kafka.__enter__()
        try:
            rf, isr = cluster_replication(
                bootstrap, settings.kafka_replication_factor, settings.kafka_min_insync_replicas
            )
            topics = settings.topic_partitions()
            create_topics(bootstrap, topics, replication_factor=rf, min_insync_replicas=isr)
            if rf > 1:
                _say(f"topics: replication factor {rf}, min.insync.replicas {isr}")
            env = {
                **os.environ,
                "FLEETPULSE_KAFKA_BOOTSTRAP": bootstrap,
                "FLEETPULSE_DATA_DIR": str(settings.data_dir.resolve()),
                # what the services create or check in Kafka gets the same replication
                "FLEETPULSE_KAFKA_REPLICATION_FACTOR": str(rf),
                "FLEETPULSE_KAFKA_MIN_INSYNC_REPLICAS": str(isr),
            }
            self.endpoints = {"kafka": bootstrap, "clickhouse": settings.clickhouse_url_resolved}
            # the operator token: the console's printed link signs in with it, the CLI presents it
            operator = ensure_operator_token(settings.data_dir.resolve())
            for service in services(settings, self.with_pipeline, self.with_console):
                self._procs[service.name] = _start(service, env, settings.data_dir / "logs")
                took = _wait_healthy(service, self._procs[service.name], timeout_s=120)
                self.endpoints[service.name] = service.url
                shown = f"{service.url}/?token={operator}" if service.name == "console" else service.url
                _say(f"{service.name} listening on {shown} (healthy in {took:.1f}s)")
            write_endpoints(settings.data_dir, self.endpoints)
            _say(f"service logs in {(settings.data_dir / 'logs').resolve()}")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.endpoints

    def __exit__(self, *exc: object) -> None:
        started = time.monotonic()
        _stop(self._procs, self.stop_deadline_s)
        self._procs.clear()
        clear_endpoints(self.settings.data_dir)
        _say(f"services stopped in {time.monotonic() - started:.1f}s")
        if self._kafka is not None:
            kafka, self._kafka = self._kafka, None
            kafka.__exit__(None, None, None)


class StopSignals:
    """SIGINT/SIGTERM recorded, never raised: ``with StopSignals() as stop: ...; stop.wait()``.

    A signal during start-up lets start-up finish and then stops in order; a second one while
    stopping changes nothing. Not ``sigwait``: the embedded ClickHouse engine's thread pools
    unblock every signal, so the kernel may hand one to them and a main thread in ``sigwait``
    never sees it. Python runs handlers in the main thread whichever thread the kernel chose.
    """

    _signals = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._event = threading.Event()
        self._previous: dict[signal.Signals, _HANDLER] = {}

    def _record(self, signum: int, _frame: object) -> None:
        if self.received is None:
            self.received = signum
        self._event.set()

    def __enter__(self) -> StopSignals:
        self._previous = {s: signal.signal(s, self._record) for s in self._signals}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def wait(self) -> int:
        """Block until a stop signal; return it."""
        # a bounded wait: the main thread must wake to run the handler when another thread got
        # the signal, which does not interrupt a wait here
        while not self._event.wait(0.25):
            pass
        assert self.received is not None
        return self.received


def run_stack(settings: Settings, *, with_pipeline: bool = False, stop_deadline_s: float = 30.0) -> None:
    """Run the local stack until SIGINT/SIGTERM; leave no process behind."""
    stack = LocalStack(settings, with_pipeline=with_pipeline, stop_deadline_s=stop_deadline_s)
    with StopSignals() as stop, stack:
        _say("ready; Ctrl-C stops everything")
        _say(f"received signal {stop.wait()}; stopping")
