"""Pure batch aggregation of validated events into mergeable partials.

``aggregate(events, census, crash_counts, cfg) -> (Partials, crash_counts)``: one Python pass
extracts columns (time, device, values); grouping and sketch updates are numpy (``np.unique`` +
one ``add_many`` per group), so cost per event is a handful of dict reads, not a call chain.

Windows are tumbling hours and UTC days by **event time** (``time``), never receive time, so a
late event (accepted for ``max_lateness`` = 96 h by default, see :func:`is_too_late`) lands in
its own window and merges into it. Rolling 14/28/30-day figures: :func:`processors.partials.rolling`.

App crashes count at most ``crash_cap_per_day`` (10) per (device, app, UTC day). That needs state
across batches: ``crash_counts`` maps ``(device, app, day_start) -> crashes seen``; the function
takes it and returns the updated copy (prune old days with :func:`prune_crash_counts`). Kafka is
keyed by device id, so one worker sees all of a device's events and the counter is local.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from processors import metrics_def as md
from processors.device_state import UNKNOWN_CENSUS, DeviceCensus
from processors.partials import DAY, AppState, Key, MetricState, Partials
from processors.samples import DEFAULT_CAP, DeviceSamples
from processors.sketch import DEFAULT_ALPHA, DEFAULT_MAX_BUCKETS, DDSketch

CrashKey = tuple[str, str, int]


class _Cols:
    """Columns of one event type in a batch: hour start, device code, data dict."""

    __slots__ = ("data", "dev", "hour")

    def __init__(self) -> None:
        self.hour: list[int] = []
        self.dev: list[int] = []
        self.data: list[dict[str, Any]] = []
FLEET = "all"


@dataclass(frozen=True)
class AggregateConfig:
    windows: tuple[str, ...] = ("hour", "day")
    scopes: tuple[str, ...] = ("fleet", "model", "os_build", "disk_type", "join_type")
    counter_device_scope: bool = True  # restarts / stop errors also per device
    crash_cap_per_day: int = 10
    sketch_alpha: float = DEFAULT_ALPHA
    sketch_max_buckets: int = DEFAULT_MAX_BUCKETS
    samples_cap: int = DEFAULT_CAP
    max_lateness_s: float = 96 * 3600.0


DEFAULT_AGGREGATE = AggregateConfig()


def event_epoch(time: str) -> float:
    """Epoch seconds of an RFC 3339 UTC time (``...Z``, up to 7 fractional digits)."""
    head, _, frac = time.rstrip("Z").partition(".")
    base = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def is_too_late(event_time: float, watermark: float, max_lateness: float = 96 * 3600.0) -> bool:
    """True when an event (epoch s) is older than ``watermark - max_lateness`` and must be dropped."""
    return event_time < watermark - max_lateness


def _hour_start(time: str, cache: dict[str, int]) -> int:
    prefix = time[:13]
    h = cache.get(prefix)
    if h is None:
        h = int(datetime(int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10]), int(prefix[11:13]),
                         tzinfo=UTC).timestamp())
        cache[prefix] = h
    return h


def _scope_value(census: DeviceCensus, stype: str) -> str:
    return FLEET if stype == "fleet" else census.scope(stype)


def prune_crash_counts(counts: Mapping[CrashKey, int], before_day: int) -> dict[CrashKey, int]:
    """Drop counter entries of days before ``before_day`` (no late event can reach them)."""
    return {k: v for k, v in counts.items() if k[2] >= before_day}


def aggregate(
    events: Iterable[Mapping[str, Any]],
    census: Mapping[str, DeviceCensus],
    crash_counts: Mapping[CrashKey, int] | None = None,
    cfg: AggregateConfig = DEFAULT_AGGREGATE,
) -> tuple[Partials, dict[CrashKey, int]]:
    """Aggregate one batch of validated (and not quarantined) events; see the module docstring."""
    out = Partials()
    counts = dict(crash_counts or {})
    hcache: dict[str, int] = {}
    dev_code: dict[str, int] = {}
    dev_ids: list[str] = []
    # columns of the timing metrics: metric index -> (hour, device code, value)
    metrics = md.TIMING_METRICS

    boots = _Cols()
    logons = _Cols()
    for ev in events:
        name = ev["name"]
        dev = ev["ext"]["device"]["localId"]
        t = ev["time"]
        h = hcache.get(t[:13])
        if h is None:
            h = _hour_start(t, hcache)
        data = ev["data"]
        if name == md.BOOT_EVENT or name == md.LOGON_EVENT:
            if name == md.LOGON_EVENT and (data.get("isFirstLogonForUser")
                                           or data.get("isAfterFeatureUpdate")):
                _count(out, cfg, h, dev, census, md.COUNTER_LOGONS_EXCLUDED)
                continue
            code = dev_code.get(dev)
            if code is None:
                code = dev_code[dev] = len(dev_ids)
                dev_ids.append(dev)
            cols = boots if name == md.BOOT_EVENT else logons
            cols.hour.append(h)
            cols.dev.append(code)
            cols.data.append(data)
        elif name == md.APP_CRASH_EVENT or name == md.APP_HANG_EVENT or name == md.APP_USAGE_EVENT:
            _app_event(out, cfg, counts, name, h, dev, census.get(dev, UNKNOWN_CENSUS), data)
        elif name == md.TRANSITION_EVENT:
            cat = str(data["category"])
            _count(out, cfg, h, dev, census, md.COUNTER_RESTARTS)
            _count(out, cfg, h, dev, census, md.RESTART_COUNTER.get(cat, "restarts_unknown"))
            if cat in md.ABNORMAL_CATEGORIES:
                _count(out, cfg, h, dev, census, md.COUNTER_RESTARTS_ABNORMAL)
        elif name == md.STOP_ERROR_EVENT:
            _count(out, cfg, h, dev, census, md.COUNTER_STOP_ERRORS)

    if dev_ids:
        _timings(out, cfg, census, metrics, dev_ids, boots, logons)
    return out, counts


def _count(out: Partials, cfg: AggregateConfig, h: int, dev: str, census: Mapping[str, DeviceCensus],
           counter: str) -> None:
    c = census.get(dev, UNKNOWN_CENSUS)
    scopes = [(s, _scope_value(c, s)) for s in cfg.scopes]
    if cfg.counter_device_scope:
        scopes.append(("device", dev))
    for kind in cfg.windows:
        ws = h if kind == "hour" else h - h % DAY
        for stype, scope in scopes:
            key = (kind, ws, stype, scope, counter)
            out.counters[key] = out.counters.get(key, 0) + 1


def _app_event(out: Partials, cfg: AggregateConfig, counts: dict[CrashKey, int], name: str, h: int,
               dev: str, c: DeviceCensus, data: Mapping[str, Any]) -> None:
    app, ver = str(data["appName"]), str(data["appVersion"])
    day = h - h % DAY
    crash = name == md.APP_CRASH_EVENT
    counted = 0
    usage = 0
    if crash:
        ck = (dev, app, day)
        seen = counts.get(ck, 0)
        counted = 1 if seen < cfg.crash_cap_per_day else 0
        counts[ck] = seen + 1
    elif name == md.APP_USAGE_EVENT:
        usage = min(int(data["userActiveDurationMs"]) + int(data.get("audioOutMs") or 0),
                    int(data["aggregationDurationMs"]))
    scopes = (("app", FLEET), ("app_version", ver), ("model", c.model), ("os_build", c.os_build))
    for kind in cfg.windows:
        ws = h if kind == "hour" else day
        for stype, scope in scopes:
            key = (kind, ws, stype, scope, app)
            st = out.apps.get(key)
            if st is None:
                st = out.apps[key] = AppState()
            st.devices.add(dev)
            if crash:
                st.crashes += counted
                st.crashes_raw += 1
            elif name == md.APP_USAGE_EVENT:
                st.usage_ms += usage
            else:
                st.hangs += 1


def _timings(out: Partials, cfg: AggregateConfig, census: Mapping[str, DeviceCensus],
             metrics: tuple[md.MetricDef, ...], dev_ids: list[str],
             boots: _Cols, logons: _Cols) -> None:
    parts_h, parts_d, parts_v, parts_m = [], [], [], []
    arrays = {id(c): (np.asarray(c.hour, dtype=np.int64), np.asarray(c.dev, dtype=np.int64))
              for c in (boots, logons)}
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
            _days_from_hours(out)
            continue
        ws = hour if kind == "hour" else hour - hour % DAY
        wu, winv = np.unique(ws, return_inverse=True)
        for stype in cfg.scopes:
            scope_names: list[str] = []
            scope_idx: dict[str, int] = {}
            per_dev = np.empty(len(dev_ids), dtype=np.int64)
            for j, d in enumerate(dev_ids):
                s = _scope_value(census.get(d, UNKNOWN_CENSUS), stype)
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


def _days_from_hours(out: Partials) -> None:
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


def _group_into(out: Partials, cfg: AggregateConfig, kind: str, stype: str, key: npt.NDArray[np.int64],
                wu: npt.NDArray[np.int64], scope_names: list[str], names: list[str], n_sc: int, n_met: int,
                dev: npt.NDArray[np.int64], dev_arr: npt.NDArray[np.object_],
                val: npt.NDArray[np.float64]) -> None:
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
    for s, e, k, ds, de in zip(starts.tolist(), ends.tolist(), k_sorted[starts].tolist(), d_starts.tolist(),
                               d_ends.tolist(), strict=True):
        w, rest = divmod(k, n_sc * n_met)
        sc, m = divmod(rest, n_met)
        mk: Key = (kind, int(wu[w]), stype, scope_names[sc], names[m])
        st = out.metrics.get(mk)
        if st is None:
            st = out.metrics[mk] = MetricState(DDSketch(cfg.sketch_alpha, cfg.sketch_max_buckets))
        st.sketch.add_many(val[order[s:e]])
        st.devices.update(dev_of_first[ds:de].tolist())
