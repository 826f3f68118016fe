"""kill -9 a worker mid-stream and restart it: its final aggregates equal the pure step's over the
same records, cell for cell (no event lost, none counted twice)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from fleetpulse.settings import load_settings
from processors.emit import aggregate_messages
from processors.stage1 import step_config
from processors.state import GroupState
from processors.step import Record, step
from tests.integration.processors_harness import (
    produce_fleet,
    read_messages,
    read_topic,
    sim_config,
    start_worker,
    stop_worker,
    topics_env,
    wait_processed,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

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


def control_records(bootstrap: str, topic: str, partitions: int) -> int:
    """Offsets of ``topic`` not holding a record (read uncommitted): its transactions' markers."""

    async def run() -> int:
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await c.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            end = sum(int(o) for o in (await c.end_offsets(tps)).values())
            n = 0
            while got := await c.getmany(timeout_ms=3000, max_records=50_000):
                n += sum(len(msgs) for msgs in got.values())
        finally:
            await c.stop()
        return end - n

    return asyncio.run(run())


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


def processed(log: Path) -> int:
    return sum(
        orjson.loads(line).get("processed", 0)
        for line in log.read_bytes().splitlines()
        if line.startswith(b"{") and b'"msg": "batch"' in line
    )


def test_kill_9_and_restart_equals_the_pure_step(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {
        **topics_env(kafka_bootstrap),
        "FLEETPULSE_PROCESSOR_BATCH_MAX": "700",
        # the restarted worker gets the partitions once the killed one's session expired
        "FLEETPULSE_PROCESSOR_SESSION_TIMEOUT_S": "8",
    }
    _, n = produce_fleet(kafka_bootstrap, env["FLEETPULSE_TOPIC_EVENTS"], sim_config(devices=120, days=5))
    expected = expected_cells(read_partitions(kafka_bootstrap, env["FLEETPULSE_TOPIC_EVENTS"]))

    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    deadline = time.monotonic() + 120
    while processed(log) < n // 3:
        assert worker.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.1)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(30)
    worker = start_worker(env, log)
    try:
        wait_processed(worker, log, n)  # the log also counts the lines before the kill; idle ends it
    finally:
        stop_worker(worker)

    got = final_cells(kafka_bootstrap, env["FLEETPULSE_TOPIC_AGGREGATES"])
    # the aggregate records commit in their batch's transaction (faust left them outside once)
    aggregates, partitions = env["FLEETPULSE_TOPIC_AGGREGATES"], int(env["FLEETPULSE_PARTITIONS_AGGREGATES"])
    assert control_records(kafka_bootstrap, aggregates, partitions) > 0
    assert len(expected) > 10_000
    assert got.keys() == expected.keys()
    differ = sorted(k for k in expected if got[k] != expected[k])
    sample = [
        (k, {f: (got[k].get(f), v) for f, v in expected[k].items() if got[k].get(f) != v}) for k in differ[:5]
    ]
    assert not differ, (f"{len(differ)} of {len(expected)} cells differ (got, expected)", sample)
