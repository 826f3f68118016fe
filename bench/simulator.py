"""Generation benchmark: ``python -m bench.simulator [--devices N] [--days D]``.

Prints events/s and MB/s for generating records and serializing them to NDJSON bytes with
orjson on one core (no I/O).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import orjson

from simulator.config import SimulationConfig
from simulator.simulation import Simulation


def bench(devices: int, days: int, seed: int = 42) -> tuple[int, int, float]:
    """(events, bytes, seconds) for one run."""
    config = SimulationConfig(
        seed=seed, devices=devices, days=days, start=datetime(2026, 3, 2, tzinfo=UTC), injections=None
    )
    t0 = time.perf_counter()
    sim = Simulation(config)
    events = size = 0
    dumps = orjson.dumps
    for batch in sim.batches():
        size += sum(len(dumps(rec)) + 1 for rec in batch)
        events += len(batch)
    return events, size, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()
    events, size, sec = bench(args.devices, args.days)
    print(
        f"simulator bench: {args.devices} devices x {args.days} days -> {events:,} events, "
        f"{size / 1e6:,.1f} MB NDJSON in {sec:.2f} s = {events / sec:,.0f} events/s, "
        f"{size / 1e6 / sec:,.1f} MB/s"
    )


if __name__ == "__main__":
    main()
