"""Helpers of the processors integration tests: produce a simulated fleet, run a worker, read topics."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.kafka import create_topics
from simulator import Manifest, Simulation, SimulationConfig
from tests.offsets import caught_up, partitions

ROOT = Path(__file__).resolve().parents[2]


# A fixed calendar (weekdays, patch day): events go straight to Kafka, past the collector's
# freshness check, so the outcome does not move with today's date.
START = dt.datetime(2026, 3, 9, tzinfo=dt.UTC)


def sim_config(devices: int = 400, days: int = 14) -> SimulationConfig:
    return SimulationConfig(
        devices=devices,
        days=days,
        start=START,
        heartbeat_every_hours=24,
        resource_every_hours=24,
        battery_every_hours=24,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def topics_env(bootstrap: str, partitions: int = 6) -> dict[str, str]:
    u = uuid.uuid4().hex[:8]
    env = {
        "FLEETPULSE_KAFKA_BOOTSTRAP": bootstrap,
        "FLEETPULSE_TOPIC_EVENTS": f"ev.{u}",
        "FLEETPULSE_TOPIC_AGGREGATES": f"agg.{u}",
        "FLEETPULSE_TOPIC_REGRESSIONS": f"reg.{u}",
        "FLEETPULSE_TOPIC_DEVICE_DAILY": f"dd.{u}",
        "FLEETPULSE_TOPIC_BASELINES": f"bl.{u}",
        "FLEETPULSE_PROCESSOR_APP_ID": f"proc-{u}",
        "FLEETPULSE_PROCESSOR_METRICS_PORT": str(free_port()),
        "FLEETPULSE_PARTITIONS_EVENTS": str(partitions),
        "FLEETPULSE_PARTITIONS_AGGREGATES": str(partitions),
    }
    create_topics(
        bootstrap,
        {
            env["FLEETPULSE_TOPIC_EVENTS"]: partitions,
            env["FLEETPULSE_TOPIC_AGGREGATES"]: partitions,
            env["FLEETPULSE_TOPIC_REGRESSIONS"]: 1,
        },
    )
    return env


def fleet_records(cfg: SimulationConfig) -> tuple[Manifest, list[tuple[bytes, bytes]]]:
    """Every record of the simulated fleet as (key, value), wrapped like the collector does
    (ext.ingest, tenant contoso, key = lower device id)."""
    sim = Simulation(cfg)
    out = [
        (
            r["ext"]["device"]["localId"].lower().encode(),
            orjson.dumps(
                {
                    **r,
                    "ext": {
                        **r["ext"],
                        "ingest": {"time": r["time"], "clientIp": "127.0.0.1", "tenant": "contoso"},
                    },
                }
            ),
        )
        for batch in sim.batches()
        for r in batch
    ]
    return sim.manifest(), out


def produce_records(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> int:
    async def run() -> None:
        prod = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
        await prod.start()
        try:
            for key, value in records:
                await prod.send(topic, value, key=key)
            await prod.flush()
        finally:
            await prod.stop()

    asyncio.run(run())
    return len(records)


def produce_fleet(bootstrap: str, topic: str, cfg: SimulationConfig) -> tuple[Manifest, int]:
    manifest, records = fleet_records(cfg)
    return manifest, produce_records(bootstrap, topic, records)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A worker process logging to ``log``, its data directory next to it (one per log, like one
    per host), not in the checkout."""
    return subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "process"],
        cwd=ROOT,
        env={**os.environ, "FLEETPULSE_DATA_DIR": str(log.with_suffix(".data")), **env},
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def read_messages(bootstrap: str, topic: str, idle_s: float = 5.0) -> list[Any]:
    """Every committed record of ``topic`` as aiokafka records: read up to the partitions' last
    stable offsets as of the start (or until ``idle_s`` without a record)."""

    async def run() -> list[Any]:
        c = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            enable_auto_commit=False,
        )
        await c.start()
        out: list[Any] = []
        try:
            tps = await partitions(c, topic)
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            ends = await c.end_offsets(tps)
            while [tp for tp in tps if await c.position(tp) < ends[tp]]:
                got = await c.getmany(timeout_ms=int(idle_s * 1000), max_records=50_000)
                if not got:
                    break
                for msgs in got.values():
                    out += msgs
        finally:
            await c.stop()
        return out

    return asyncio.run(run())


def read_topic(bootstrap: str, topic: str, idle_s: float = 5.0) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Every committed record of ``topic`` as (key, decoded JSON value), tombstones skipped."""
    records = read_messages(bootstrap, topic, idle_s)
    return [(m.key, orjson.loads(m.value)) for m in records if m.value is not None]


def count_committed(bootstrap: str, topic: str) -> int:
    return len(read_topic(bootstrap, topic, idle_s=2.0))


def processed(log: Path) -> int:
    """Events the stage-1 batches in a worker's log folded in (a batch read again after an abort
    counts again)."""
    return sum(
        orjson.loads(line).get("processed", 0)
        for line in log.read_bytes().splitlines()
        if line.startswith(b"{") and b'"msg": "batch"' in line
    )


def wait_committed(
    bootstrap: str,
    group: str,
    topic: str,
    workers: Sequence[subprocess.Popen[bytes]],
    timeout_s: float = 240.0,
) -> None:
    """Until ``group`` committed every record of ``topic``: the exact end of a worker's job (its
    outputs commit in the same transactions as those offsets)."""
    deadline = time.monotonic() + timeout_s
    while not caught_up(bootstrap, group, topic):
        for w in workers:
            assert w.poll() is None, f"worker exited with {w.returncode}"
        assert time.monotonic() < deadline, f"{group} never committed every record of {topic}"
        time.sleep(0.5)


SHUTDOWN_DEADLINE_S = 30.0  # docs/reliability.md: every service exits 0 within 30 s of SIGTERM


def stop_cleanly(worker: subprocess.Popen[bytes], log: Path) -> float:
    """SIGTERM ``worker``, which must exit 0 within the deadline; the seconds it took."""
    t0 = time.monotonic()
    stopped = stop_worker(worker, SHUTDOWN_DEADLINE_S)
    took = time.monotonic() - t0
    assert stopped, (took, log.read_text()[-3000:])  # False: had to SIGKILL
    assert worker.returncode == 0, log.read_text()[-3000:]
    return took


def stop_worker(worker: subprocess.Popen[bytes], timeout_s: float = 60.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout_s``; True when it stopped on SIGTERM."""
    worker.terminate()
    try:
        worker.wait(timeout_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(30)
        return False
    return True
