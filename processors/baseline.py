"""Baselines: named snapshots and the rolling trailing baseline (pure; storage is elsewhere).

A :class:`Snapshot` holds every metric at every scope over a day range: the chosen statistic
(``p50`` by default, from the merged sketch), count, device count and the sketch buckets, plus
app reliability figures. Named snapshots are unlimited; the trailing baseline is the snapshot
of the ``trailing_days`` (14) days ending ``gap_days`` (1) days before the current day, so the
window being judged never leaks into its own baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from processors.partials import DAY, Partials, rolling
from processors.sketch import DDSketch

SnapKey = tuple[str, str, str]  # (scope_type, scope, metric or app)


@dataclass(frozen=True)
class BaselineConfig:
    trailing_days: int = 14
    gap_days: int = 1
    statistic: str = "p50"  # p50 | p90 | p99 | mean


@dataclass(frozen=True)
class MetricSnapshot:
    value: float | None
    count: int
    devices: int
    statistic: str = "p50"
    sum: float = 0.0
    zero_count: int = 0
    buckets: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AppSnapshot:
    devices: int
    usage_ms: int
    crashes: int
    hangs: int

    @property
    def crash_rate_per_hour(self) -> float | None:
        return self.crashes / (self.usage_ms / 3_600_000) if self.usage_ms else None


@dataclass(frozen=True)
class Snapshot:
    name: str
    created_at: float
    start_day: int
    end_day: int
    metrics: Mapping[SnapKey, MetricSnapshot]
    apps: Mapping[SnapKey, AppSnapshot]


def _statistic(sk: DDSketch, statistic: str) -> float | None:
    if statistic == "mean":
        return sk.mean
    return sk.quantile(int(statistic.lstrip("p")) / 100.0)


def snapshot(
    name: str,
    partials: Partials,
    start_day: int,
    end_day: int,
    created_at: float,
    cfg: BaselineConfig = BaselineConfig(),
) -> Snapshot:
    """Snapshot of the daily partials of ``[start_day, end_day]`` (epoch s of UTC day starts)."""
    days = (end_day - start_day) // DAY + 1
    rolled = rolling(partials, end_day, days)
    metrics = {
        (st, sc, m): MetricSnapshot(
            _statistic(s.sketch, cfg.statistic),
            s.count,
            len(s.devices),
            cfg.statistic,
            s.sum,
            s.sketch.zero_count,
            s.sketch.buckets(),
        )
        for (_, _, st, sc, m), s in rolled.metrics.items()
    }
    apps = {
        (st, sc, app): AppSnapshot(len(a.devices), a.usage_ms, a.crashes, a.hangs)
        for (_, _, st, sc, app), a in rolled.apps.items()
    }
    return Snapshot(name, created_at, start_day, end_day, metrics, apps)


def trailing_window(current_day: int, cfg: BaselineConfig = BaselineConfig()) -> tuple[int, int]:
    """``(start_day, end_day)`` of the trailing baseline for the window starting ``current_day``."""
    end = current_day - cfg.gap_days * DAY
    return end - (cfg.trailing_days - 1) * DAY, end


def trailing_baseline(
    partials: Partials, current_day: int, created_at: float, cfg: BaselineConfig = BaselineConfig()
) -> Snapshot:
    start, end = trailing_window(current_day, cfg)
    return snapshot("trailing", partials, start, end, created_at, cfg)


def to_dict(s: Snapshot) -> dict[str, Any]:
    """JSON-able form (keys joined with ``\\x1f``)."""
    return {
        "name": s.name,
        "created_at": s.created_at,
        "start_day": s.start_day,
        "end_day": s.end_day,
        "metrics": {
            "\x1f".join(k): {**asdict(v), "buckets": {str(b): c for b, c in v.buckets.items()}}
            for k, v in s.metrics.items()
        },
        "apps": {"\x1f".join(k): asdict(v) for k, v in s.apps.items()},
    }


def _key(k: str) -> SnapKey:
    a, b, c = k.split("\x1f")
    return a, b, c


def from_dict(d: Mapping[str, Any]) -> Snapshot:
    metrics = {
        _key(k): MetricSnapshot(**{**v, "buckets": {int(b): int(c) for b, c in v["buckets"].items()}})
        for k, v in d["metrics"].items()
    }
    apps = {_key(k): AppSnapshot(**v) for k, v in d["apps"].items()}
    return Snapshot(d["name"], d["created_at"], d["start_day"], d["end_day"], metrics, apps)
