"""Benchmark of the Endpoint analytics reports: ``python -m bench.reports_ea [--devices N --days D]``.

Simulates a fleet (the demo's 300 devices × 21 days by default), writes it straight into a fresh
embedded store (decoded and turned into rows exactly as the sink does; not timed), then builds each
report in-process through the tenant-scoped reader, ``--repeat`` times, and prints the median and
every run, with the existing ``startup`` and ``apps`` reports measured in the same run for the
ratio. With ``--print`` it also prints each new report as ``fleetpulse report <name>`` would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from fleetpulse.reports.build import REPORTS, make_filters
from fleetpulse.reports.ea import EA_REPORTS
from fleetpulse.reports.text_ea import EA_RENDERERS
from fleetpulse.settings import load_settings
from schemas import decode
from simulator import Simulation, SimulationConfig
from sinks.clickhouse import open_backend
from sinks.migrations import migrate
from sinks.reader import ScopedReader
from sinks.rows import RAW_COLUMNS, rows_for_event


def load(directory: Path, devices: int, days: int, seed: int) -> int:
    """Simulate and insert the fleet as tenant ``contoso``; returns the events stored."""
    settings = load_settings(data_dir=directory, clickhouse_url=f"chdb://{directory / 'store'}")
    backend = open_backend(settings.clickhouse_url_resolved)
    migrate(backend, settings)
    now = dt.datetime.now(dt.UTC)
    stamp = {"time": now.isoformat().replace("+00:00", "Z"), "clientIp": "127.0.0.1", "tenant": "contoso"}
    n = 0
    try:
        for batch in Simulation(SimulationConfig(seed=seed, devices=devices, days=days)).batches():
            by_table: dict[str, list[tuple[object, ...]]] = {}
            for rec in batch:
                decode(orjson.dumps(rec), received_at=now)  # the collector's checks
                rec["ext"]["ingest"] = stamp
                table, row = rows_for_event(orjson.dumps(rec), 0, n)
                by_table.setdefault(table, []).append(row)
                n += 1
            for table, rows in by_table.items():
                backend.insert(f"fleetpulse.{table}", RAW_COLUMNS[table], rows)
    finally:
        backend.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--print", dest="show", action="store_true", help="print each new report")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ea-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        events = load(directory, args.devices, args.days, args.seed)
        print(f"{events:,} events of {args.devices} devices x {args.days} days stored in "
              f"{time.perf_counter() - started:.0f} s (not timed below)")  # fmt: skip
        settings = load_settings(data_dir=directory, clickhouse_url=f"chdb://{directory / 'store'}")
        backend = open_backend(settings.clickhouse_url_resolved)
        try:
            reader = ScopedReader(backend, "contoso", settings)
            flt = make_filters(reader, tenant="contoso")
            for name in ("startup", "apps", *EA_REPORTS):
                build = REPORTS.get(name) or EA_REPORTS[name]
                runs = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    doc = build(reader, flt)
                    runs.append(time.perf_counter() - t)
                print(
                    f"{name:18s} median {statistics.median(runs):6.2f} s   runs "
                    + ", ".join(f"{r:.2f}" for r in runs)
                )
                if args.show and name in EA_RENDERERS:
                    print(EA_RENDERERS[name](doc), end="\n\n")
        finally:
            backend.close()


if __name__ == "__main__":
    main()
