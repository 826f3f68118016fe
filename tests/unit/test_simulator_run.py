"""run_simulation: NDJSON files, manifest, and the HTTP sender against a fake collector."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from simulator import Manifest, SimulationConfig, expected_reason, run_simulation
from simulator.simulation import DEFAULT_IKEY

START = datetime(2026, 3, 2, tzinfo=UTC)
CONFIG = SimulationConfig(devices=20, days=3, start=START, invalid_fraction=0.02, injections=())


class FakeCollector:
    """Answers like the collector: 429 with Retry-After on every 3rd request, per-line rejections."""

    def __init__(self) -> None:
        self.requests = 0
        self.lines: list[bytes] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        assert request.headers["apikey"] == "k"
        assert request.headers["Content-Type"] == "application/x-json-stream"
        if self.requests % 3 == 0:
            return web.Response(status=429, headers={"Retry-After": "0"})
        body = await request.read()
        if body[:2] == b"\x1f\x8b":  # aiohttp may already have decoded Content-Encoding
            body = gzip.decompress(body)
        lines = body.splitlines()
        assert len(lines) <= 500
        errors = []
        for n, line in enumerate(lines):
            reason = expected_reason(orjson.loads(line))
            if reason:
                errors.append({"line": n, "reason": reason})
            else:
                self.lines.append(line)
        return web.json_response({"acc": len(lines) - len(errors), "rej": len(errors), "errors": errors})


@pytest.fixture
def collector() -> Iterator[tuple[str, FakeCollector]]:
    fake = FakeCollector()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/v1/events", fake.handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps it private
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", fake
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_files_and_manifest(tmp_path: Path) -> None:
    manifest = run_simulation(
        CONFIG, collector_url=None, api_key="k", out_dir=tmp_path, ikey=DEFAULT_IKEY, progress_every=0
    )
    lines = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("events-*.ndjson"))).splitlines()
    assert len(lines) == manifest.events_total + manifest.invalid_total
    assert Manifest.read(tmp_path / "manifest.json") == manifest
    assert manifest.files == ["events-00000.ndjson"]


def test_http_counts_acc_and_rej_and_retries(collector: tuple[str, FakeCollector]) -> None:
    url, fake = collector
    manifest = run_simulation(
        CONFIG, collector_url=url, api_key="k", out_dir=None, ikey=DEFAULT_IKEY, progress_every=0
    )
    send = manifest.send
    assert send is not None
    assert send.acc == manifest.events_total == len(fake.lines)
    assert send.rej == manifest.invalid_total > 0
    assert send.rejected_by_reason == manifest.invalid_by_reason
    assert send.retries > 0
    assert send.failed_batches == 0
    # one lane per device: each device's records arrive in seq order within an epoch
    last: dict[tuple[str, str], int] = {}
    for line in fake.lines:
        rec = orjson.loads(line)
        key = (rec["ext"]["device"]["localId"], rec["ext"]["sdk"]["epoch"])
        assert rec["ext"]["sdk"]["seq"] == last.get(key, rec["ext"]["sdk"]["seq"] - 1) + 1
        last[key] = rec["ext"]["sdk"]["seq"]
