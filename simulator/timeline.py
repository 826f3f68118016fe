"""Per-day, per-chunk generation: vectorised device-day draws, then one pass over the devices.

A chunk of devices on one day is a pure function of (seed, day, chunk) and the fleet state
left by the previous day, so output is byte-identical for the same seed and config whatever
the chunking of the consumer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.catalog import MODELS, TIMEZONES
from simulator.envelope import Delivery, Identity, assemble
from simulator.rand import Rand
from simulator.session import DayDraws, device_day
from simulator.world import DAY_MS, World

Record = dict[str, Any]


def chunk_day(w: World, d: int, lo: int, hi: int) -> list[Record]:
    """All records the devices ``lo..hi`` upload on simulated day ``d``."""
    cfg, f = w.config, w.fleet
    n = hi - lo
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 1, d, lo]))
    r = Rand(int(np.random.SeedSequence([cfg.seed, 2, d, lo]).generate_state(1)[0]))
    weekend = (w.weekday0 + d) % 7 >= 5
    active = (rng.random(n) < (0.12 if weekend else 0.93)).tolist()
    start_min = np.clip(rng.normal(11 * 60 if weekend else 8.3 * 60, 55, n), 6 * 60, 12 * 60)
    len_min = np.clip(rng.normal(2 * 60 if weekend else 8.5 * 60, 70, n), 75, 12 * 60)
    u = rng.random((6, n)).tolist()
    off_days = rng.integers(1, 4, n).tolist()
    tz = [TIMEZONES[k][1] for k in f.tz[lo:hi].tolist()]
    skew = f.skew_ms[lo:hi].tolist()
    t0s = (w.day0_ms + d * DAY_MS + np.round(start_min * 60_000).astype(np.int64)).tolist()
    lens = np.round(len_min * 60_000).astype(np.int64).tolist()
    out: list[Record] = []
    for x in range(n):
        i = lo + x
        st = _delivery(w, i)
        released = w.held.pop(i, None) if 0 <= int(f.offline_until[i]) <= d else None
        if released is not None:
            out.extend(released)
            w.late_events += len(released)
            f.offline_until[i], st.released, st.queued, st.oldest_queued_ms = -1, len(released), 0, 0
        if not active[x]:
            _store(w, i, st)
            continue
        if st.released == 0 and int(f.offline_until[i]) < 0 and u[5][x] < cfg.offline_probability:
            f.offline_until[i] = d + off_days[x]
        st.offline = int(f.offline_until[i]) > d
        t0 = t0s[x] - tz[x] * 60_000 + skew[x]
        dr = DayDraws(t0, t0 + lens[x], u[0][x], u[1][x], u[2][x], u[3][x], u[4][x])
        evs, segs = device_day(w, d, i, dr, r)
        recs = assemble(evs, segs, _identity(w, i), w.ikey, st, r)
        if st.offline:
            w.held.setdefault(i, []).extend(recs)
        else:
            out.extend(recs)
        _store(w, i, st)
    return out


def flush_held(w: World) -> list[Record]:
    """Events still queued on offline devices when the run ends (they upload on reconnect)."""
    out: list[Record] = []
    for i in sorted(w.held):
        out.extend(w.held[i])
        w.late_events += len(w.held[i])
    w.held.clear()
    return out


def _identity(w: World, i: int) -> Identity:
    f = w.fleet
    m = MODELS[int(f.model[i])]
    tz = TIMEZONES[int(f.tz[i])][0]
    return Identity(f.device_id[i], f.install_id[i], m.manufacturer, m.name, f.user_hash[i], tz)


def _delivery(w: World, i: int) -> Delivery:
    f = w.fleet
    return Delivery(
        seq=int(f.seq[i]),
        hb_seq=int(f.hb_seq[i]),
        last_hb_ms=int(f.last_hb_ms[i]),
        since_hb=int(f.since_hb[i]),
        queued=int(f.queued[i]),
        released=0,
        oldest_queued_ms=int(f.oldest_queued_ms[i]),
        offline=False,
    )


def _store(w: World, i: int, st: Delivery) -> None:
    f = w.fleet
    f.seq[i], f.hb_seq[i], f.last_hb_ms[i], f.since_hb[i] = st.seq, st.hb_seq, st.last_hb_ms, st.since_hb
    f.queued[i], f.oldest_queued_ms[i] = st.queued, st.oldest_queued_ms
