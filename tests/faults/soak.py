"""The long soak: every fault in turn under a steady load for N minutes, then exact reconciliation.

    python -m tests.faults.soak --minutes 30 [--rate 1500] [--fault-every 120] [--outage-s 60] [--dir DIR]

One private stack (own broker, data dir, ports; processors when ``fleetpulse process`` exists),
the simulator posting a fleet sized to last ``--minutes`` at ``--rate`` events/s, and every
``--fault-every`` seconds the next fault of the cycle: collector kill -9, sink kill -9, processor
kill -9, broker kill -9 + restart, ClickHouse outage (``--outage-s``), SIGTERM of the collector,
the sink and the processor (each restarted), a second processor joining and leaving. At the end:
lost, duplicated, aggregates and one line per fault with its recovery time; ``DIR/soak.json``
keeps the figures. Exit 1 on any loss or duplicate.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.faults.harness import (
    FaultStack,
    Load,
    Watch,
    _processor_argv,
    assert_exact,
    reconcile,
    small_fleet,
)

EVENTS_PER_DEVICE_DAY = 27  # measured on the simulator's defaults
DAYS = 20


def _restart(stack: FaultStack, name: str, *, kill: bool) -> dict[str, object]:
    service = stack.services[name]
    if kill:
        service.kill9()
        return {"restart_s": round(service.restart(), 2)}
    code, took = service.terminate(60)
    return {"exit_code": code, "shutdown_s": round(took, 2), "restart_s": round(service.restart(), 2)}


def _broker(stack: FaultStack) -> dict[str, object]:
    stack.kill_kafka()
    time.sleep(3)
    took = stack.start_kafka()
    for service in stack.services.values():
        service.wait_healthy(180)
    return {"broker_start_s": round(took, 2)}


def _rebalance(stack: FaultStack, n: int, stay_s: float) -> dict[str, object]:
    """A second worker joins (the group rebalances), works ``stay_s``, then leaves on SIGTERM."""
    second = stack.processor_service(f"processor-joiner-{n}")
    second.start()
    try:
        joined_s = second.wait_healthy(180)
        time.sleep(stay_s)
    finally:
        code, took = second.terminate(60)
    return {"joined_s": round(joined_s, 2), "second_exit_code": code, "second_shutdown_s": round(took, 2)}


def _outage(stack: FaultStack, outage_s: float) -> dict[str, object]:
    sink = stack.services["sink"]
    sink.terminate(60)
    normal = dict(sink.env)
    sink.env.update(FLEETPULSE_SINK_FAULT_OUTAGE_AFTER_S="0", FLEETPULSE_SINK_FAULT_OUTAGE_S=str(outage_s))
    sink.restart()
    sink.env = normal  # later restarts run without the outage
    peak, started = 0.0, time.monotonic()
    while time.monotonic() - started < outage_s:
        peak = max(peak, stack.metric("sink", "fleetpulse_sink_rows_pending"))
        time.sleep(1)
    return {"outage_s": outage_s, "peak_rows_pending": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=1500.0, help="events/s the simulator posts")
    parser.add_argument("--fault-every", type=float, default=120.0, help="seconds between faults")
    parser.add_argument("--outage-s", type=float, default=60.0, help="ClickHouse outage length")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the stack keeps its data (default: a temp dir)"
    )
    parser.add_argument("--no-processor", action="store_true", help="collector + sink only")
    args = parser.parse_args(argv)

    root = args.dir or Path(tempfile.mkdtemp(prefix="fleetpulse-soak-"))
    with_processor = not args.no_processor
    if with_processor and _processor_argv()[0] == "-c":
        print("soak: `fleetpulse process` not registered yet; running its command directly", file=sys.stderr)
    devices = max(10, math.ceil(args.rate * args.minutes * 60 / (EVENTS_PER_DEVICE_DAY * DAYS)))
    config = small_fleet(devices=devices, days=DAYS).model_copy(update={"chunk_devices": 50})

    faults: list[tuple[str, Callable[[FaultStack], dict[str, object]]]] = [
        ("collector kill -9", lambda s: _restart(s, "collector", kill=True)),
        ("sink kill -9", lambda s: _restart(s, "sink", kill=True)),
        ("kafka broker kill -9 + restart", _broker),
        (f"clickhouse outage {args.outage_s:.0f}s", lambda s: _outage(s, args.outage_s)),
        ("SIGTERM collector", lambda s: _restart(s, "collector", kill=False)),
        ("SIGTERM sink", lambda s: _restart(s, "sink", kill=False)),
    ]
    if with_processor:
        faults.insert(2, ("processor kill -9", lambda s: _restart(s, "processor", kill=True)))
        faults.append(("SIGTERM processor", lambda s: _restart(s, "processor", kill=False)))
        joins = itertools.count(1)
        faults.append(("processor rebalance (join + leave)", lambda s: _rebalance(s, next(joins), 20.0)))

    log: list[dict[str, object]] = []
    times: list[tuple[float, float]] = []  # (fault, cleared) per entry of log
    with FaultStack(root, with_processor=with_processor) as stack:
        load = Load(stack.collector_url, config, args.rate).start()
        print(f"soak: {devices} devices x {DAYS} days at {args.rate:.0f}/s into {root}", flush=True)
        with Watch(stack, load, every_s=1.0) as watch:
            k = 0
            while load.finished == 0.0:
                time.sleep(args.fault_every)
                if load.finished:
                    break
                name, fault = faults[k % len(faults)]
                k += 1
                fault_at = time.monotonic()
                figures = fault(stack)
                times.append((fault_at, time.monotonic()))
                log.append({"fault": name, "at_s": round(fault_at - load.started, 1), **figures})
                print(f"soak: {name} at {fault_at - load.started:.0f}s: {figures}", flush=True)
            report = reconcile(stack, f"soak {args.minutes:.0f} min, {len(log)} faults", load, watch, 900)
            for entry, (fault_at, cleared_at) in zip(log, times, strict=True):
                entry["recovery_s"] = watch.recovery_s(fault_at, cleared_at)
        report.extra["faults"] = log
        report.record(root / "soak.json")
    for entry in log:
        print(f"  {entry['fault']:<36} at {entry['at_s']:>7}s  recovery {entry['recovery_s']}s  {entry}")
    print(json.dumps({"lost": report.lost, "duplicated": report.duplicated, "events": report.events}))
    try:
        assert_exact(report)
    except AssertionError as exc:
        print(f"soak FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
