"""Benchmark one processors worker on the dev broker: ``python -m bench.processor_worker``.

Pre-produces the simulated fleet (``--devices``, ``--days``) once per run to fresh topics, starts
one worker (``python -m processors.cli process``) and measures from its first to its last stage-1
batch (from the JSON logs); prints events/s per run and the median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from tests.integration.processors_harness import (
    produce_fleet,
    sim_config,
    start_worker,
    stop_worker,
    topics_env,
)


def one_run(bootstrap: str, devices: int, days: int, batch: int) -> tuple[int, float]:
    env = {
        **topics_env(bootstrap),
        "FLEETPULSE_PROCESSOR_BATCH_MAX": str(batch),
        "FLEETPULSE_LOG_LEVEL": "WARNING",
    }
    _, n = produce_fleet(bootstrap, env["FLEETPULSE_TOPIC_EVENTS"], sim_config(devices=devices, days=days))
    log = Path(tempfile.mkdtemp()) / "worker.log"
    env["FLEETPULSE_LOG_LEVEL"] = "INFO"
    worker = start_worker(env, log)
    first = last = 0.0
    done = 0
    try:
        deadline = time.monotonic() + 1800
        while done < n and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(1.0)
            done, first, last = 0, 0.0, 0.0
            for line in log.read_bytes().splitlines():
                if line.startswith(b"{") and b'"msg": "batch"' in line:
                    d = orjson.loads(line)
                    done += d["processed"]
                    first = (
                        first
                        or d["time"] - d["device_state_s"] - d["aggregate_s"] - d["merge_s"] - d["emit_s"]
                    )
                    last = d["time"]
    finally:
        stop_worker(worker)
    return done, last - first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bootstrap", default="127.0.0.1:19092")
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rates = []
    for i in range(args.runs):
        n, secs = one_run(args.bootstrap, args.devices, args.days, args.batch)
        rates.append(n / secs if secs > 0 else 0.0)
        print(f"run {i + 1}: {n} events in {secs:.1f} s = {rates[-1]:,.0f} events/s (one worker)")
    print(f"median: {statistics.median(rates):,.0f} events/s per worker")


if __name__ == "__main__":
    main()
