"""Insert benchmark: ``python -m bench.insert [--rows N] [--batch N] [--dir DIR]``.

Inserts N synthetic ``boot_events`` rows (realistic shapes: 5 000 devices, daily boots,
log-normal durations, a few optional fields absent) into a fresh embedded store in batches of
``--batch`` rows, each with a dedup token as the sink sends them, then prints rows/s (client
encode + engine insert, end to end) and the compressed bytes per row on disk, per column too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fleetpulse.settings import load_settings
from sinks.clickhouse import Columnar, open_backend
from sinks.migrations import migrate

BASE = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
MODELS = [
    ("Dell Inc.", "Latitude 7440"),
    ("LENOVO", "21HD"),
    ("HP", "EliteBook 840 G10"),
    ("Microsoft", "Surface Laptop 5"),
]
OS_VERS = ["10.0.22631.4169", "10.0.22631.4317", "10.0.19045.4894", "10.0.26100.2033"]


def boot_batch(n: int, devices: int, seed: int) -> tuple[list[str], Columnar]:
    """``n`` boot rows spread over ``devices`` devices, one boot per device per ~day."""
    rng = np.random.default_rng(seed)
    dev = np.arange(n) % devices
    nth = np.arange(n) // devices
    event_ms = (nth * 86_400_000 + dev * 9_000 + rng.integers(0, 3_600_000, n)).tolist()
    total = np.clip(rng.lognormal(10.5, 0.4, n), 5_000, 3_600_000).astype(np.int64)
    core = (total * rng.uniform(0.3, 0.5, n)).astype(np.int64)
    main = (total * 0.7).astype(np.int64)
    gp = np.where(rng.random(n) < 0.5, 0, (total * 0.05).astype(np.int64))
    model = (dev % len(MODELS)).tolist()
    ts = [BASE + dt.timedelta(milliseconds=ms) for ms in event_ms]
    columns: dict[str, Sequence[Any]] = {
        "tenant": ["contoso"] * n,
        "ikey": ["o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f"] * n,
        "device_id": [f"s:{d:08X}-5B3D-4F1A-9C27-3E8D5A6B1F04" for d in dev.tolist()],
        "event_time": ts,
        "received_at": [t + dt.timedelta(milliseconds=350) for t in ts],
        "epoch": [str(2291847731 + d) for d in dev.tolist()],
        "seq": (nth * 40 + 1).tolist(),
        "boot_id": (nth + 200).tolist(),
        "os_ver": [OS_VERS[d % len(OS_VERS)] for d in dev.tolist()],
        "sdk_ver": ["fleet-agent-1.4.2"] * n,
        "dev_make": [MODELS[m][0] for m in model],
        "dev_model": [MODELS[m][1] for m in model],
        "boot_start_time": [
            t - dt.timedelta(milliseconds=int(x)) for t, x in zip(ts, total.tolist(), strict=True)
        ],
        "is_reboot_after_update": (rng.random(n) < 0.05).tolist(),
        "total_boot_ms": total.tolist(),
        "core_boot_ms": core.tolist(),
        "main_path_ms": main.tolist(),
        "post_boot_ms": (total - main).tolist(),
        "gp_boot_ms": gp.tolist(),
        "update_ms": [0] * n,
        "kafka_partition": (dev % 6).tolist(),
        "kafka_offset": np.arange(n).tolist(),
    }
    return list(columns), Columnar(list(columns.values()))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--devices", type=int, default=5_000)
    parser.add_argument("--dir", type=Path, default=None, help="store directory (default: a temporary one)")
    args = parser.parse_args(argv)

    directory = args.dir or Path(tempfile.mkdtemp(prefix="fleetpulse-bench-"))
    settings = load_settings(clickhouse_url=f"chdb://{directory}", data_dir=directory)
    backend = open_backend(settings.clickhouse_url_resolved)
    try:
        migrate(backend, settings)
        db = settings.clickhouse_database
        names, data = boot_batch(args.rows, args.devices, seed=7)
        elapsed = 0.0
        for i, start in enumerate(range(0, args.rows, args.batch)):
            chunk = Columnar([col[start : start + args.batch] for col in data.columns])
            t0 = time.perf_counter()
            backend.insert(f"{db}.boot_events", names, chunk, dedup_token=f"bench-0-{i}")
            elapsed += time.perf_counter() - t0
        stored = backend.query(f"SELECT count() FROM {db}.boot_events")[0][0]
        print(
            f"inserted {stored} boot rows in {elapsed:.2f} s: {stored / elapsed:,.0f} rows/s "
            f"(batches of {args.batch}, encode + insert)"
        )
        _report_size(backend, db, "after insert")
        backend.execute(f"OPTIMIZE TABLE {db}.boot_events FINAL")
        _report_size(backend, db, "after merge")
        for name, compressed in backend.query(
            "SELECT name, data_compressed_bytes FROM system.columns "
            "WHERE database = {db:String} AND table = 'boot_events' ORDER BY data_compressed_bytes DESC",
            {"db": db},
        ):
            print(f"  {name:<28} {compressed / stored:6.2f} B/row")
    finally:
        backend.close()
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


def _report_size(backend: Any, db: str, when: str) -> None:
    rows, compressed, on_disk, parts = backend.query(
        "SELECT sum(rows), sum(data_compressed_bytes), sum(bytes_on_disk), count() FROM system.parts "
        "WHERE active AND database = {db:String} AND table = 'boot_events'",
        {"db": db},
    )[0]
    print(
        f"{when}: {parts} parts, {compressed / rows:.2f} B/row compressed data, "
        f"{on_disk / rows:.2f} B/row on disk (with marks, index, metadata)"
    )


if __name__ == "__main__":
    main()
