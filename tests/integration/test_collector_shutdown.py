"""``run_collector`` as a process: serves, answers /healthz once Kafka answers, and on SIGTERM
finishes, flushes and exits 0 within its deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import orjson
import pytest

from deploy.kafka import free_port
from ingest.records import fresh_record
from tests.integration.test_collector_hostile import consume, get, identity, post

pytestmark = pytest.mark.kafka

SCRIPT = (
    "from fleetpulse.settings import load_settings; from ingest.main import run_collector; "
    "run_collector(load_settings())"
)


def test_sigterm_drains_and_exits_cleanly(kafka_bootstrap: str, new_topic: Callable[..., str]) -> None:
    port = free_port()
    topic = new_topic(3, "events")
    env = {
        **os.environ,
        "FLEETPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FLEETPULSE_COLLECTOR_PORT": str(port),
        "FLEETPULSE_TOPIC_EVENTS": topic,
        "FLEETPULSE_TOPIC_DLQ": new_topic(1, "dlq"),
        "FLEETPULSE_COLLECTOR_SHUTDOWN_TIMEOUT_S": "10",
    }
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(url, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "collector never became healthy"
            time.sleep(0.2)
        records = [
            orjson.dumps(fresh_record("Fleet.Boot.Performance", device=77, seq=s)) for s in range(1, 51)
        ]
        status, _, answer = post(url, b"\n".join(records))
        assert (status, answer["acc"]) == (200, 50)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert time.monotonic() - started < 12
    finally:
        if proc.poll() is None:
            proc.kill()
    events = consume(kafka_bootstrap, topic, expected=50)
    assert sorted(identity(m.value()) for m in events) == sorted(identity(r) for r in records)
