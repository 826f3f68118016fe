"""A real stack for the browser tests, once per module: Kafka, the sink owning an embedded store,
the console (both started by :class:`fleetpulse.stack.LocalStack`, as ``fleetpulse up`` does), a
simulated fleet, two regressions on the regressions topic, and a headless Chromium.

The fleet's events go to ``telemetry.events.v1`` as the collector would leave them (stamped with
the tenant); the regressions in the processors' wire form, so their figures are known exactly.
Chromium is Debian's (``./dev test`` installs it), driven by Playwright; screenshots go to
``out/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from fleetpulse.settings import Settings, load_settings
from fleetpulse.stack import LocalStack
from simulator.config import SimulationConfig
from simulator.run import run_simulation
from tests.integration.conftest import produce, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
ADMIN_TOKEN = "fp-test-admin-" + uuid.uuid4().hex
READER_TOKEN = "fp-test-reader-" + uuid.uuid4().hex
TENANT = "contoso"
WIDTHS = (1280, 390)


@dataclass(frozen=True)
class ConsoleStack:
    settings: Settings
    url: str  # the console
    sink_url: str
    regressions: list[dict[str, Any]]


def _stamp(line: bytes, received: str) -> tuple[bytes, bytes]:
    """A simulator record as the collector produces it: ``ext.ingest`` names the tenant."""
    record = orjson.loads(line)
    record["ext"]["ingest"] = {"time": received, "clientIp": "127.0.0.1", "tenant": TENANT}
    return record["ext"]["device"]["localId"].lower().encode(), orjson.dumps(record)


def regression(i: int, scope_type: str, scope: str, metric: str, base: float, cur: float) -> dict[str, Any]:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=5)
    return {
        "tenant": TENANT, "regression_id": f"r-test-{i}", "status": "open", "scope_type": scope_type,
        "scope": scope, "metric": metric, "baseline_name": "rolling", "baseline_value": base,
        "current_value": cur, "change_pct": (cur - base) / base * 100.0, "devices_baseline": 20 + i,
        "devices_current": 10 + i, "test": "van_elteren", "p_value": 0.001 * (i + 1),
        "started_at": start.isoformat().replace("+00:00", "Z"),
        "detected_at": (start + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "causes": [{"change_id": f"drv:test-{i}", "change_name": f"Test driver {i}",
                    "prevalence_affected": 0.9, "prevalence_unaffected": 0.1, "lift": 9.0}],
    }  # fmt: skip


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    data_dir = tmp_path_factory.mktemp("console")
    tag = uuid.uuid4().hex[:8]
    env = {
        "FLEETPULSE_DATA_DIR": str(data_dir),
        "FLEETPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FLEETPULSE_TOPIC_EVENTS": f"ev.{tag}",
        "FLEETPULSE_TOPIC_AGGREGATES": f"agg.{tag}",
        "FLEETPULSE_TOPIC_REGRESSIONS": f"reg.{tag}",
        "FLEETPULSE_TOPIC_DLQ": f"dlq.{tag}",
        "FLEETPULSE_PARTITIONS_EVENTS": "2",
        "FLEETPULSE_SINK_GROUP_ID": f"sink-{tag}",
        "FLEETPULSE_SINK_PORT": str(_free_port()),
        "FLEETPULSE_CONSOLE_PORT": "0",
        # the fleet does not change once loaded: pages reuse their reads, as the console does live
        "FLEETPULSE_CONSOLE_CACHE_S": "600",
        "FLEETPULSE_ANALYST_TOKENS": json.dumps(
            {
                ADMIN_TOKEN: {"name": "ada", "tenant": TENANT, "role": "admin"},
                READER_TOKEN: {"name": "rex", "tenant": TENANT, "role": "reader"},
            }
        ),
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        settings = load_settings()
        fleet = data_dir / "fleet"
        config = SimulationConfig(
            seed=17, devices=40, days=14, heartbeat_every_hours=24, resource_every_hours=24,
            battery_every_hours=24,
        )  # fmt: skip
        run_simulation(config, collector_url=None, api_key="-", out_dir=fleet, ikey="o:" + "0" * 32)
        with LocalStack(settings, with_pipeline=False) as endpoints:
            received = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            lines = [ln for f in sorted(fleet.glob("events-*.ndjson")) for ln in f.read_bytes().splitlines()]
            produce(kafka_bootstrap, settings.topic_events, (_stamp(ln, received) for ln in lines))
            regs = [
                regression(1, "model", "Dell Inc.|Latitude 7440", "core_boot_ms", 11_000.0, 14_300.0),
                regression(2, "os_build", "10.0.22631.4317", "core_logon_ms", 6_000.0, 6_900.0),
            ]
            produce(kafka_bootstrap, settings.topic_regressions, ((None, orjson.dumps(r)) for r in regs))
            sink = _reader(endpoints["sink"])
            wait_for(lambda: _raw_rows(sink, settings) >= len(lines), 90, "the fleet in ClickHouse")
            wait_for(lambda: _regressions(sink, settings) >= len(regs), 30, "the regressions in ClickHouse")
            yield ConsoleStack(settings, endpoints["console"], endpoints["sink"], regs)


def _free_port() -> int:
    from deploy.kafka import free_port

    return free_port()


def _reader(url: str) -> Any:
    from sinks.reader import RemoteReader

    return RemoteReader(url, timeout_s=30)


def _raw_rows(reader: Any, settings: Settings) -> int:
    from sinks.migrations.m0001_raw_events import FAMILIES

    db = settings.clickhouse_database
    union = " UNION ALL ".join(f"SELECT count() AS n FROM {db}.{t}" for t in FAMILIES)
    return int(reader.query_json(f"SELECT sum(n) AS n FROM ({union})")[0]["n"])


def _regressions(reader: Any, settings: Settings) -> int:
    db = settings.clickhouse_database
    return int(reader.query_json(f"SELECT count() AS n FROM {db}.regressions FINAL")[0]["n"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: ./dev test installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def screenshot_path(name: str, width: int) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}-{width}.png"


def console_env() -> dict[str, str]:
    return dict(os.environ)
