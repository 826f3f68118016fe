"""``run_simulation``: generate a fleet's records, write NDJSON and/or POST them, return the truth.

The CLI (``fleetpulse simulate``) is a thin shell over this function.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import orjson

from simulator.config import SimulationConfig
from simulator.files import NdjsonWriter
from simulator.http import SendOptions, send_stream, split_lanes
from simulator.manifest import Manifest, SendStats
from simulator.simulation import Simulation


class Progress:
    """A progress line on ``stream`` at most every ``every`` seconds (0: silent)."""

    def __init__(self, total_device_days: int, every: float, stream: TextIO = sys.stderr) -> None:
        self.every, self.stream, self.total = every, stream, total_device_days
        self.start = self.last = time.monotonic()
        self.events = 0

    def tick(self, events: int, day: int) -> None:
        self.events += events
        now = time.monotonic()
        if self.every > 0 and now - self.last >= self.every:
            self.last = now
            rate = self.events / max(now - self.start, 1e-9)
            print(f"simulate: day {day} events {self.events:,} ({rate:,.0f}/s)", file=self.stream, flush=True)


def _serialize(batch: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    dumps = orjson.dumps
    return [(rec["ext"]["device"]["localId"], dumps(rec)) for rec in batch]


def run_simulation(
    config: SimulationConfig,
    *,
    collector_url: str | None,
    api_key: str,
    out_dir: Path | None,
    ikey: str,
    lanes: int = 4,
    gzip: bool = True,
    progress_every: float = 5.0,
) -> Manifest:
    """Run the simulation; write ``out_dir/events-*.ndjson`` and ``out_dir/manifest.json`` when
    ``out_dir`` is given, POST to ``collector_url`` (base URL or the full ``/v1/events`` URL)
    when given. Returns the manifest (with the collector's acc/rej counts in ``send``)."""
    sim = Simulation(config, ikey)
    writer = NdjsonWriter(out_dir) if out_dir is not None else None
    progress = Progress(config.devices * config.days, progress_every)
    batches = sim.batches()

    def next_lines() -> list[tuple[str, bytes]] | None:
        batch = next(batches, None)
        if batch is None:
            return None
        lines = _serialize(batch)
        if writer is not None:
            writer.write([line for _, line in lines])
        progress.tick(len(lines), sim.day)
        return lines

    stats: SendStats | None = None
    try:
        if collector_url:
            opts = SendOptions(url=_events_url(collector_url), api_key=api_key, lanes=lanes, gzip=gzip)
            stats = SendStats()

            def next_chunk() -> list[list[list[bytes]]] | None:
                lines = next_lines()
                return None if lines is None else split_lanes(lines, opts)

            asyncio.run(send_stream(next_chunk, opts, stats))
        else:
            for _ in iter(next_lines, None):
                pass
    finally:
        if writer is not None:
            writer.close()
    manifest = sim.manifest()
    manifest.send = stats
    if writer is not None and out_dir is not None:
        manifest.files = [p.name for p in writer.paths]
        manifest.write(out_dir / "manifest.json")
    return manifest


def _events_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1/events") else f"{url}/v1/events"
