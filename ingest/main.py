"""Run the collector process: build registry, metrics, producer and app; serve until a signal.

Shutdown (SIGTERM/SIGINT): stop accepting connections, let in-flight requests finish (they
wait for their Kafka acknowledgements), then flush the producer; the whole sequence is bounded
by ``collector_shutdown_timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import time

from aiohttp import web
from prometheus_client import CollectorRegistry

from fleetpulse.settings import Settings
from ingest.app import make_app
from ingest.dedup import DedupStore
from ingest.metrics import CollectorMetrics
from ingest.producer import EventProducer
from ingest.warm import warm_dedup

log = logging.getLogger("fleetpulse.collector")


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """Server TLS (>= 1.2) when both the certificate and key files are set, else ``None`` (plain http)."""
    cert, key = settings.collector_tls_cert_file, settings.collector_tls_key_file
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("TLS needs both FLEETPULSE_COLLECTOR_TLS_CERT_FILE and ..._TLS_KEY_FILE")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert, keyfile=key)
    return context


async def serve(settings: Settings, stop: asyncio.Event, started: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set, then shut down within the deadline."""
    registry = CollectorRegistry()
    metrics = CollectorMetrics.create(registry)
    producer = EventProducer(settings, metrics)
    dedup = DedupStore(settings.collector_dedup_max_entries, settings.collector_dedup_window_s)
    await asyncio.to_thread(warm_dedup, settings, dedup)  # before serving: a restart must not forget
    app = make_app(settings, producer, registry, dedup=dedup)
    runner = web.AppRunner(app, shutdown_timeout=settings.collector_shutdown_timeout_s, access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, settings.collector_host, settings.collector_port, ssl_context=tls_context(settings)
    )
    await site.start()
    for address in runner.addresses:
        log.info("collector listening on %s", address)
    if started is not None:
        started.set()
    await stop.wait()
    log.info("collector stopping: draining requests, then flushing Kafka")
    deadline = time.monotonic() + settings.collector_shutdown_timeout_s
    await runner.cleanup()
    left = await asyncio.to_thread(producer.close, max(1.0, deadline - time.monotonic()))
    log.info("collector stopped (%d messages undelivered)", left)


def run_collector(settings: Settings) -> None:
    """Blocking entry point for ``fleetpulse collector``."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(main())
