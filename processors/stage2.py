"""Stage 2 shell: device-daily summaries -> :mod:`processors.detector` -> ``telemetry.regressions.v1``.

State (one faust table, written with the partition of the device-daily message being handled):
``V|tenant|device`` -> device history, ``T|tenant|p`` -> tracker and watermarks (the newest ``seq``
wins on restore), ``B|tenant|name`` -> a named baseline snapshot (from the compacted
``telemetry.baselines.v1``). Detection runs when a tenant's complete day advances (step ``detect``).

A tenant's detector needs every device-daily partition, so stage 2 is exact with one worker
holding all of them (the default deployment: one processors worker; see docs/processors.md).

Regression messages go out through a plain idempotent producer, not the worker's transactions
(the single-partition regressions topic would join a transaction that only commits with another
agent's offsets). They are idempotent instead: ``regression_id`` and every field derive from event
time, so a replay after a crash re-sends byte-identical messages and the sink keeps one row per
``(tenant, regression_id)`` version.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from fleetpulse.settings import Settings
from processors.attribution import ConfigChange, _Open
from processors.baseline import Snapshot, from_dict
from processors.changelog import Changelog
from processors.detector import (
    DetectorConfig,
    DeviceHistory,
    TenantState,
    complete_day,
    evaluate_through,
    observe,
)
from processors.metrics import ProcessorMetrics
from processors.regression import RegressionConfig
from processors.stage1 import table_items

log = logging.getLogger("fleetpulse.processors.stage2")
SEP = "\x1f"


def encode_history(h: DeviceHistory) -> bytes:
    return orjson.dumps(
        {
            "model": h.model,
            "os": h.os_build,
            "ch": [[c.change_id, c.change_name, c.applied_time] for c in h.changes],
            "days": {str(d): v for d, v in h.days.items()},
        }
    )


def encode_tracker(st: TenantState) -> bytes:
    return orjson.dumps(
        {
            "open": [
                [list(k), o.regression_id, o.opened_at, o.good_streak] for k, o in st.tracker.open.items()
            ],
            "docs": st.docs,
            "periods": {k: list(v) for k, v in st.periods.items()},
            "wm": {str(p): w for p, w in st.partition_wm.items()},
            "np": st.partitions,
            "ev": st.evaluated_day,
            "first": st.first_day,
        }
    )


def restore(items: Any) -> tuple[dict[str, TenantState], dict[str, dict[str, Snapshot]]]:
    tenants: dict[str, TenantState] = {}
    seqs: dict[str, int] = {}
    baselines: dict[str, dict[str, Snapshot]] = {}
    for key, blob in items:
        parts = key.split(SEP)
        if blob is None:
            continue
        d = orjson.loads(blob)
        if parts[0] == "B":
            baselines.setdefault(parts[1], {})[parts[2]] = from_dict(d)
            continue
        st = tenants.setdefault(parts[1], TenantState(parts[1]))
        if parts[0] == "V":
            st.devices[parts[2]] = DeviceHistory(
                d["model"],
                d["os"],
                [ConfigChange(*c) for c in d["ch"]],
                {int(k): v for k, v in d["days"].items()},
            )
        elif parts[0] == "T" and d.get("seq", 0) >= seqs.get(parts[1], -1):
            seqs[parts[1]] = st.seq = d.get("seq", 0)
            st.tracker.open = {(k[0], k[1], k[2], k[3]): _Open(rid, at, n) for k, rid, at, n in d["open"]}
            st.docs, st.evaluated_day, st.first_day = d["docs"], d["ev"], d["first"]
            st.periods = {k: (v[0], v[1]) for k, v in d["periods"].items()}
            st.partition_wm = {int(p): w for p, w in d["wm"].items()}
            st.partitions = int(d.get("np", 0))
    return tenants, baselines


class Stage2:
    def __init__(self, settings: Settings, metrics: ProcessorMetrics, table: Any) -> None:
        self.cfg = DetectorConfig(
            metrics=settings.regression_metrics,
            scopes=settings.regression_scopes,
            current_days=settings.regression_current_days,
            recover_after=settings.regression_recover_after,
            trailing_days=settings.regression_trailing_days,
            retention_days=settings.processor_day_retention_days,
            min_crashes=settings.regression_min_crashes,
            regression=RegressionConfig(
                threshold=settings.regression_threshold,
                alpha=settings.regression_alpha,
                fdr=settings.regression_fdr,
                min_devices=settings.regression_min_devices,
            ),
        )
        self.metrics = metrics
        self.table = table
        self.changelog = Changelog(table)
        self.bootstrap = settings.kafka_bootstrap
        self.topic = settings.topic_regressions
        self.producer: AIOKafkaProducer | None = None
        self.state: tuple[dict[str, TenantState], dict[str, dict[str, Snapshot]]] | None = None

    def on_revoked(self, sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        self.state = None  # rebuilt from the table on next use

    def _state(self) -> tuple[dict[str, TenantState], dict[str, dict[str, Snapshot]]]:
        if self.state is None:
            self.state = restore(table_items(self.table.data))
        return self.state

    async def baseline(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        """A named baseline published (value = snapshot JSON) or deleted (tombstone); key tenant|name."""
        if key is None:
            return
        tenant, _, name = key.decode().partition(SEP)
        per = self._state()[1].setdefault(tenant, {})
        if value is None:
            per.pop(name, None)
        else:
            per[name] = from_dict(orjson.loads(value))
        self.changelog.put(partition, SEP.join(("B", tenant, name)), value)
        await self.changelog.flush()

    async def handle(self, partition: int, value: bytes) -> None:
        tenants, baselines = self._state()
        msg = orjson.loads(value)
        tenant = str(msg["tenant"])
        st = tenants.setdefault(tenant, TenantState(tenant))
        observe(st, msg)
        if "device" in msg:
            dev = str(msg["device"])
            self.changelog.put(partition, SEP.join(("V", tenant, dev)), encode_history(st.devices[dev]))
        day = complete_day(st)
        if day is not None and day > st.evaluated_day:
            t0 = time.perf_counter()
            docs = evaluate_through(st, day, self.cfg, baselines.get(tenant))
            for doc in docs:
                key = f"{doc['scope_type']}:{doc['scope']}:{doc['metric']}"
                await self._send(key.encode(), orjson.dumps(doc))
                (
                    self.metrics.regressions_opened
                    if doc["status"] == "open"
                    else self.metrics.regressions_closed
                ).labels(doc["metric"], doc["scope_type"]).inc()
                self.metrics.regressions_open.labels(doc["metric"], doc["scope_type"]).inc(
                    1 if doc["status"] == "open" else -1
                )
            st.seq += 1
            self.changelog.put(partition, SEP.join(("T", tenant, str(partition))), encode_tracker(st))
            secs = time.perf_counter() - t0
            self.metrics.step_seconds.labels("detect").observe(secs)
            log.info(
                "detect",
                extra={
                    "step": "detect",
                    "tenant": tenant,
                    "day": day,
                    "messages": len(docs),
                    "open": len(st.tracker.open),
                    "seconds": round(secs, 4),
                },
            )
        else:
            st.seq += 1
            self.changelog.put(partition, SEP.join(("T", tenant, str(partition))), encode_tracker(st))
        await self.changelog.flush()

    async def _send(self, key: bytes, value: bytes) -> None:
        if self.producer is None:
            self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True)
            await self.producer.start()
        await self.producer.send_and_wait(self.topic, value=value, key=key)

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
