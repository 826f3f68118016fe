"""fleetpulse's own processor worker (``fleetpulse process``) on the peers' topic.

The worker runs as a child process with fresh topic names, app id, metrics port and data
directory (its working directory too, where faust keeps its local files). Its rate is read from
its ``/metrics``: ``fleetpulse_processor_events_total{step="device_state"}`` (events through
stage 1), from the first counted event to the N-th. It does every aggregate, not only the
compared one (all event types, every scope, device state, changelog, emitted aggregates).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from deploy.kafka import create_topics, free_port

COUNTER = 'fleetpulse_processor_events_total{step="device_state"}'


def processed(url: str) -> float:
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(COUNTER):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def run_worker(bootstrap: str, topic: str, events: int, timeout_s: float, workdir: Path) -> float:
    """Events/s of one worker run over ``events`` messages of ``topic``; raises on failure."""
    tag = uuid.uuid4().hex[:8]
    home = workdir / f"worker-{tag}"
    home.mkdir(parents=True)
    port = free_port()
    names = {
        "TOPIC_AGGREGATES": f"bench.w.aggregates.{tag}", "TOPIC_REGRESSIONS": f"bench.w.regressions.{tag}",
        "TOPIC_DLQ": f"bench.w.dlq.{tag}", "TOPIC_DEVICE_DAILY": f"bench.w.device-daily.{tag}",
        "TOPIC_BASELINES": f"bench.w.baselines.{tag}",
    }  # fmt: skip
    create_topics(
        bootstrap, {names["TOPIC_AGGREGATES"]: 6, names["TOPIC_REGRESSIONS"]: 1, names["TOPIC_DLQ"]: 1}
    )
    env = {
        **os.environ,
        **{f"FLEETPULSE_{k}": v for k, v in names.items()},
        "FLEETPULSE_KAFKA_BOOTSTRAP": bootstrap,
        "FLEETPULSE_TOPIC_EVENTS": topic,
        "FLEETPULSE_PROCESSOR_APP_ID": f"bench-worker-{tag}",
        "FLEETPULSE_PROCESSOR_METRICS_PORT": str(port),
        "FLEETPULSE_DATA_DIR": str(home),
        "FLEETPULSE_LOG_LEVEL": "WARNING",
    }
    url = f"http://127.0.0.1:{port}"
    with (home / "worker.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleetpulse.cli", "process"], env=env, cwd=home, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            return _time_it(proc, url, events, timeout_s, home)
        finally:
            stop(proc)


def _time_it(proc: subprocess.Popen[bytes], url: str, events: int, timeout_s: float, home: Path) -> float:
    deadline = time.monotonic() + timeout_s
    first_t, first_n = 0.0, 0.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}; see {home / 'worker.log'}")
        n = processed(url)
        now = time.perf_counter()
        if n > 0 and not first_t:
            first_t, first_n = now, n
        if n >= events:
            if now <= first_t:
                raise RuntimeError("the worker counted everything in one scrape; too few events")
            return (n - first_n) / (now - first_t)
        time.sleep(0.1)
    raise TimeoutError(f"the worker did not process {events} events in {timeout_s:.0f} s; see {home}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
