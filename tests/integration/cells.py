"""The oracle of the processor fault tests: the aggregate cells a worker committed, read back from
Kafka, against the pure step's over the same source records (no event lost, none counted twice)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from fleetpulse.settings import load_settings
from processors.emit import aggregate_messages
from processors.stage1 import step_config
from processors.state import GroupState
from processors.step import Record, step
from tests.integration.processors_harness import read_messages, read_topic

Cells = dict[tuple[Any, ...], dict[str, Any]]


def _keep_latest(out: Cells, d: dict[str, Any]) -> None:
    name = d.get("metric") or d.get("app") or d.get("counter")
    key = (
        d["kind"],
        d["tenant"],
        d["window_kind"],
        d["window_start"],
        d["scope_type"],
        d["scope"],
        name,
        d["source_partition"],
    )
    if key not in out or out[key]["version"] <= d["version"]:
        out[key] = d


def _without_version(out: Cells) -> Cells:
    # ``version`` is the last batch's highest offset: it depends on batch boundaries
    return {k: {f: v for f, v in d.items() if f != "version"} for k, d in out.items()}


def final_cells(bootstrap: str, topic: str) -> Cells:
    """Last version per (cell, source partition) of the committed aggregate records."""
    out: Cells = {}
    for _, value in read_topic(bootstrap, topic):
        for d in value if isinstance(value, list) else [value]:  # one scope's cells per message
            _keep_latest(out, d)
    return _without_version(out)


def read_partitions(bootstrap: str, topic: str) -> dict[int, list[Record]]:
    """Every record of ``topic`` as (offset, event) per partition, in offset order."""
    out: dict[int, list[Record]] = defaultdict(list)
    for m in read_messages(bootstrap, topic, idle_s=3.0):
        out[m.partition].append((m.offset, orjson.loads(m.value)))
    return dict(out)


def expected_cells(by_partition: dict[int, list[Record]]) -> Cells:
    """The pure step over each (partition, tenant) in one batch (emitted cells do not depend on
    batch boundaries: tests/unit/test_processors_step.py)."""
    cfg = step_config(load_settings())
    out: Cells = {}
    for partition, records in by_partition.items():
        by_tenant: dict[str, list[Record]] = defaultdict(list)
        for off, ev in records:
            by_tenant[ev["ext"]["ingest"]["tenant"]].append((off, ev))
        for tenant, recs in by_tenant.items():
            g = GroupState(partition, tenant)
            res = step(g, recs, cfg)
            for _, d in aggregate_messages(g, res.changed):
                _keep_latest(out, d)
    return _without_version(out)


def assert_same_cells(got: Cells, expected: Cells) -> None:
    assert len(expected) > 10_000
    missing, extra = sorted(expected.keys() - got.keys()), sorted(got.keys() - expected.keys())
    assert len(missing) + len(extra) == 0, (
        f"{len(missing)} cells missing, {len(extra)} unexpected (key: kind, tenant, window, start, "
        "scope type, scope, name, source partition)",
        missing[:5],
        extra[:5],
    )
    differ = sorted(k for k in expected if got[k] != expected[k])
    sample = [
        (k, {f: (got[k].get(f), v) for f, v in expected[k].items() if got[k].get(f) != v}) for k in differ[:5]
    ]
    assert not differ, (f"{len(differ)} of {len(expected)} cells differ (got, expected)", sample)


def control_records(bootstrap: str, topic: str, partitions: int) -> int:
    """Offsets of ``topic`` not holding a record (read uncommitted): its transactions' markers."""

    async def run() -> int:
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await c.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            n = 0
            ends = await c.end_offsets(tps)
            while [tp for tp in tps if await c.position(tp) < ends[tp]]:
                got = await c.getmany(timeout_ms=3000, max_records=50_000)
                if not got:
                    break
                n += sum(len(msgs) for msgs in got.values())
        finally:
            await c.stop()
        return int(sum(ends.values())) - n

    return asyncio.run(run())
