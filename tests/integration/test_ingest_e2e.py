"""The simulator posts a small fleet to a running collector process; Kafka holds exactly the valid
events and the DLQ exactly the invalid ones the simulator was told to send."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer

from deploy.kafka import free_port
from simulator.config import SimulationConfig
from simulator.run import run_simulation

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

API_KEY = "demo-key-contoso"
IKEY = "o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f"


@pytest.fixture
def collector(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> Iterator[dict[str, str]]:
    port = free_port()
    topics = {"events": new_topic(6, "events"), "dlq": new_topic(2, "dlq")}
    env = {
        **os.environ,
        "FLEETPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FLEETPULSE_COLLECTOR_PORT": str(port),
        "FLEETPULSE_TOPIC_EVENTS": topics["events"],
        "FLEETPULSE_TOPIC_DLQ": topics["dlq"],
        "FLEETPULSE_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.Popen([sys.executable, "-m", "fleetpulse.cli", "collector"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("collector never became healthy")
    yield {"url": url, **topics}
    proc.terminate()
    assert proc.wait(timeout=30) == 0


def _consume_all(
    bootstrap: str, topic: str, expected: int
) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []
    idle_deadline = time.monotonic() + 30
    try:
        while time.monotonic() < idle_deadline:
            for msg in consumer.consume(num_messages=5000, timeout=1.0):
                assert msg.error() is None, msg.error()
                value = msg.value()
                assert value is not None
                headers: dict[str, bytes] = {}
                for item in msg.headers() or []:
                    if isinstance(item[1], bytes):
                        headers[str(item[0])] = item[1]
                out.append((msg.key(), value, headers))
            if len(out) >= expected:
                # drain a little longer: anything beyond `expected` is a duplicate and must fail
                idle_deadline = min(idle_deadline, time.monotonic() + 2)
    finally:
        consumer.close()
    return out


def test_simulated_fleet_lands_exactly_once(kafka_bootstrap: str, collector: dict[str, str]) -> None:
    config = SimulationConfig(seed=7, devices=60, days=3, invalid_fraction=0.02)
    manifest = run_simulation(
        config, collector_url=collector["url"], api_key=API_KEY, out_dir=None, ikey=IKEY
    )
    assert manifest.send is not None
    assert manifest.send.acc == manifest.events_total
    assert manifest.send.rej == manifest.invalid_total > 0
    assert manifest.send.rejected_by_reason == manifest.invalid_by_reason

    events = _consume_all(kafka_bootstrap, collector["events"], manifest.events_total)
    assert len(events) == manifest.events_total
    identities = set()
    by_type: Counter[str] = Counter()
    for key, value, _headers in events:
        record = orjson.loads(value)
        device = record["ext"]["device"]["localId"].lower()
        assert key == device.encode()
        assert record["ext"]["ingest"]["tenant"] == "contoso"
        identities.add((device, record["ext"]["sdk"]["epoch"], record["ext"]["sdk"]["seq"]))
        by_type[record["name"]] += 1
    assert len(identities) == manifest.events_total
    assert dict(by_type) == manifest.events_by_type

    dead = _consume_all(kafka_bootstrap, collector["dlq"], manifest.invalid_total)
    assert len(dead) == manifest.invalid_total
    reasons = Counter(headers["reason"].decode() for _key, _value, headers in dead)
    assert dict(reasons) == manifest.invalid_by_reason
    assert all(headers["tenant"] == b"contoso" for _key, _value, headers in dead)
