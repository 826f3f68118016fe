"""Per-device daily samples: the exact values behind per-device medians (columnar, mergeable).

Regression tests and device scores need one value per device (its median over a period), which
a scope sketch cannot give. :class:`DeviceSamples` keeps ``(day, device, metric, value)`` rows
as numpy columns; merging is concatenation, so it is associative and order-free.

Memory bound: at most ``cap`` values per ``(day, device, metric)`` are kept — a *bottom-k
sample by hash of the value* (``splitmix64`` of the float's bits, ties broken by value), which is
a deterministic, order-independent, mergeable uniform-ish sample: ``cap(a ∪ b) ==
cap(cap(a) ∪ cap(b))``. Devices rarely exceed the default 64 (one boot each, a few sign-ins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_CAP = 64

_F = npt.NDArray[np.float64]
_I = npt.NDArray[np.int64]
_O = npt.NDArray[np.object_]


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _factorize(values: _O) -> _I:
    """Integer codes of an object array of strings (dict-based: no string sort)."""
    items = values.tolist()
    index = {k: i for i, k in enumerate(dict.fromkeys(items))}
    return np.fromiter(map(index.__getitem__, items), dtype=np.int64, count=len(items))


@dataclass(frozen=True)
class DeviceSamples:
    day: _I
    device: _O
    metric: _O
    value: _F

    @staticmethod
    def empty() -> DeviceSamples:
        return DeviceSamples(np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0, object), np.zeros(0))

    def __len__(self) -> int:
        return int(self.value.size)

    def concat(self, other: DeviceSamples, cap: int | None = DEFAULT_CAP) -> DeviceSamples:
        """Union of two sample sets, then the cap applied (``cap=None``: not yet, see ``capped``)."""
        if not len(other):
            return self
        if not len(self):
            return other
        out = DeviceSamples(
            np.concatenate([self.day, other.day]),
            np.concatenate([self.device, other.device]),
            np.concatenate([self.metric, other.metric]),
            np.concatenate([self.value, other.value]),
        )
        return out if cap is None else out.capped(cap)

    def _group_codes(self) -> _I:
        dev = _factorize(self.device)
        met = _factorize(self.metric)
        _, day = np.unique(self.day, return_inverse=True)
        n_dev, n_met = int(dev.max()) + 1, int(met.max()) + 1
        return (day.astype(np.int64) * n_dev + dev) * n_met + met

    def capped(self, cap: int = DEFAULT_CAP, group: _I | None = None) -> DeviceSamples:
        """Keep at most ``cap`` values per (day, device, metric): the ``cap`` smallest hashes.

        ``group`` may pass precomputed integer codes of (day, device, metric).
        """
        if len(self) <= cap:
            return self
        if group is None:
            group = self._group_codes()
        if int(group.max()) < 4 * group.size + 1_000_000:
            most = int(np.bincount(group).max())  # O(n) when the codes are dense enough
        else:
            most = int(np.unique(group, return_counts=True)[1].max())
        if most <= cap:
            return self
        h = _splitmix64(self.value.view(np.uint64))
        order = np.lexsort((self.value, h, group))
        g_sorted = group[order]
        starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
        rank = np.arange(g_sorted.size) - np.repeat(starts, np.diff(np.r_[starts, g_sorted.size]))
        keep = np.sort(order[rank < cap])
        return self.take(keep)

    def take(self, idx: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> DeviceSamples:
        return DeviceSamples(self.day[idx], self.device[idx], self.metric[idx], self.value[idx])

    def select(self, start_day: int, end_day: int, metric: str | None = None) -> DeviceSamples:
        """Rows with ``start_day <= day <= end_day`` (epoch seconds of UTC day starts)."""
        mask = (self.day >= start_day) & (self.day <= end_day)
        if metric is not None:
            mask &= self.metric == metric
        return self.take(mask)

    def per_device_medians(self, metric: str, start_day: int, end_day: int) -> dict[str, float]:
        """``device -> median`` of the device's values of ``metric`` over the day range (np.median)."""
        sel = self.select(start_day, end_day, metric).capped()
        if not len(sel):
            return {}
        devs, inv = np.unique(sel.device.astype(str), return_inverse=True)
        order = np.lexsort((sel.value, inv))
        vals, g = sel.value[order], inv[order]
        bounds = np.r_[0, np.flatnonzero(np.diff(g)) + 1, g.size]
        lo, hi = bounds[:-1], bounds[1:] - 1
        med = (vals[lo + (hi - lo) // 2] + vals[lo + (hi - lo + 1) // 2]) / 2.0
        return dict(zip(devs.tolist(), med.tolist(), strict=True))

    def rows(self) -> list[dict[str, Any]]:
        """Device-scope rows per (day, device, metric): count, sum, mean, exact median, min, max."""
        s = self.capped().sorted()
        if not len(s):
            return []
        change = (np.diff(s.day) != 0) | (s.device[1:] != s.device[:-1]) | (s.metric[1:] != s.metric[:-1])
        key = np.r_[True, change]
        starts = np.flatnonzero(key)
        ends = np.r_[starts[1:], s.value.size]
        out: list[dict[str, Any]] = []
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            v = s.value[a:b]
            out.append(
                {
                    "window_kind": "day",
                    "window_start": int(s.day[a]),
                    "scope_type": "device",
                    "scope": s.device[a],
                    "metric": s.metric[a],
                    "count": b - a,
                    "sum": float(v.sum()),
                    "mean": float(v.mean()),
                    "p50": float(np.median(v)),
                    "min": float(v[0]),
                    "max": float(v[-1]),
                }
            )
        return out

    def sorted(self) -> DeviceSamples:
        """Canonical order (for equality tests): by day, device, metric, value."""
        order = np.lexsort((self.value, self.metric.astype(str), self.device.astype(str), self.day))
        return self.take(order)

    def equals(self, other: DeviceSamples) -> bool:
        a, b = self.sorted(), other.sorted()
        return (
            len(a) == len(b)
            and bool(np.array_equal(a.day, b.day))
            and a.device.tolist() == b.device.tolist()
            and a.metric.tolist() == b.metric.tolist()
            and bool(np.array_equal(a.value, b.value))
        )
