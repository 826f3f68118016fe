"""The faust app factory: ``create_app(settings, registry) -> faust.App``.

No global app, no autodiscovery; agents are registered here and only loop and call pure
functions (:func:`processors.step.step`, :mod:`processors.emit`, :mod:`processors.detector`).
``processing_guarantee="exactly_once"``: changelog writes, output records and source offsets
commit in one Kafka transaction per source partition. Every output of stage 1 goes to the
partition number of its source partition (the transaction of that partition), so the
aggregates topic should have as many partitions as the events topic.

Pages: ``/metrics`` (the injected registry) and ``/healthz`` (200 once partitions are assigned and
table recovery finished).
"""

from __future__ import annotations

import logging
import os
import time
from functools import partial
from typing import Any

import faust
from prometheus_client import CollectorRegistry, generate_latest

from fleetpulse.settings import Settings
from processors.logs import json_handler
from processors.metrics import ProcessorMetrics, build_metrics
from processors.stage1 import Stage1
from processors.stage2 import Stage2
from processors.transactions import App, handle_in_transaction

log = logging.getLogger("fleetpulse.processors")


def app_id(settings: Settings) -> str:
    """The faust app (consumer group, transactional ids, changelogs) of a role: the regressions
    role is its own group, so aggregate workers scale without taking device-daily partitions."""
    suffix = "-regressions" if settings.processor_role == "regressions" else ""
    return settings.processor_app_id + suffix


def create_app(settings: Settings, registry: CollectorRegistry) -> faust.App:
    (settings.data_dir / "processors").mkdir(parents=True, exist_ok=True)  # faust makes one level only
    app = App(
        app_id(settings),
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        autodiscover=False,
        processing_guarantee="exactly_once",
        web_enabled=True,
        web_port=settings.processor_metrics_port,
        web_bind="127.0.0.1",
        topic_partitions=settings.partitions_events,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(4096, settings.processor_batch_max * 2),
        broker_commit_every=settings.processor_batch_max,
        broker_session_timeout=settings.processor_session_timeout_s,
        table_cleanup_interval=3600.0,
        # one batch emits thousands of small records: let the producer fill requests instead of
        # writing one tiny produce request per record to the socket (the worker's main cost)
        producer_linger_ms=settings.processor_producer_linger_ms,
        producer_max_batch_size=1_048_576,
        producer_max_request_size=8 * 1_048_576,
        producer_compression_type="lz4",
        loghandlers=[json_handler(settings.log_level)],
        # faust keeps its data folder (table caches) with the rest of the local stack, not in cwd
        datadir=str(settings.data_dir.resolve() / "processors" / "{conf.name}-data"),
    )
    metrics = build_metrics(registry)
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    # co-partitioned with the events: stage-1 output to partition p commits with source partition p
    daily = app.topic(
        settings.topic_device_daily, partitions=settings.partitions_events, internal=True, **raw
    )
    busy: dict[str, bool] = {}  # agent -> inside its handler (not waiting for input)
    agents: list[tuple[str, Any, Any]] = []

    if settings.processor_role in ("all", "aggregates"):
        events = app.topic(settings.topic_events, partitions=settings.partitions_events, **raw)
        aggregates = app.topic(settings.topic_aggregates, partitions=settings.partitions_aggregates, **raw)
        state1 = app.Table("stage1", partitions=settings.partitions_events, key_type=bytes, value_type=bytes)
        stage1 = Stage1(settings, metrics, state1, aggregates, daily)
        # rebuild state from the table after a rebalance (mode types receivers as positional-only)
        app.on_partitions_revoked.connect(stage1.on_revoked)  # type: ignore[arg-type]

        async def aggregate_agent(stream: faust.StreamT[bytes]) -> None:
            await daily.maybe_declare()  # stage 1 sends to it without subscribing (role aggregates)
            async for batch in stream.take_events(  # type: ignore[attr-defined]  # Stream has it, StreamT not
                settings.processor_batch_max, within=settings.processor_batch_s
            ):
                busy["aggregate"] = True
                await stage1.handle(batch)
                busy["aggregate"] = False
                _progress(metrics, "aggregate")

        agents.append(("aggregate", aggregate_agent, events))

    if settings.processor_role in ("all", "regressions"):
        baselines = app.topic(settings.topic_baselines, partitions=1, internal=True, compacting=True, **raw)
        state2 = app.Table("stage2", partitions=settings.partitions_events, key_type=bytes, value_type=bytes)
        stage2 = Stage2(settings, metrics, state2)
        app.on_partitions_revoked.connect(stage2.on_revoked)  # type: ignore[arg-type]

        # acked by hand, each in its partition's open transaction (processors/transactions.py)
        async def regressions_agent(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.noack().events():  # type: ignore[attr-defined]  # Stream has it
                busy["regressions"] = True
                work = partial(stage2.handle, event.message.partition, event.value)
                await handle_in_transaction(app, metrics, event, work)
                busy["regressions"] = False
                _progress(metrics, "regressions")

        async def baselines_agent(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.noack().events():  # type: ignore[attr-defined]  # Stream has it
                work = partial(stage2.baseline, event.message.partition, event.key, event.value)
                await handle_in_transaction(app, metrics, event, work)
                _progress(metrics, "baselines")

        agents += [("regressions", regressions_agent, daily), ("baselines", baselines_agent, baselines)]

    async def idle_heartbeat() -> None:
        # an agent waiting for input is alive: only one stuck inside its handler stops progressing
        # (FleetpulseProcessorAgentStalled); a dead fetcher shows as growing consumer lag instead
        for name, _, _ in agents:
            if not busy.get(name, False):
                metrics.agent_last_progress.labels(name).set(time.time())

    app.timer(interval=10.0)(idle_heartbeat)

    for name, fn, topic in agents:
        agent = app.agent(topic, name=name)(fn)
        # faust passes its own on_error to every agent and has no setter: replace it
        agent._on_error = _on_agent_error(metrics, name)  # type: ignore[attr-defined]
        metrics.agent_up.labels(name).set(1)  # started; 0 once it crashes

    _pages(app, registry, metrics, settings)
    return app


def _progress(metrics: ProcessorMetrics, agent: str) -> None:
    metrics.agent_up.labels(agent).set(1)
    metrics.agent_last_progress.labels(agent).set(time.time())


def _on_agent_error(metrics: ProcessorMetrics, name: str) -> Any:
    async def on_error(agent: Any, exc: BaseException) -> None:
        metrics.agent_up.labels(name).set(0)
        log.critical(
            "agent crashed; stopping the worker", extra={"step": "agent", "agent": name, "error": repr(exc)}
        )
        # faust's supervisor would restart the agent after the batch it failed on; exit loudly
        # instead (exactly-once: the open transaction aborts, the batch is read again on restart)
        logging.shutdown()
        os._exit(70)

    return on_error


def _pages(
    app: faust.App, registry: CollectorRegistry, metrics: ProcessorMetrics, settings: Settings
) -> None:
    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        _lag(app, metrics)
        return web.bytes(generate_latest(registry), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ok = (
            bool(app.consumer.assignment())
            and app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]  # TableManager has it
            and not app.rebalancing
        )
        return web.json({"ok": ok}, status=200 if ok else 503)

    del metrics_page, healthz


def _lag(app: faust.App, metrics: ProcessorMetrics) -> None:
    try:
        consumer = app.consumer
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            # committed offset (faust keeps no public position; untyped private attribute)
            pos = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]
            if high is not None:
                metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, high - (pos or 0)))
    except Exception:  # lag is best effort; never break /metrics
        log.debug("consumer lag unavailable", exc_info=True)
