"""Stage 2, pure: per-tenant device-day history -> regression open/close messages.

Input: the device-daily summaries of stage 1 (:mod:`processors.emit`), latest wins per
(device, day). A tenant's *complete day* is the day before the lowest source-partition
watermark seen; each time it advances, :func:`evaluate` runs once for it (debounced by event
time, so a restart replays identically):

Days are evaluated in order, each once (:func:`evaluate_through`); all the tests of one
evaluation form one family for the false-discovery control of :func:`~processors.regression.fdr_adjust`.

* timings, per scope (``fleet``/``model``/``os_build``) and metric: current = the last
  ``current_days`` complete days, baseline = the trailing window (14 days ending the day before
  current) and every named baseline; values per device = median of its values in the period;
  :func:`processors.regression.detect` (p50 magnitude + the van Elteren test: each device's
  current values ranked against its own baseline values);
* app crash rate per app version: the version's crashes per usage hour in the current period vs
  the rate of the app's other versions in the baseline period, :func:`~processors.regression.detect_rate`;
* on ``open``: ``started_at`` = change point of the daily p50 (rises only) — for an app version
  that did not exist before, its first day; causes = :func:`~processors.attribution.attribute`
  with affected = scope devices whose own median after ``started_at`` is worse than before by
  more than the threshold (app versions: the version's devices), unaffected = every other device
  of the tenant with data in both periods (the rest of the scope and the rest of the fleet).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from processors.attribution import ConfigChange, RegressionTracker, attribute
from processors.baseline import MetricSnapshot, Snapshot
from processors.emit import rfc3339
from processors.metrics_def import APP_CRASH_RATE, is_lower_better
from processors.partials import DAY
from processors.regression import (
    Detection,
    RegressionConfig,
    Stratum,
    change_point,
    detect,
    detect_rate,
    fdr_adjust,
    stratum,
)
from processors.sketch import sketch_of


@dataclass(frozen=True)
class DetectorConfig:
    metrics: tuple[str, ...] = (
        "core_boot_ms",
        "gp_boot_ms",
        "core_logon_ms",
        "gp_logon_ms",
        "total_logon_ms",
    )
    scopes: tuple[str, ...] = ("fleet", "model", "os_build")
    current_days: int = 5
    trailing_days: int = 14
    retention_days: int = 30
    recover_after: int = 2  # consecutive evaluations back within the threshold before it closes
    min_baseline_days: int = 7  # evaluate only once this many days of history precede "current"
    min_crashes: int = 5
    crash_cap_per_day: int = 10
    regression: RegressionConfig = field(default_factory=RegressionConfig)


@dataclass
class DeviceHistory:
    model: str = "unknown"
    os_build: str = "unknown"
    changes: list[ConfigChange] = field(default_factory=list)
    days: dict[int, dict[str, Any]] = field(default_factory=dict)  # day -> {"m": ..., "a": ...}


@dataclass
class TenantState:
    tenant: str
    devices: dict[str, DeviceHistory] = field(default_factory=dict)
    partition_wm: dict[int, float] = field(default_factory=dict)
    partitions: int = 0  # source partitions there are (all must report before a day is complete)
    evaluated_day: int = -1
    first_day: int = -1
    seq: int = 0  # state writes so far (the newest copy wins on restore)
    tracker: RegressionTracker = field(default_factory=lambda: RegressionTracker(recover_after=2))
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # open regression id -> its message
    periods: dict[str, tuple[int, int]] = field(default_factory=dict)  # open id -> its baseline days


def observe(st: TenantState, msg: Mapping[str, Any]) -> None:
    """Fold one device-daily message in (the full state of that device-day; latest wins), or a
    tick (no ``device``: only a source partition's watermark)."""
    p = int(msg["source_partition"])
    st.partition_wm[p] = max(st.partition_wm.get(p, 0.0), float(msg["watermark"]))
    st.partitions = max(st.partitions, int(msg.get("source_partitions", 0)))
    if "device" not in msg:
        return
    h = st.devices.setdefault(str(msg["device"]), DeviceHistory())
    h.model, h.os_build = msg["model"], msg["os_build"]
    h.changes = [ConfigChange(c[0], c[1], float(c[2])) for c in msg["changes"]]
    day = int(msg["day"])
    h.days[day] = {"m": msg["m"], "a": msg["a"]}
    st.first_day = day if st.first_day < 0 else min(st.first_day, day)


def complete_day(st: TenantState) -> int | None:
    """The last day every source partition has moved past (``None`` until all have reported)."""
    if not st.partition_wm or len(st.partition_wm) < st.partitions:
        return None
    low = min(st.partition_wm.values())
    return int(low) - int(low) % DAY - DAY


def _scope(h: DeviceHistory, stype: str) -> str:
    return "all" if stype == "fleet" else h.model if stype == "model" else h.os_build


def _values(h: DeviceHistory, metric: str, lo: int, hi: int) -> list[float]:
    return [v for d, day in h.days.items() if lo <= d <= hi for v in day["m"].get(metric, ())]


def _medians(st: TenantState, metric: str, lo: int, hi: int) -> dict[str, float]:
    out = {}
    for dev, h in st.devices.items():
        vals = _values(h, metric, lo, hi)
        if vals:
            out[dev] = float(np.median(vals))
    return out


def _p50(values: list[float]) -> float | None:
    return sketch_of(values).quantile(0.5) if values else None


def evaluate_through(
    st: TenantState, end_day: int, cfg: DetectorConfig, baselines: Mapping[str, Snapshot] | None = None
) -> list[dict[str, Any]]:
    """Evaluate every complete day not evaluated yet, in order, up to ``end_day``: the days
    judged do not depend on how far the watermark jumped at once (a replay, a lagging worker)."""
    first = end_day if st.evaluated_day < 0 else st.evaluated_day + DAY
    out: list[dict[str, Any]] = []
    for day in range(first, end_day + DAY, DAY):
        out += evaluate(st, day, cfg, baselines)
    return out


def evaluate(
    st: TenantState, end_day: int, cfg: DetectorConfig, baselines: Mapping[str, Snapshot] | None = None
) -> list[dict[str, Any]]:
    """Run every detection for the complete day ``end_day``; returns regression messages."""
    cur_lo = end_day - (cfg.current_days - 1) * DAY
    base_hi = cur_lo - DAY
    base_lo = base_hi - (cfg.trailing_days - 1) * DAY
    periods: dict[str, tuple[int, int, Snapshot | None]] = {"trailing": (base_lo, base_hi, None)}
    for name, named in (baselines or {}).items():
        periods[name] = (named.start_day, named.end_day, named)
    out: list[dict[str, Any]] = []
    at = float(end_day + DAY)
    st.evaluated_day = end_day
    st.tracker.recover_after = cfg.recover_after
    if st.first_day < 0 or base_hi - st.first_day < (cfg.min_baseline_days - 1) * DAY:
        return out  # not enough history for a baseline yet
    tests: list[_Test] = []
    for metric in cfg.metrics:
        for bname, (lo, hi, snap) in periods.items():
            strata = _strata(st, metric, (lo, hi), (cur_lo, end_day), st.devices)
            for stype in cfg.scopes:
                groups: dict[str, list[str]] = {}
                for dev in st.devices:
                    groups.setdefault(_scope(st.devices[dev], stype), []).append(dev)
                for scope, devs in groups.items():
                    key = (stype, scope, metric, bname)
                    period = _frozen(st, key, (lo, hi))
                    kstrata = (
                        strata if period == (lo, hi) else _strata(st, metric, period, (cur_lo, end_day), devs)
                    )
                    cur_vals = {d: _values(st.devices[d], metric, cur_lo, end_day) for d in devs}
                    if snap is not None:
                        ms = snap.metrics.get((stype, scope, metric))
                        if ms is None:
                            continue
                        base = ms
                    else:
                        bv = {d: _values(st.devices[d], metric, *period) for d in devs}
                        flat = [v for vals in bv.values() for v in vals]
                        base = MetricSnapshot(_p50(flat), len(flat), sum(1 for v in bv.values() if v))
                    flat = [v for vals in cur_vals.values() for v in vals]
                    cur = MetricSnapshot(_p50(flat), len(flat), sum(1 for v in cur_vals.values() if v))
                    det = detect(
                        base,
                        cur,
                        [kstrata[d] for d in devs if d in kstrata],
                        cfg.regression,
                        is_lower_better(metric),
                    )
                    tests.append(_Test(key, det, period, devs))
    tests += _apps(st, cfg, cur_lo, end_day, base_lo, base_hi)
    adjusted = fdr_adjust([t.det for t in tests], cfg.regression)
    for t, det in zip(tests, adjusted, strict=True):
        out += _track(st, t.key, det, at, cfg, t.period, end_day, t.devs, t.app_version)
    return out


@dataclass(frozen=True)
class _Test:
    key: tuple[str, str, str, str]
    det: Detection
    period: tuple[int, int]
    devs: list[str]
    app_version: tuple[str, str] | None = None


def _strata(
    st: TenantState, metric: str, base: tuple[int, int], cur: tuple[int, int], devs: Iterable[str]
) -> dict[str, Stratum]:
    """Each device's current values ranked against its own baseline values (devices with both)."""
    out = {}
    for dev in devs:
        h = st.devices[dev]
        s = stratum(_values(h, metric, *cur), _values(h, metric, *base))
        if s is not None:
            out[dev] = s
    return out


def _frozen(st: TenantState, key: tuple[str, str, str, str], period: tuple[int, int]) -> tuple[int, int]:
    """While a regression is open its baseline stays the one it was detected against, so it
    closes on recovery, not because the trailing window absorbed the regressed days."""
    op = st.tracker.open.get(key)
    frozen = st.periods.get(op.regression_id) if op is not None else None
    return period if frozen is None else frozen


def _app_totals(st: TenantState, lo: int, hi: int, cap: int) -> dict[tuple[str, str], list[Any]]:
    """(app, version) -> [crashes (capped per device-day), usage ms, devices]."""
    out: dict[tuple[str, str], list[Any]] = {}
    for dev, h in st.devices.items():
        for d, day in h.days.items():
            if lo <= d <= hi:
                for av, (usage, crashes) in day["a"].items():
                    app, _, ver = av.partition("|")
                    t = out.setdefault((app, ver), [0, 0, set()])
                    t[0] += min(int(crashes), cap)
                    t[1] += int(usage)
                    t[2].add(dev)
    return out


def _apps(
    st: TenantState, cfg: DetectorConfig, cur_lo: int, end_day: int, base_lo: int, base_hi: int
) -> list[_Test]:
    cur = _app_totals(st, cur_lo, end_day, cfg.crash_cap_per_day)
    base = _app_totals(st, base_lo, base_hi, cfg.crash_cap_per_day)
    per_app: dict[str, list[Any]] = {}
    for (app, ver), (x, u, devs) in base.items():
        per_app.setdefault(app, []).append((ver, x, u, devs))
    out: list[_Test] = []
    for (app, ver), (x, u, devs) in sorted(cur.items()):
        others = [b for b in per_app.get(app, ()) if b[0] != ver]  # the app's other versions
        if not others or x < cfg.min_crashes:
            continue
        bx, bu = sum(b[1] for b in others), sum(b[2] for b in others)
        bdevs = set().union(*(b[3] for b in others))
        det = detect_rate(bx, bu / 3.6e6, x, u / 3.6e6, len(bdevs), len(devs), cfg.regression)
        key = ("app_version", f"{app}|{ver}", APP_CRASH_RATE, "trailing")
        out.append(_Test(key, det, (base_lo, base_hi), sorted(devs), (app, ver)))
    return out


def _track(
    st: TenantState,
    key: tuple[str, str, str, str],
    det: Detection,
    at: float,
    cfg: DetectorConfig,
    period: tuple[int, int],
    end_day: int,
    devs: list[str],
    app_version: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    ev = st.tracker.observe(key, det, at)
    if ev is None:
        return []
    if ev.kind == "close":
        st.periods.pop(ev.regression_id, None)
        doc = {**st.docs.pop(ev.regression_id, {}), "status": "closed", "closed_at": rfc3339(at)}
        return [doc] if doc.get("regression_id") else []
    st.periods[ev.regression_id] = period
    started, causes = _start_and_causes(st, key, period[0], end_day, devs, cfg, app_version)
    doc = {
        "regression_id": ev.regression_id,
        "status": "open",
        "tenant": st.tenant,
        "scope_type": key[0],
        "scope": key[1],
        "metric": key[2],
        "baseline_name": key[3],
        "baseline_value": det.baseline_value,
        "current_value": det.current_value,
        "change_pct": None if det.change is None else det.change * 100.0,
        "devices_baseline": det.n_baseline,
        "devices_current": det.n_current,
        "test": det.test,
        "p_value": det.p_value,
        "p_value_raw": det.p_raw,
        "started_at": rfc3339(started),
        "detected_at": rfc3339(at),
        "closed_at": None,
        "causes": [
            {
                "change_id": c.change_id,
                "change_name": c.change_name,
                "prevalence_affected": c.prevalence_affected,
                "prevalence_unaffected": c.prevalence_unaffected,
                "lift": c.lift,
            }
            for c in causes[:5]
        ],
    }
    st.docs[ev.regression_id] = doc
    return [doc]


def _start_and_causes(
    st: TenantState,
    key: tuple[str, str, str, str],
    lo: int,
    end_day: int,
    devs: list[str],
    cfg: DetectorConfig,
    app_version: tuple[str, str] | None,
) -> tuple[float, list[Any]]:
    days = list(range(lo, end_day + DAY, DAY))
    if app_version is not None:
        av = "|".join(app_version)
        users: dict[int, set[str]] = {}
        for dev, h in st.devices.items():
            for d, day in h.days.items():
                if av in day["a"]:
                    users.setdefault(d, set()).add(dev)
        # its first day with enough devices (a few devices in far time zones start it a day early)
        first = min((d for d, u in users.items() if len(u) >= cfg.regression.min_devices), default=lo)
        affected = set(devs)
        others = {d for d, h in st.devices.items() if any(first <= x <= end_day for x in h.days)}
        return float(first), attribute(
            {d: st.devices[d].changes for d in st.devices}, affected, others - affected, float(first)
        )
    _stype, _, metric, _ = key
    daily = [[v for dev in devs for v in _values(st.devices[dev], metric, d, d)] for d in days]
    sizes = [len(v) for v in daily if v]
    enough = max(5.0, 0.5 * float(np.median(sizes))) if sizes else 5.0
    series, sdays = [], []
    for d, vals in zip(days, daily, strict=True):
        p = _p50(vals)
        if p is not None and len(vals) >= enough:  # thin days (weekends) would place it wrongly
            series.append(p)
            sdays.append(d)
    cp = change_point(
        series, cfg.regression.change_point_min_segment, direction=1 if is_lower_better(metric) else -1
    )
    start = sdays[cp.index] if cp is not None else end_day - (cfg.current_days - 1) * DAY
    before = _medians(st, metric, lo, start - DAY)
    after = _medians(st, metric, start, end_day)
    worse = 1.0 + cfg.regression.threshold
    scope_devs = set(devs)
    affected = {d for d in scope_devs if d in before and d in after and after[d] > before[d] * worse}
    both = {d for d in before if d in after}
    return float(start), attribute(
        {d: st.devices[d].changes for d in both}, affected, both - affected, float(start)
    )
