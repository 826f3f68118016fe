"""``fleetpulse sink``: the process that owns the ClickHouse store.

open store (embedded: take its lock) -> apply migrations -> serve reads on ``SINK_PORT`` ->
run until SIGINT/SIGTERM -> close the store (releasing the lock).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from prometheus_client import CollectorRegistry

from fleetpulse.settings import Settings
from sinks.clickhouse import open_backend
from sinks.migrations import migrate
from sinks.serve import make_read_app

log = logging.getLogger("fleetpulse.sink")


async def _serve(settings: Settings) -> None:
    backend = open_backend(settings.clickhouse_url_resolved)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
    try:
        applied = await asyncio.get_running_loop().run_in_executor(executor, migrate, backend, settings)
        log.info("store %s open; %d migration(s) applied", settings.clickhouse_url_resolved, len(applied))
        runner = web.AppRunner(make_read_app(backend, CollectorRegistry(), executor), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.sink_port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()
    finally:
        executor.shutdown(wait=True)
        backend.close()


def run_sink(settings: Settings) -> None:
    asyncio.run(_serve(settings))
