"""``fleetpulse bench``: end-to-end and per-stage figures, with peers measured in the same run.

parse -> settings -> pre-generate the fleet (not timed) -> Kafka (the configured broker, or a
local one) -> e2e on the local stack (steps, latency, storage, sink) -> peers on the same
broker -> memory -> accuracy -> table (and ``--json PATH``). See docs/benchmark.md.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from bench.accuracy import percentile_error
from bench.e2e import E2EResult, Lines, optimize, run_steps, sink_rate, storage, top_columns
from bench.fleet import Fleet, generate
from bench.memory import rss_mb_per_million
from bench.peers import PEERS, WORKER, run_peers
from bench.report import render
from bench.stack import BenchStack, processor_worker_ready, rss_mb
from deploy.kafka import LocalKafka
from fleetpulse.settings import Settings, load_settings


@dataclass(frozen=True)
class Plan:
    """Sizes of one run; ``QUICK`` fits in 5 minutes on 2 cores, ``FULL`` takes ~15."""

    devices: int
    days: int
    start_rate: float
    factor: float
    step_s: float
    max_steps: int
    flood_events: int
    latency_s: float
    sink_events: int
    peer_events: int
    peer_rounds: int
    peer_timeout_s: float
    memory_devices: tuple[int, int]
    worker_events: int = 100_000  # the worker peer is timed over at most this many events


QUICK = Plan(4000, 4, 2000, 1.6, 5, 6, 30_000, 8, 60_000, 100_000, 1, 120, (50_000, 100_000), 20_000)
FULL = Plan(12_000, 5, 2000, 1.25, 20, 12, 150_000, 30, 200_000, 400_000, 3, 600, (200_000, 400_000))
TINY = Plan(1500, 2, 500, 2.0, 2, 1, 2_000, 2, 2_000, 3_000, 1, 120, (2_000, 4_000), 3_000)


def _say(message: str) -> None:
    click.echo(f"[bench] {message}", err=True)


@contextmanager
def _broker(settings: Settings, data_dir: Path) -> Iterator[str]:
    if settings.kafka_bootstrap:
        yield settings.kafka_bootstrap
        return
    broker = LocalKafka(
        data_dir=data_dir / "kafka", version=settings.kafka_version, heap_mb=settings.kafka_heap_mb,
        partitions=settings.partitions_events,
    )  # fmt: skip
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def _e2e(plan: Plan, fleet: Fleet, bootstrap: str, data_dir: Path) -> tuple[E2EResult, float]:
    lines = Lines(fleet)
    with BenchStack(data_dir / "stack", bootstrap) as stack:
        _say(f"stack up: {stack.endpoints} (processor in the path: {stack.processor_in_path})")
        result = asyncio.run(
            run_steps(
                stack, lines, start_rate=plan.start_rate, factor=plan.factor, step_s=plan.step_s,
                max_steps=plan.max_steps, drain_s=max(10.0, plan.step_s), flood_events=plan.flood_events,
                latency_s=plan.latency_s,
            )
        )  # fmt: skip
        _say("sink alone: fresh events produced straight to its topic")
        rest = fleet.lines[lines.pos : lines.pos + plan.sink_events]
        result.sink_rows_per_s = sink_rate(stack, rest)
        result.rss_mb = {name: rss_mb(pid) for name, pid in stack.pids().items()}
        optimize(stack.sink_url, ("boot_events", "app_crashes"))
        result.storage = storage(stack.sink_url, fleet)
        result.top_columns = top_columns(stack.sink_url, ("boot_events", "app_crashes"))
    return result, time.time()


def run_bench(settings: Settings, plan: Plan, peers: tuple[str, ...], keep: bool = False) -> dict[str, Any]:
    """Every measurement of one run; the JSON document (see docs/benchmark.md for each key)."""
    load_before = os.getloadavg()
    started = time.time()
    data_dir = Path(tempfile.mkdtemp(prefix="fleetpulse-bench-"))
    t0 = time.perf_counter()
    fleet = generate(plan.devices, plan.days)
    took = time.perf_counter() - t0
    _say(f"fleet: {plan.devices:,} devices x {plan.days} days = {len(fleet):,} events "
         f"({fleet.json_bytes_per_event():.0f} JSON bytes each), generated in {took:.1f} s")  # fmt: skip
    try:
        with _broker(settings, data_dir) as bootstrap:
            e2e, _ = _e2e(plan, fleet, bootstrap, data_dir)
            _say("peers: same topic, same aggregation, one at a time")
            runs = run_peers(
                bootstrap, fleet.lines[: plan.peer_events], plan.peer_rounds, plan.peer_timeout_s, peers
            )
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    _say("memory: per-device state in a fresh process")
    mb_per_million, bytes_per_device, record_bytes = rss_mb_per_million(*plan.memory_devices)
    _say("accuracy: sketch percentiles against numpy")
    max_err, cells = percentile_error(fleet.lines)
    peer_rates = {name: r.median for name, r in runs.items()}
    worker = peer_rates.get(WORKER, 0.0)
    ours = worker or peer_rates.get("fleetpulse", 0.0)
    bc = [e2e.storage[t] for t in ("boot_events", "app_crashes") if t in e2e.storage]
    bc_rows = sum(s["rows"] for s in bc)
    bc_bytes = sum(s["rows"] * s["bytes_per_event"] for s in bc)
    bc_json = sum(s["rows"] * s["json_bytes_per_event"] for s in bc)
    doc: dict[str, Any] = {
        "date": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "load_avg_before": load_before,
            "load_avg_after": os.getloadavg(),
        },
        "plan": asdict(plan),
        "events_generated": len(fleet),
        "end_to_end_events_per_s": e2e.max_sustained,
        "p50_event_to_queryable_s": e2e.p50_s,
        "p99_event_to_queryable_s": e2e.p99_s,
        "latency_offered_events_per_s": e2e.latency_rate,
        "latency_histogram_p50_s": e2e.hist_p50_s,
        "latency_histogram_p99_s": e2e.hist_p99_s,
        "bytes_per_event": bc_bytes / bc_rows if bc_rows else 0.0,
        "json_to_disk_ratio": bc_json / bc_bytes if bc_bytes else 0.0,
        "rss_mb_per_million_devices": mb_per_million,
        "rss_bytes_per_device": bytes_per_device,
        "rss_bytes_per_device_record_only": record_bytes,
        "percentile_max_rel_error": max_err,
        "percentile_cells_compared": cells,
        "processor_measured": "fleetpulse worker (fleetpulse process), every aggregate"
        if worker
        else "batched pure path (processors.aggregate + merge_into) inside a faust agent",
        "processor_in_e2e_path": e2e.processor_in_path,
        "stages": {
            "collector accept rate, flat out (events/s)": e2e.flood_accept_rate,
            "processor events/s per worker": ours,
            "sink rows/s (draining a backlog)": e2e.sink_rows_per_s,
            **{f"RSS {name} at end (MB)": mb for name, mb in e2e.rss_mb.items()},
        },
        "steps": [asdict(s) for s in e2e.steps],
        "storage": e2e.storage,
        "storage_top_columns": e2e.top_columns,
        "peers": peer_rates,
        "peer_runs": {name: {"rates": r.rates, "errors": r.errors} for name, r in runs.items()},
    }
    for name, rate in peer_rates.items():
        if not name.startswith("fleetpulse"):  # ours = the worker when it ran
            doc[f"ratio_to_{name}"] = ours / rate if rate else 0.0
    doc["median_note"] = f"peer figures: median of {plan.peer_rounds} round(s), run one at a time"
    return doc


@click.command("bench")
@click.option("--quick", is_flag=True, help="Smaller fleet and shorter steps: under 5 minutes.")
@click.option("--tiny", is_flag=True, hidden=True, help="The smallest configuration (smoke test).")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures."
)
@click.option(
    "--peer", "peers", multiple=True, type=click.Choice(sorted([*PEERS, WORKER])), help="Only these."
)
@click.option("--keep", is_flag=True, help="Keep the bench's data directory (stores, logs).")
@click.pass_context
def bench(ctx: click.Context, quick: bool, tiny: bool, json_path: Path | None, peers: tuple[str, ...],
          keep: bool) -> None:  # fmt: skip
    """End-to-end throughput, latency, storage, memory and accuracy, with peers side by side."""
    settings = ctx.obj if isinstance(ctx.obj, Settings) else load_settings()
    plan = TINY if tiny else QUICK if quick else FULL
    default = (*PEERS, WORKER) if processor_worker_ready() else tuple(PEERS)
    doc = run_bench(settings, plan, peers or default, keep)
    click.echo(render(doc))
    if json_path is not None:
        json_path.write_text(json.dumps(doc, indent=2, default=str))


if __name__ == "__main__":
    bench()
