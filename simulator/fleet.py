"""The device population: static attributes drawn once (vectorised) and mutable per-device state.

Everything is held in numpy arrays of length ``devices`` so a million devices cost a few
hundred MB at most; the per-day generator converts one chunk at a time to Python lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from simulator.catalog import APPS, MODELS, OS_BUILDS, TIMEZONE_WEIGHTS, TIMEZONES
from simulator.config import SimulationConfig

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


def _guids(rng: np.random.Generator, n: int, upper: bool) -> list[str]:
    """``n`` version-4 GUID strings drawn from ``rng``."""
    hi = rng.integers(0, 2**63, size=n, dtype=np.int64).tolist()
    lo = rng.integers(0, 2**63, size=n, dtype=np.int64).tolist()
    out = []
    for a, b in zip(hi, lo, strict=True):
        h = f"{a:016x}{b:016x}"
        s = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"
        out.append(s.upper() if upper else s)
    return out


@dataclass
class Fleet:
    """Static attributes (fixed for the run) and mutable state of every device."""

    n: int
    device_id: list[str]
    install_id: list[str]
    user_hash: list[str]
    model: npt.NDArray[np.int8]
    os_build: npt.NDArray[np.int8]
    edition: npt.NDArray[np.int8]
    ram_mb: I64
    disk_mb: I64
    domain: B
    control: B
    tz: npt.NDArray[np.int8]
    skew_ms: I64
    battery_health: F64
    battery_cycles: I64
    epoch_base: I64
    # mutable state
    boot_id: I64
    epoch_n: I64
    seq: I64
    hb_seq: I64
    last_hb_ms: I64
    last_boot_ms: I64
    last_end_ms: I64
    ubr: npt.NDArray[np.int8]
    os_wave: npt.NDArray[np.int16]  # last OS update wave installed (-1 none)
    update_pending: npt.NDArray[np.int16]  # -1 none, else index of the UBR installed, reboot pending
    offline_until: npt.NDArray[np.int16]  # day index the device comes back online (-1: online)
    queued: I64
    since_hb: I64
    oldest_queued_ms: I64
    seen: B
    app_ver: npt.NDArray[np.int8] = field(repr=False)  # [n, apps]; -1 = not installed
    mult_boot: F64 = field(repr=False)
    mult_gp: F64 = field(repr=False)
    mult_logon: F64 = field(repr=False)
    mult_stop: F64 = field(repr=False)
    level: F64 = field(repr=False)  # the device's timing level: a standard-normal draw


def build_fleet(config: SimulationConfig) -> Fleet:
    """Draw a fleet from ``config.seed`` (independent of the per-day streams)."""
    n = config.devices
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0xF1EE7]))
    weights = np.array([m.weight for m in MODELS])
    model = rng.choice(len(MODELS), size=n, p=weights / weights.sum()).astype(np.int8)
    osw = np.array([o.weight for o in OS_BUILDS])
    os_build = rng.choice(len(OS_BUILDS), size=n, p=osw / osw.sum()).astype(np.int8)
    ram = np.empty(n, dtype=np.int64)
    for i, m in enumerate(MODELS):
        sel = model == i
        ram[sel] = rng.choice(np.array(m.ram_mb), size=int(sel.sum()))
    disk = rng.choice(np.array([244198, 476940, 953869]), size=n, p=[0.3, 0.55, 0.15]).astype(np.int64)
    tzw = np.array(TIMEZONE_WEIGHTS)
    skew = rng.normal(0.0, config.clock_skew_sigma_sec * 1000.0, size=n)
    big = rng.random(n) < 0.05  # a few agents with minutes of skew
    skew[big] = rng.uniform(-300_000, 300_000, size=int(big.sum()))
    app_ver = np.full((n, len(APPS)), -1, dtype=np.int8)
    for j, app in enumerate(APPS):
        has = rng.random(n) < app.install_p
        start_ver = np.minimum(rng.integers(0, 2, size=n), len(app.versions) - 1)
        app_ver[has, j] = start_ver[has]
    return Fleet(
        n=n,
        device_id=["s:" + g for g in _guids(rng, n, upper=True)],
        install_id=_guids(rng, n, upper=False),
        user_hash=[f"c:{g.replace('-', '')}" for g in _guids(rng, n, upper=False)],
        model=model,
        os_build=os_build,
        edition=(rng.random(n) < 0.15).astype(np.int8),
        ram_mb=ram,
        disk_mb=disk,
        domain=rng.random(n) < config.domain_joined_fraction,
        control=rng.random(n) < config.control_fraction,
        tz=rng.choice(len(TIMEZONES), size=n, p=tzw / tzw.sum()).astype(np.int8),
        skew_ms=np.round(skew).astype(np.int64),
        battery_health=np.clip(rng.normal(0.88, 0.09, size=n), 0.5, 1.05),
        battery_cycles=rng.integers(20, 700, size=n).astype(np.int64),
        epoch_base=rng.integers(10**9, 9 * 10**9, size=n).astype(np.int64),
        boot_id=rng.integers(40, 4000, size=n).astype(np.int64),
        epoch_n=np.zeros(n, dtype=np.int64),
        seq=np.zeros(n, dtype=np.int64),
        hb_seq=rng.integers(1, 5000, size=n).astype(np.int64),
        last_hb_ms=np.zeros(n, dtype=np.int64),
        last_boot_ms=np.zeros(n, dtype=np.int64),
        last_end_ms=np.zeros(n, dtype=np.int64),
        ubr=rng.integers(0, 2, size=n).astype(np.int8),
        os_wave=np.full(n, -1, dtype=np.int16),
        update_pending=np.full(n, -1, dtype=np.int16),
        offline_until=np.full(n, -1, dtype=np.int16),
        queued=np.zeros(n, dtype=np.int64),
        since_hb=np.zeros(n, dtype=np.int64),
        oldest_queued_ms=np.zeros(n, dtype=np.int64),
        seen=np.zeros(n, dtype=np.bool_),
        app_ver=app_ver,
        mult_boot=np.ones(n),
        mult_gp=np.ones(n),
        mult_logon=np.ones(n),
        mult_stop=np.ones(n),
        # its own stream, so adding it left every earlier draw (and fleet) as it was
        level=np.random.default_rng(np.random.SeedSequence([config.seed, 0xF1EE7, 1])).normal(size=n),
    )
