"""Processor memory per device tracked: RSS growth of the per-device state, extrapolated to 10^6.

In a fresh (spawned) process: RSS (``/proc/self/statm``) after building the state for ``n1``
devices, then after extending it to ``n2``; the slope ``(rss2 - rss1) / (n2 - n1)`` is the cost
of one more device (fixed costs cancel), times 10^6. The state per device is what stage 1 keeps
(``processors.state.DeviceRecord`` when present, else ``DeviceState``): the device state with its
census (model, OS build, disk, join type), 12 installed (app, version) pairs, the last boot id,
one day of per-device values (core boot, core sign-in) and one crash counter; plus the device's
membership in the day and hour cells of every scope, made by running
:func:`processors.aggregate.aggregate` (default config) over one boot and one sign-in per device.
Strings that repeat across devices (models, builds, apps) are shared, as they are when decoded
from a stream and interned by the dict keys of the census.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from pathlib import Path
from typing import Any

from processors.aggregate import aggregate
from processors.device_state import DeviceCensus, DeviceState
from processors.partials import Partials, merge_into

MODELS = [f"Maker{i % 5}|Model {i}" for i in range(40)]
BUILDS = [f"10.0.2{i}100.{j}" for i in range(3) for j in range(4)]
APPS = [(f"app{i}.exe", f"{i}.{j}.0") for i in range(30) for j in range(3)]


def _rss() -> int:
    gc.collect()
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _device(i: int) -> str:
    return f"s:{i:08X}-0000-4000-8000-{i * 7919 % 10**12:012X}"


def _record_type() -> Any:
    """The worker's per-device record type, or None while its state module is not there."""
    try:
        from processors import state
    except ImportError:
        return None
    return state.DeviceRecord


def _build(
    states: dict[str, Any], total: Partials, census: dict[str, DeviceCensus], lo: int, hi: int, cells: bool
) -> None:
    record_type = _record_type()
    day = 1_795_000_000 // 86_400 * 86_400
    events: list[dict[str, Any]] = []
    for i in range(lo, hi):
        dev = _device(i)
        c = DeviceCensus(
            MODELS[i % 40], BUILDS[i % 12], ("ssd", "hdd")[i % 7 == 0], ("domain", "entra")[i % 2]
        )
        census[dev] = c
        st = DeviceState(dev, c, frozenset(APPS[(i + k * 7) % len(APPS)] for k in range(12)), 100 + i % 50)
        if record_type is not None:
            days = {day: {"m": {"core_boot_ms": [20_000.0 + i % 997], "core_logon_ms": [9_000.0 + i % 89]}}}
            states[dev] = record_type(st, {(APPS[i % 90][0], day): 1}, [], days)
        else:
            states[dev] = st
        t = f"2026-11-20T{i % 24:02d}:{i % 60:02d}:00.000Z"
        events.append({"name": "Fleet.Boot.Performance", "time": t, "ext": {"device": {"localId": dev}},
                       "data": {"coreBootMs": 20_000 + i % 997, "gpBootMs": 3000, "updateMs": 0,
                                "totalBootMs": 40_000}})  # fmt: skip
        events.append({"name": "Fleet.Logon.Performance", "time": t, "ext": {"device": {"localId": dev}},
                       "data": {"coreLogonMs": 9000 + i % 89, "gpLogonMs": 800, "desktopShownMs": 9500,
                                "totalLogonMs": 12_000, "userType": "ad"}})  # fmt: skip
        if not cells:
            events.clear()
        if len(events) >= 50_000:
            merge_into(total, aggregate(events, census)[0], consume=True)
            events = []
    if events:
        merge_into(total, aggregate(events, census)[0], consume=True)


def _measure(n1: int, n2: int, cells: bool, queue: mp.Queue[tuple[int, int]]) -> None:
    states: dict[str, Any] = {}
    census: dict[str, DeviceCensus] = {}
    total = Partials()
    _build(states, total, census, 0, n1, cells)
    r1 = _rss()
    _build(states, total, census, n1, n2, cells)
    r2 = _rss()
    queue.put((r1, r2))


def _bytes_per_device(n1: int, n2: int, cells: bool) -> float:
    ctx = mp.get_context("spawn")
    queue: mp.Queue[tuple[int, int]] = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(n1, n2, cells, queue))
    proc.start()
    r1, r2 = queue.get(timeout=600)
    proc.join(60)
    return (r2 - r1) / (n2 - n1)


def rss_mb_per_million(n1: int = 100_000, n2: int = 200_000) -> tuple[float, float, float]:
    """(MB per 10^6 devices, bytes per device, of which device records alone), fresh processes."""
    records = _bytes_per_device(n1, n2, cells=False)
    per_device = _bytes_per_device(n1, n2, cells=True)
    return per_device * 1_000_000 / 1e6, per_device, records
