"""Stage 1 shell: one ``take_events`` batch -> pure step per (source partition, tenant) -> outputs.

Steps (log ``step`` field and ``fleetpulse_processor_step_seconds{step}``): ``decode`` (JSON,
grouping by ``event.message.partition`` and ``ext.ingest.tenant``), ``device_state``,
``aggregate``, ``merge``, ``expire`` (inside :func:`processors.step.step`) and ``emit`` (table
changelog with the *explicit* source partition, aggregates and device-daily records).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from fleetpulse.settings import Settings
from processors.aggregate import AggregateConfig
from processors.changelog import Changelog
from processors.emit import aggregate_messages, device_daily_messages, tick_message
from processors.metrics import ProcessorMetrics
from processors.state import (
    GroupState,
    cell_table_key,
    device_table_key,
    encode_cell,
    encode_device,
    encode_meta,
    meta_table_key,
    restore,
)
from processors.step import Record, StepConfig, StepResult, step
from processors.transactions import forget, holding_commits, send_in_transaction, split_open

log = logging.getLogger("fleetpulse.processors.stage1")


def pack_by_key(messages: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Group output documents by their message key, keeping their order."""
    packed: dict[str, list[dict[str, Any]]] = {}
    for key, doc in messages:
        packed.setdefault(key, []).append(doc)
    return packed


def table_items(data: Any) -> Iterable[tuple[str, bytes]]:
    for k, v in list(data.items()):
        yield (k.decode() if isinstance(k, bytes) else str(k)), v


def step_config(settings: Settings) -> StepConfig:
    return StepConfig(
        AggregateConfig(max_lateness_s=settings.processor_max_lateness_h * 3600.0),
        window_grace_s=settings.processor_window_grace_h * 3600.0,
        day_retention_days=settings.processor_day_retention_days,
    )


class Stage1:
    def __init__(
        self, settings: Settings, metrics: ProcessorMetrics, table: Any, aggregates: Any, daily: Any
    ) -> None:
        self.cfg = step_config(settings)
        self.metrics = metrics
        self.table = table
        self.changelog = Changelog(table)
        self.aggregates = aggregates
        self.daily = daily
        self.n_aggregates = settings.partitions_aggregates
        self.n_events = settings.partitions_events
        self.topic_events = settings.topic_events
        self.groups: dict[int, dict[str, GroupState]] = {}

    def on_revoked(self, sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        self.groups.clear()  # rebuilt from the table (restored from its changelog) on next use

    def _group(self, partition: int, tenant: str) -> GroupState:
        groups = self.groups.get(partition)
        if groups is None:
            groups = self.groups[partition] = restore(partition, table_items(self.table.data))
            log.info(
                "restored",
                extra={
                    "step": "restore",
                    "partition": partition,
                    "groups": len(groups),
                    "devices": sum(len(x.devices) for x in groups.values()),
                    "table_keys": len(self.table.data),
                },
            )
        g = groups.get(tenant)
        if g is None:
            g = groups[tenant] = GroupState(partition, tenant)
        return g

    async def handle(self, batch: Sequence[Any]) -> None:
        m = self.metrics
        m.batch_size.observe(len(batch))
        app = self.table.app
        async with holding_commits(app.consumer):
            # a batch can reach here after faust ended its partitions' transactions (stopping,
            # rebalancing; checked inside the hold, as a commit may have run while it waited):
            # nothing of it could commit, so it is left for the partitions' next owner
            batch, closed = split_open(app, batch)
            for event in closed:
                forget(app, event)
            m.deferred.inc(len(closed))
            await self._apply(self._decode(batch))
            # acked inside the hold: take_events acks only after the handler returned, with awaits
            # in between where a commit could take this batch's state without its offsets
            for event in batch:
                event.ack()

    def _decode(self, batch: Sequence[Any]) -> dict[tuple[int, str], list[Record]]:
        """Group a batch's events by (source partition, tenant), in offset order."""
        t0 = time.perf_counter()
        by_group: dict[tuple[int, str], list[Record]] = {}
        for event in batch:
            try:
                ev = orjson.loads(event.value)
                tenant = str(ev["ext"]["ingest"]["tenant"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                self.metrics.decode_errors.inc()
                continue
            msg = event.message
            by_group.setdefault((msg.partition, tenant), []).append((msg.offset, ev))
        self.metrics.step_seconds.labels("decode").observe(time.perf_counter() - t0)
        self.metrics.events.labels("decode").inc(len(batch))
        return by_group

    async def _apply(self, by_group: dict[tuple[int, str], list[Record]]) -> None:
        """Step and emit every (partition, tenant) group of one batch, ticks, changelog flushed."""
        for (partition, tenant), records in sorted(by_group.items()):
            g = self._group(partition, tenant)
            res = step(g, records, self.cfg)
            t1 = time.perf_counter()
            n_out = await self._emit(g, res)
            emit_s = time.perf_counter() - t1
            self._observe(res, emit_s)
            log.info(
                "batch",
                extra={
                    "step": "emit",
                    "partition": partition,
                    "tenant": tenant,
                    "events": len(records),
                    "cells": len(res.changed),
                    "records_out": n_out,
                    **res.counts,
                    **{f"{k}_s": round(v, 4) for k, v in res.seconds.items()},
                    "emit_s": round(emit_s, 4),
                },
            )
        await self._ticks({p for p, _ in by_group}, set(by_group))
        await self.changelog.flush()
        self.metrics.windows_open.set(
            sum(
                len(g.partials.metrics) + len(g.partials.apps) + len(g.partials.counters)
                for gs in self.groups.values()
                for g in gs.values()
            )
        )

    async def _send(self, source: int, topic: Any, key: bytes, value: bytes, partition: int) -> None:
        await send_in_transaction(self.table, self.topic_events, source, topic, key, value, partition)

    async def _emit(self, g: GroupState, res: StepResult) -> int:
        p = g.partition
        for ck in res.changed:
            self.changelog.put(p, cell_table_key(g, ck), encode_cell(g, ck))
        for ck in res.closed:
            self.changelog.put(p, cell_table_key(g, ck), None)
        for dev in res.devices:
            self.changelog.put(p, device_table_key(g, dev), encode_device(g.devices[dev]))
        self.changelog.put(p, meta_table_key(g), encode_meta(g))
        n = 0
        out_p = p % self.n_aggregates
        # one message per scope (key) with every changed cell of it: the per-message cost of the
        # producer, not the aggregation, bounds a worker (docs/processors.md)
        for key, docs in pack_by_key(aggregate_messages(g, res.changed)).items():
            await self._send(p, self.aggregates, key.encode(), orjson.dumps(docs), out_p)
            n += 1
        for key, doc in device_daily_messages(g, res.device_days, self.n_events):
            await self._send(p, self.daily, key.encode(), orjson.dumps(doc), p)
            n += 1
        return n

    async def _ticks(self, partitions: set[int], stepped: set[tuple[int, str]]) -> None:
        """After a batch, each source partition it touched announces its watermark to every
        tenant that had no events of it in the batch (on that partition's device-daily
        partition, so after everything it emitted): stage 2 waits for every partition before it
        calls a day complete, and a tenant with no device on a partition would wait forever."""
        tenants = {t for gs in self.groups.values() for t in gs}
        for p in sorted(partitions):
            wm = max(g.watermark for g in self.groups[p].values())
            for tenant in sorted(tenants):
                if (p, tenant) not in stepped:
                    doc = tick_message(tenant, p, wm, self.n_events)
                    await self._send(p, self.daily, tenant.encode(), orjson.dumps(doc), p)

    def _observe(self, res: StepResult, emit_s: float) -> None:
        m = self.metrics
        for name, secs in res.seconds.items():
            m.step_seconds.labels(name).observe(secs)
        m.step_seconds.labels("emit").observe(emit_s)
        c = res.counts
        m.events.labels("device_state").inc(c["processed"])
        m.events.labels("aggregate").inc(c["accepted"])
        m.late_events.labels("updated").inc(c["late_updated"])
        m.late_events.labels("dropped").inc(c["late_dropped"])
        m.quarantined.inc(c["quarantined"])
        m.redelivered.inc(c["redelivered"])
        m.windows_closed.inc(c["windows_closed"])
