"""Sort-based grouping of boot / sign-in timings into sketches (the hot path of ``aggregate``).

Rows ``(hour, device code, metric, value)`` of a batch are grouped per (window, scope, metric) with
one ``argsort`` of an integer key per scope type; each group is one vectorised ``add_many``.
Distinct devices per group come from the same sort (key x device). The day window is derived
from the hour groups by exact sketch merge when both windows are configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import repeat
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from processors import metrics_def as md
from processors.device_state import UNKNOWN_CENSUS, DeviceCensus
from processors.partials import DAY, Key, MetricState, Partials
from processors.samples import DeviceSamples
from processors.sketch import DDSketch

FLEET = "all"


class TimingConfig(Protocol):
    @property
    def windows(self) -> tuple[str, ...]: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def sketch_alpha(self) -> float: ...
    @property
    def sketch_max_buckets(self) -> int: ...
    @property
    def samples_cap(self) -> int: ...


def scope_value(census: DeviceCensus, stype: str) -> str:
    return FLEET if stype == "fleet" else census.scope(stype)


class Cols:
    """Columns of one event type in a batch: hour start, device code, data dict."""

    __slots__ = ("data", "dev", "hour")

    def __init__(self) -> None:
        self.hour: list[int] = []
        self.dev: list[int] = []
        self.data: list[dict[str, Any]] = []


def aggregate_timings(
    out: Partials,
    cfg: TimingConfig,
    census: Mapping[str, DeviceCensus],
    metrics: tuple[md.MetricDef, ...],
    dev_ids: list[str],
    boots: Cols,
    logons: Cols,
) -> None:
    """Group the timing columns of a batch into ``out.metrics`` and ``out.samples``."""
    parts_h, parts_d, parts_v, parts_m = [], [], [], []
    arrays = {
        id(c): (np.asarray(c.hour, dtype=np.int64), np.asarray(c.dev, dtype=np.int64))
        for c in (boots, logons)
    }
    for i, m in enumerate(metrics):
        cols = boots if m.event == md.BOOT_EVENT else logons
        # dict.get over the column: None (absent optional field) becomes NaN
        v = np.array(list(map(dict.get, cols.data, repeat(m.field))), dtype=np.float64)
        keep = ~np.isnan(v)
        h_all, d_all = arrays[id(cols)]
        parts_h.append(h_all[keep])
        parts_d.append(d_all[keep])
        parts_v.append(v[keep])
        parts_m.append(np.full(int(keep.sum()), i, dtype=np.int64))
    met = np.concatenate(parts_m)
    hour = np.concatenate(parts_h)
    dev = np.concatenate(parts_d)
    val = np.concatenate(parts_v)
    names = [m.name for m in metrics]
    dev_arr = np.asarray(dev_ids, dtype=object)
    n_met = len(metrics)
    # Sort-based grouping for the finest window; a day window is then the exact merge of its hours
    # (sketch merge is exact), which costs a few thousand merges instead of more row sorts.
    derive_day = "hour" in cfg.windows and "day" in cfg.windows
    for kind in cfg.windows:
        if kind == "day" and derive_day:
            days_from_hours(out)
            continue
        ws = hour if kind == "hour" else hour - hour % DAY
        wu, winv = np.unique(ws, return_inverse=True)
        for stype in cfg.scopes:
            scope_names: list[str] = []
            scope_idx: dict[str, int] = {}
            per_dev = np.empty(len(dev_ids), dtype=np.int64)
            for j, d in enumerate(dev_ids):
                s = scope_value(census.get(d, UNKNOWN_CENSUS), stype)
                k = scope_idx.get(s)
                if k is None:
                    k = scope_idx[s] = len(scope_names)
                    scope_names.append(s)
                per_dev[j] = k
            n_sc = len(scope_names)
            key = (winv * n_sc + per_dev[dev]) * n_met + met
            _group_into(out, cfg, kind, stype, key, wu, scope_names, names, n_sc, n_met, dev, dev_arr, val)
    day = hour - hour % DAY
    samples = DeviceSamples(day, dev_arr[dev], np.asarray(names, dtype=object)[met], val)
    _, day_code = np.unique(day, return_inverse=True)
    group = (day_code.astype(np.int64) * len(dev_ids) + dev) * n_met + met
    out.samples = samples.capped(cfg.samples_cap, group)


def days_from_hours(out: Partials) -> None:
    """Add the day keys of this batch's hour metric keys by exact merge."""
    for (kind, ws, stype, scope, metric), st in list(out.metrics.items()):
        if kind != "hour":
            continue
        dk: Key = ("day", ws - ws % DAY, stype, scope, metric)
        cur = out.metrics.get(dk)
        if cur is None:
            out.metrics[dk] = MetricState(st.sketch.copy(), set(st.devices))
        else:
            cur.sketch.merge(st.sketch)
            cur.devices |= st.devices


def _group_into(
    out: Partials,
    cfg: TimingConfig,
    kind: str,
    stype: str,
    key: npt.NDArray[np.int64],
    wu: npt.NDArray[np.int64],
    scope_names: list[str],
    names: list[str],
    n_sc: int,
    n_met: int,
    dev: npt.NDArray[np.int64],
    dev_arr: npt.NDArray[np.object_],
    val: npt.NDArray[np.float64],
) -> None:
    n_dev = dev_arr.size
    comp = key * n_dev + dev  # sort by (group, device): groups contiguous, devices countable
    order = np.argsort(comp)
    c_sorted = comp[order]
    k_sorted = c_sorted // n_dev
    starts: npt.NDArray[np.int64] = np.r_[0, np.flatnonzero(np.diff(k_sorted)) + 1]
    ends: npt.NDArray[np.int64] = np.r_[starts[1:], k_sorted.size]
    first_dev: npt.NDArray[np.int64] = np.r_[0, np.flatnonzero(np.diff(c_sorted)) + 1]
    dev_of_first = dev_arr[c_sorted[first_dev] % n_dev]
    d_starts: npt.NDArray[np.int64] = np.searchsorted(first_dev, starts).astype(np.int64)
    d_ends: npt.NDArray[np.int64] = np.r_[d_starts[1:], first_dev.size]
    for s, e, k, ds, de in zip(
        starts.tolist(),
        ends.tolist(),
        k_sorted[starts].tolist(),
        d_starts.tolist(),
        d_ends.tolist(),
        strict=True,
    ):
        w, rest = divmod(k, n_sc * n_met)
        sc, m = divmod(rest, n_met)
        mk: Key = (kind, int(wu[w]), stype, scope_names[sc], names[m])
        st = out.metrics.get(mk)
        if st is None:
            st = out.metrics[mk] = MetricState(DDSketch(cfg.sketch_alpha, cfg.sketch_max_buckets))
        st.sketch.add_many(val[order[s:e]])
        st.devices.update(dev_of_first[ds:de].tolist())
