"""``fleetpulse sink``: the process that owns the ClickHouse store and writes Kafka into it.

open store (embedded: take its lock) -> apply migrations -> serve reads on ``SINK_PORT``
(``/v1/query``, ``/healthz``, ``/metrics``) -> run the writer (:class:`sinks.pipeline.SinkPipeline`)
on its own thread -> on SIGINT/SIGTERM: the writer flushes and commits its epoch within
``SINK_SHUTDOWN_TIMEOUT_S`` -> close the store (releasing the lock). The writer and the read
server share the one backend; its lock serializes them. If the writer dies, the process exits
non-zero (crash loudly, never a silent half-alive sink).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from prometheus_client import CollectorRegistry

from fleetpulse.settings import Settings
from sinks.clickhouse import Backend, open_backend
from sinks.metrics import SinkMetrics
from sinks.migrations import migrate
from sinks.pipeline import SinkPipeline
from sinks.serve import ScopePolicy, make_read_app

log = logging.getLogger("fleetpulse.sink")


def start_writer(
    settings: Settings, backend: Backend, metrics: SinkMetrics, stop: threading.Event
) -> tuple[threading.Thread, list[BaseException]]:
    """Run the pipeline on a thread; the list receives the exception it died of, if any."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            SinkPipeline(settings, backend, metrics).run(stop)
        except BaseException as exc:
            log.exception("sink writer died")
            errors.append(exc)

    thread = threading.Thread(target=target, name="sink-writer", daemon=True)
    thread.start()
    return thread, errors


async def _serve(settings: Settings) -> None:
    backend = open_backend(settings.clickhouse_url_resolved)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
    registry = CollectorRegistry()
    metrics = SinkMetrics.create(registry)
    stop = threading.Event()
    try:
        loop = asyncio.get_running_loop()
        applied = await loop.run_in_executor(executor, migrate, backend, settings)
        log.info("store %s open; %d migration(s) applied", settings.clickhouse_url_resolved, len(applied))
        writer, errors = start_writer(settings, backend, metrics, stop)

        def healthy() -> bool:
            return writer.is_alive() and not errors

        scope = ScopePolicy(
            frozenset(t.name for t in settings.tenants.values()),
            settings.clickhouse_database,
            settings.read_max_execution_time_s,
        )
        runner = web.AppRunner(make_read_app(backend, registry, executor, healthy, scope), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.sink_port).start()
        done = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        while not done.is_set() and writer.is_alive():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=0.5)
        stop.set()
        await loop.run_in_executor(None, writer.join, settings.sink_shutdown_timeout_s + 10)
        await runner.cleanup()
        if errors:
            raise RuntimeError("the sink writer died") from errors[0]
    finally:
        stop.set()
        executor.shutdown(wait=True)
        backend.close()


def run_sink(settings: Settings) -> None:
    asyncio.run(_serve(settings))
