"""Benchmark of the pure aggregation core: ``python -m bench.processor_pure [--events N]``.

Generates N synthetic validated events (≈45 % boot, 45 % sign-in, 10 % app crash) over 2 000
devices and one UTC day (time-ordered, as a stream arrives), then times
:func:`processors.aggregate.aggregate` in batches (and the merge of the batch partials into a
running total) and prints events/s, best of ``--repeat`` runs. The machine may be shared; the
median is printed too. Generation is not timed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from processors.aggregate import aggregate
from processors.device_state import DeviceCensus
from processors.partials import Partials, merge_into


def synthetic_events(
    n: int, n_devices: int = 2000, seed: int = 7
) -> tuple[list[dict[str, Any]], dict[str, DeviceCensus]]:
    """``n`` wire-shaped event dicts and a census for their devices (deterministic by seed)."""
    rng = np.random.default_rng(seed)
    devices = [f"s:{i:08X}-0000-4000-8000-{i:012X}" for i in range(n_devices)]
    models = [f"Maker{i % 4}|Model{i}" for i in range(12)]
    census = {
        d: DeviceCensus(
            models[i % 12], f"10.0.2263{i % 3}.1", ("ssd", "hdd")[i % 7 == 0], ("domain", "entra")[i % 2]
        )
        for i, d in enumerate(devices)
    }
    dev = rng.integers(0, n_devices, n)
    kind = rng.choice(3, size=n, p=[0.45, 0.45, 0.10])
    secs = np.sort(rng.integers(0, 86_400, n))  # a stream arrives roughly in time order
    core = rng.lognormal(9.3, 0.4, n).astype(np.int64) + 1
    gp = rng.lognormal(7.5, 0.8, n).astype(np.int64)
    events: list[dict[str, Any]] = []
    for i in range(n):
        s = int(secs[i])
        t = f"2026-03-11T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}.{i % 1000:03d}Z"
        k = int(kind[i])
        if k == 0:
            data: dict[str, Any] = {
                "schemaVersion": 1,
                "bootId": i,
                "isRebootAfterUpdate": False,
                "coreBootMs": int(core[i]),
                "gpBootMs": int(gp[i]),
                "updateMs": 0,
                "totalBootMs": int(core[i] + gp[i] + 9000),
            }
            name = "Fleet.Boot.Performance"
        elif k == 1:
            data = {
                "schemaVersion": 1,
                "coreLogonMs": int(core[i] // 2),
                "gpLogonMs": int(gp[i]),
                "desktopShownMs": int(core[i] // 2 + gp[i]),
                "totalLogonMs": int(core[i] + gp[i]),
                "isFirstLogonForUser": i % 50 == 0,
                "isAfterFeatureUpdate": False,
                "userType": "ad",
            }
            name = "Fleet.Logon.Performance"
        else:
            data = {
                "schemaVersion": 1,
                "appName": f"app{i % 20}.exe",
                "appVersion": f"1.{i % 3}",
                "isFatal": True,
            }
            name = "Fleet.Fault.AppCrash"
        events.append(
            {"name": name, "time": t, "ext": {"device": {"localId": devices[int(dev[i])]}}, "data": data}
        )
    return events, census


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events, census = synthetic_events(args.events)
    runs: list[tuple[float, float]] = []
    total = Partials()
    for _ in range(args.repeat):
        t_agg = 0.0
        t0 = time.perf_counter()
        crash: dict[tuple[str, str, int], int] = {}
        total = Partials()
        for i in range(0, len(events), args.batch):
            t1 = time.perf_counter()
            part, crash = aggregate(events[i : i + args.batch], census, crash)
            t_agg += time.perf_counter() - t1
            merge_into(total, part, consume=True)
        runs.append((t_agg, time.perf_counter() - t0))
    n = len(events)
    best_agg, best_all = min(r[0] for r in runs), min(r[1] for r in runs)
    med_all = sorted(r[1] for r in runs)[len(runs) // 2]
    print(
        f"events={n} batch={args.batch} repeats={args.repeat} "
        f"metric_keys={len(total.metrics)} app_keys={len(total.apps)}"
    )
    print(f"aggregate only:        {n / best_agg:,.0f} events/s (best)")
    print(f"aggregate + merge:     {n / best_all:,.0f} events/s (best), {n / med_all:,.0f} events/s (median)")


if __name__ == "__main__":
    main()
