"""Mergeable partial aggregates, their rolling merge and their row form.

Keys (``window_start`` is epoch seconds UTC of the window's first instant):

* metrics:  ``(window_kind, window_start, scope_type, scope, metric) -> MetricState``
* counters: ``(window_kind, window_start, scope_type, scope, counter) -> int``
* apps:     ``(window_kind, window_start, scope_type, scope, app) -> AppState`` with
  ``scope_type`` in ``app`` (scope ``all``), ``app_version``, ``model``, ``os_build``
* samples:  per-device daily values (:class:`processors.samples.DeviceSamples`)

``merge(a, b)`` is the aggregate of the union of the events behind ``a`` and ``b``: sketches
merge exactly, counts and sums add, device sets unite. Active devices are exact sets of device
ids per key; memory is ~(distinct devices x keys) string references — fine for daily keys of a
fleet up to ~10^5 devices; a HyperLogLog can replace the set behind the same field later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processors.samples import DEFAULT_CAP, DeviceSamples
from processors.sketch import DEFAULT_ALPHA, DDSketch

DAY = 86_400
HOUR = 3_600
Key = tuple[str, int, str, str, str]


@dataclass
class MetricState:
    sketch: DDSketch = field(default_factory=lambda: DDSketch(DEFAULT_ALPHA))
    devices: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return self.sketch.count

    @property
    def sum(self) -> float:
        return self.sketch.sum

    def merged(self, other: MetricState) -> MetricState:
        sk = self.sketch.copy()
        sk.merge(other.sketch)
        return MetricState(sk, self.devices | other.devices)


@dataclass
class AppState:
    devices: set[str] = field(default_factory=set)
    usage_ms: int = 0
    crashes: int = 0  # capped per (device, app, day)
    crashes_raw: int = 0  # uncapped, for transparency
    hangs: int = 0

    def merged(self, other: AppState) -> AppState:
        return AppState(
            self.devices | other.devices,
            self.usage_ms + other.usage_ms,
            self.crashes + other.crashes,
            self.crashes_raw + other.crashes_raw,
            self.hangs + other.hangs,
        )

    @property
    def mttf_hours(self) -> float | None:
        """Mean time to failure = usage / crashes (hours); ``None`` when no crash."""
        return self.usage_ms / 3_600_000 / self.crashes if self.crashes else None


@dataclass
class Partials:
    metrics: dict[Key, MetricState] = field(default_factory=dict)
    counters: dict[Key, int] = field(default_factory=dict)
    apps: dict[Key, AppState] = field(default_factory=dict)
    samples: DeviceSamples = field(default_factory=DeviceSamples.empty)


def copy_partials(p: Partials) -> Partials:
    """Deep copy (sketches and sets copied; samples are immutable and shared)."""
    return Partials(
        {k: MetricState(v.sketch.copy(), set(v.devices)) for k, v in p.metrics.items()},
        dict(p.counters),
        {k: a.merged(AppState()) for k, a in p.apps.items()},
        p.samples,
    )


def merge_into(
    target: Partials, other: Partials, samples_cap: int = DEFAULT_CAP, consume: bool = False
) -> Partials:
    """Merge ``other`` into ``target`` **in place** (the streaming accumulator path) and return it.

    ``other`` is not modified. With ``consume=False`` ``target`` never shares mutable state with
    it afterwards; ``consume=True`` moves ``other``'s states into ``target`` without copying (the
    caller must then drop ``other`` — the batch-partial path).
    """
    for k, v in other.metrics.items():
        cur = target.metrics.get(k)
        if cur is None:
            target.metrics[k] = v if consume else MetricState(v.sketch.copy(), set(v.devices))
        else:
            cur.sketch.merge(v.sketch)
            cur.devices |= v.devices
    for k, n in other.counters.items():
        target.counters[k] = target.counters.get(k, 0) + n
    for k, s in other.apps.items():
        cur_app = target.apps.get(k)
        if cur_app is None:
            target.apps[k] = s if consume else s.merged(AppState())
        else:
            cur_app.devices |= s.devices
            cur_app.usage_ms += s.usage_ms
            cur_app.crashes += s.crashes
            cur_app.crashes_raw += s.crashes_raw
            cur_app.hangs += s.hangs
    # The cap is associative, so it is applied lazily: whenever the row count crosses a power of
    # two (amortised O(n log n)); readers call ``samples.capped()`` for the canonical set.
    before = len(target.samples)
    joined = target.samples.concat(other.samples, None)
    target.samples = joined.capped(samples_cap) if len(joined).bit_length() > before.bit_length() else joined
    return target


def merge(a: Partials, b: Partials) -> Partials:
    """Aggregate of the union of both inputs (a new object; inputs untouched)."""
    return merge_into(copy_partials(a), b)


def merge_all(parts: list[Partials]) -> Partials:
    out = Partials()
    for p in parts:
        merge_into(out, p)
    return out


def rolling(partials: Partials, end_day: int, days: int) -> Partials:
    """Merge the daily partials of ``[end_day - (days-1) d, end_day]`` into window kind ``f"{days}d"``.

    ``window_start`` of the result is the first day of the range. Samples are kept per day.
    """
    start = end_day - (days - 1) * DAY
    kind = f"{days}d"

    def relabel(k: Key) -> Key | None:
        if k[0] != "day" or not start <= k[1] <= end_day:
            return None
        return (kind, start, k[2], k[3], k[4])

    out = Partials(samples=partials.samples.select(start, end_day))
    for k, m in partials.metrics.items():
        nk = relabel(k)
        if nk is not None:
            cur = out.metrics.get(nk)
            out.metrics[nk] = (
                m.merged(MetricState(DDSketch(m.sketch.alpha, m.sketch.max_buckets)))
                if cur is None
                else cur.merged(m)
            )
    for k, n in partials.counters.items():
        nk = relabel(k)
        if nk is not None:
            out.counters[nk] = out.counters.get(nk, 0) + n
    for k, a in partials.apps.items():
        nk = relabel(k)
        if nk is not None:
            cur_app = out.apps.get(nk)
            out.apps[nk] = a.merged(AppState()) if cur_app is None else cur_app.merged(a)
    return out


def to_rows(partials: Partials, quantiles: tuple[float, ...] = (0.5, 0.9, 0.99)) -> list[dict[str, Any]]:
    """Rows for ``telemetry.aggregates.v1`` / ClickHouse, one per metric or counter key.

    ``sketch_keys``/``sketch_counts`` are the non-empty buckets (re-mergeable with ``sumMap``);
    ``zero_count`` is the zero bucket. Counter rows have ``count`` and empty sketch fields.
    """
    rows: list[dict[str, Any]] = []
    for (kind, start, stype, scope, metric), st in partials.metrics.items():
        sk = st.sketch
        b = sk.buckets()
        qs = sk.quantiles(quantiles)
        rows.append(
            {
                "row_type": "metric",
                "window_kind": kind,
                "window_start": start,
                "scope_type": stype,
                "scope": scope,
                "metric": metric,
                "count": sk.count,
                "sum": sk.sum,
                "mean": sk.mean,
                "min": sk.min if sk.count else None,
                "max": sk.max if sk.count else None,
                "p50": qs[0],
                "p90": qs[1],
                "p99": qs[2],
                "sketch_alpha": sk.alpha,
                "sketch_keys": list(b),
                "sketch_counts": list(b.values()),
                "zero_count": sk.zero_count,
                "devices": len(st.devices),
            }
        )
    for (kind, start, stype, scope, metric), n in partials.counters.items():
        rows.append(
            {
                "row_type": "counter",
                "window_kind": kind,
                "window_start": start,
                "scope_type": stype,
                "scope": scope,
                "metric": metric,
                "count": n,
                "sum": float(n),
                "mean": None,
                "min": None,
                "max": None,
                "p50": None,
                "p90": None,
                "p99": None,
                "sketch_alpha": None,
                "sketch_keys": [],
                "sketch_counts": [],
                "zero_count": 0,
                "devices": None,
            }
        )
    return rows


def app_rows(partials: Partials) -> list[dict[str, Any]]:
    """Rows of app reliability partials (``mttf_hours`` = usage hours / capped crashes)."""
    return [
        {
            "window_kind": kind,
            "window_start": start,
            "scope_type": stype,
            "scope": scope,
            "app": app,
            "devices": len(s.devices),
            "usage_ms": s.usage_ms,
            "crashes": s.crashes,
            "crashes_raw": s.crashes_raw,
            "hangs": s.hangs,
            "mttf_hours": s.mttf_hours,
        }
        for (kind, start, stype, scope, app), s in partials.apps.items()
    ]
