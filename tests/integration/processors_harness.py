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
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.kafka import create_topics
from ingest.simulator import Manifest, Simulation, SimulationConfig

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


def produce_fleet(bootstrap: str, topic: str, cfg: SimulationConfig) -> tuple[Manifest, int]:
    """Every record wrapped like the collector does (ext.ingest, tenant contoso, key = lower device id)."""
    sim = Simulation(cfg)

    async def run() -> int:
        prod = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
        await prod.start()
        n = 0
        try:
            for batch in sim.batches():
                for r in batch:
                    rec = {
                        **r,
                        "ext": {
                            **r["ext"],
                            "ingest": {"time": r["time"], "clientIp": "127.0.0.1", "tenant": "contoso"},
                        },
                    }
                    await prod.send(
                        topic, orjson.dumps(rec), key=r["ext"]["device"]["localId"].lower().encode()
                    )
                    n += 1
            await prod.flush()
        finally:
            await prod.stop()
        return n

    n = asyncio.run(run())
    return sim.manifest(), n


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "process"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def read_messages(bootstrap: str, topic: str, idle_s: float = 5.0) -> list[Any]:
    """Every committed record of ``topic`` as aiokafka records (read until ``idle_s`` without one)."""

    async def run() -> list[Any]:
        c = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            enable_auto_commit=False,
        )
        await c.start()
        out: list[Any] = []
        try:
            while got := await c.getmany(timeout_ms=int(idle_s * 1000), max_records=50_000):
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


def wait_processed(
    worker: subprocess.Popen[bytes], log: Path, n: int, timeout_s: float = 240.0, idle_s: float = 12.0
) -> None:
    """Until the stage-1 logs account for ``n`` events and the log has been idle for ``idle_s``."""
    deadline = time.monotonic() + timeout_s
    last_size, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        assert worker.poll() is None, log.read_text()[-3000:]
        text = log.read_bytes()
        done = sum(
            orjson.loads(line).get("processed", 0)
            for line in text.splitlines()
            if line.startswith(b"{") and b'"msg": "batch"' in line
        )
        if len(text) != last_size:
            last_size, last_change = len(text), time.monotonic()
        if done >= n and time.monotonic() - last_change >= idle_s:
            return
        time.sleep(1.0)
    raise AssertionError(f"worker did not finish: {log.read_text()[-3000:]}")


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
