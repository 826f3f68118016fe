"""The collector's aiohttp application: ``POST /v1/events``, ``GET /healthz``, ``GET /metrics``.

:func:`make_app` wires an already built :class:`~ingest.producer.EventProducer` (the caller owns
it and closes it after the app stopped) and a registry. On startup the app binds the producer to
its event loop and starts a background Kafka metadata probe; ``/healthz`` answers 200 only while
the last successful probe is recent and every extra readiness check passes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from fleetpulse.settings import Settings
from ingest.dedup import DedupStore
from ingest.pipeline import EventsEndpoint
from ingest.producer import EventProducer

ReadinessCheck = Callable[[], bool]


def make_app(
    settings: Settings,
    producer: EventProducer,
    registry: CollectorRegistry,
    *,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    dedup: DedupStore | None = None,
) -> web.Application:
    """Build the collector app. ``readiness`` adds named checks ``/healthz`` must also pass;
    ``dedup``: an already warmed store (ingest/warm.py), else an empty one."""
    metrics = producer.metrics
    if dedup is None:
        dedup = DedupStore(settings.collector_dedup_max_entries, settings.collector_dedup_window_s)
    endpoint = EventsEndpoint(settings, producer, dedup, metrics)
    checks: dict[str, ReadinessCheck] = {"kafka": producer.healthy, **(readiness or {})}

    async def healthz(_request: web.Request) -> web.Response:
        results = {name: bool(check()) for name, check in checks.items()}
        status = 200 if all(results.values()) else 503
        return web.json_response({"ok": status == 200, "checks": results}, status=status)

    async def metrics_page(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def probe_kafka_forever() -> None:
        while True:
            ok = await asyncio.to_thread(producer.probe, settings.collector_health_interval_s)
            metrics.kafka_healthy.set(1.0 if ok and producer.healthy() else 0.0)
            await asyncio.sleep(settings.collector_health_interval_s if ok else 1.0)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        producer.start(asyncio.get_running_loop())
        probe = asyncio.create_task(probe_kafka_forever(), name="kafka-probe")
        yield
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe

    # auto_decompress off: aiohttp would inflate gzip/deflate bodies without our caps
    app = web.Application(handler_args={"auto_decompress": False})
    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/v1/events", endpoint.handle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app
