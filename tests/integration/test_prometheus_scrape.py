"""A real Prometheus server scraping a real collector process (on the session's Kafka broker).

The collector runs as ``python -m fleetpulse.cli collector`` on a free port; Prometheus (Debian's
package) scrapes it every second with the project's rules loaded. Through Prometheus' HTTP API
the test checks that the target is up, that the key series exist, and that they move by exactly
what was posted: records received, accepted, and rejected by reason word.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from deploy.kafka import free_port
from fleetpulse.settings import DEMO_API_KEY
from ingest.records import fresh_record
from schemas.examples import load_examples

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
JOB = "fleetpulse-collector"
PREFIX = "fleetpulse_collector_"


def _collector_command() -> list[str]:
    from fleetpulse.cli import cli

    if "collector" in cli.commands:
        return [sys.executable, "-m", "fleetpulse.cli", "collector"]
    script = (
        "from fleetpulse.settings import load_settings; from ingest.main import run_collector; "
        "run_collector(load_settings())"
    )
    return [sys.executable, "-c", script]


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        status: int = resp.status
        return status, resp.read()


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if predicate():
                return
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{tail}")


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class PrometheusServer:
    """``prometheus`` on a free loopback port with a temp config and storage; ``query`` via HTTP API."""

    def __init__(self, binary: str, workdir: Path, targets: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        jobs = "".join(
            f'  - job_name: {job}\n    static_configs: [{{targets: ["{target}"]}}]\n'
            for job, target in targets.items()
        )
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {RULES}/*.yml\nscrape_configs:\n{jobs}"
        )
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=out,
                stderr=out,
            )
        _wait(self._ready, 60, "Prometheus /-/ready", self.log)

    def _ready(self) -> bool:
        assert self.proc.poll() is None, f"prometheus exited {self.proc.returncode}"
        return _get(f"{self.url}/-/ready")[0] == 200

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        _status, body = _get(url)
        answer = orjson.loads(body)
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single sample's value, None when the query returns nothing."""
        result = self.query(promql)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def by_label(self, promql: str, label: str) -> dict[str, float]:
        return {sample["metric"][label]: float(sample["value"][1]) for sample in self.query(promql)}

    def rule_groups(self) -> list[str]:
        _status, body = _get(f"{self.url}/api/v1/rules")
        return [group["name"] for group in orjson.loads(body)["data"]["groups"]]

    def close(self) -> None:
        _stop(self.proc)


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    # ./dev test installs Debian's `prometheus` package; try the same when running as root
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "prometheus"], env=env, capture_output=True, check=False
        )
        found = shutil.which("prometheus")
    if found is None:
        pytest.skip("the prometheus server is missing and cannot be installed here (not root / no apt)")
    return found


@pytest.fixture
def collector(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """A collector process on a free port: yields (base url, host:port)."""
    port = free_port()
    env = {
        **os.environ,
        "FLEETPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FLEETPULSE_COLLECTOR_HOST": "127.0.0.1",
        "FLEETPULSE_COLLECTOR_PORT": str(port),
        "FLEETPULSE_TOPIC_EVENTS": new_topic(3, "events"),
        "FLEETPULSE_TOPIC_DLQ": new_topic(1, "dlq"),
        "FLEETPULSE_DATA_DIR": str(tmp_path / "data"),
        "FLEETPULSE_COLLECTOR_SHUTDOWN_TIMEOUT_S": "10",
    }
    log = tmp_path / "collector.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(_collector_command(), env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            assert proc.poll() is None, f"collector exited {proc.returncode}:\n{log.read_text()[-3000:]}"
            return _get(f"{url}/healthz")[0] == 200

        _wait(healthy, 60, "collector /healthz", log)
        yield url, f"127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture
def prometheus(
    prometheus_binary: str, collector: tuple[str, str], tmp_path: Path
) -> Iterator[PrometheusServer]:
    server = PrometheusServer(prometheus_binary, tmp_path / "prometheus", {JOB: collector[1]})
    try:
        yield server
    finally:
        server.close()


def _exists(prometheus: PrometheusServer, series: str) -> bool:
    return bool(prometheus.query(series))


def post(url: str, lines: list[bytes]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/v1/events",
        data=b"\n".join(lines),
        method="POST",
        headers={"apikey": DEMO_API_KEY, "Content-Type": "application/x-json-stream"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.status == 200
        answer: dict[str, Any] = orjson.loads(resp.read())
        return answer


def good_records(n: int, first_device: int) -> list[bytes]:
    """``n`` distinct valid records cycling through every example type, each its own device/seq."""
    names = sorted(load_examples())
    return [
        orjson.dumps(fresh_record(names[i % len(names)], device=first_device + i, seq=1 + i % 7))
        for i in range(n)
    ]


def bad_records(first_device: int) -> list[bytes]:
    """Records the collector must reject, for different reasons."""
    missing = fresh_record("Fleet.Boot.Performance", device=first_device, seq=1)
    del missing["data"]
    wrong_ikey = fresh_record("Fleet.Boot.Performance", device=first_device + 1, seq=1)
    wrong_ikey["iKey"] = "o:" + "0" * 32
    return [b"{not json", b"[1, 2, 3]", orjson.dumps(missing), orjson.dumps(wrong_ikey)]


def test_prometheus_scrapes_the_collector_and_its_counters_move(
    prometheus: PrometheusServer, collector: tuple[str, str]
) -> None:
    url, _target = collector
    sel = f'{{job="{JOB}"}}'

    _wait(lambda: prometheus.value(f"up{sel}") == 1.0, 30, "up == 1 for the collector")
    assert "fleetpulse.recording" in prometheus.rule_groups()
    assert "fleetpulse.alerts" in prometheus.rule_groups()
    for name in ("records_received_total", "records_accepted_total", "dlq_records_total", "kafka_healthy"):
        series = f"{PREFIX}{name}{sel}"
        _wait(functools.partial(_exists, prometheus, series), 15, series)
    assert prometheus.value(f"{PREFIX}kafka_healthy{sel}") == 1.0

    def counter(name: str) -> float:
        return prometheus.value(f"{PREFIX}{name}_total{sel}") or 0.0

    def rejected() -> dict[str, float]:
        return prometheus.by_label(f"{PREFIX}records_rejected_total{sel}", "reason")

    base_device = random.randrange(10**6, 10**9)
    expected_rejected: Counter[str] = Counter()
    received, accepted = counter("records_received"), counter("records_accepted")
    assert (received, accepted) == (0.0, 0.0)

    for round_no, n_good in enumerate((37, 23)):
        device = base_device + 1000 * round_no
        good, bad = good_records(n_good, device), bad_records(device + 500)
        lines = good[:10] + bad + good[10:]
        random.Random(round_no).shuffle(lines)
        answer = post(url, lines)
        assert (answer["acc"], answer["rej"]) == (n_good, len(bad)), answer
        expected_rejected.update(error["reason"] for error in answer["errors"])
        received += len(lines)
        accepted += n_good

        def moved(want_received: float = received, want_accepted: float = accepted) -> bool:
            return (
                counter("records_received") == want_received
                and counter("records_accepted") == want_accepted
                and rejected() == {reason: float(n) for reason, n in expected_rejected.items()}
            )

        _wait(moved, 30, f"round {round_no}: Prometheus to see exactly the posted counts")
        assert counter("records_received") == received
        assert counter("records_accepted") == accepted
        assert sum(rejected().values()) == received - accepted
        dlq_expected = received - accepted
        _wait(lambda: counter("dlq_records") == dlq_expected, 15, "DLQ records")  # noqa: B023  # waited here

    assert len(expected_rejected) >= 2, f"expected several reason words, got {expected_rejected}"
    assert prometheus.value(f'{PREFIX}requests_total{{job="{JOB}", code="200"}}') == 2.0
    # the recording rules evaluate against the live series
    _wait(
        lambda: bool(prometheus.query("fleetpulse:collector_records_rejected_by_reason:rate5m")),
        15,
        "the recording rule fleetpulse:collector_records_rejected_by_reason:rate5m",
    )
