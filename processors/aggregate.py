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
from typing import Any

from processors import metrics_def as md
from processors.device_state import UNKNOWN_CENSUS, DeviceCensus
from processors.partials import DAY, AppState, Partials
from processors.samples import DEFAULT_CAP
from processors.sketch import DEFAULT_ALPHA, DEFAULT_MAX_BUCKETS
from processors.timings import FLEET, Cols, aggregate_timings, scope_value

CrashKey = tuple[str, str, int]


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
        h = int(
            datetime(
                int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10]), int(prefix[11:13]), tzinfo=UTC
            ).timestamp()
        )
        cache[prefix] = h
    return h


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

    boots = Cols()
    logons = Cols()
    for ev in events:
        name = ev["name"]
        dev = ev["ext"]["device"]["localId"]
        t = ev["time"]
        h = hcache.get(t[:13])
        if h is None:
            h = _hour_start(t, hcache)
        data = ev["data"]
        if name == md.BOOT_EVENT or name == md.LOGON_EVENT:
            excluded = md.excluded_counter(name, data)
            if excluded is not None:
                _count(out, cfg, h, dev, census, excluded)
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
        aggregate_timings(out, cfg, census, metrics, dev_ids, boots, logons)
    return out, counts


def _count(
    out: Partials, cfg: AggregateConfig, h: int, dev: str, census: Mapping[str, DeviceCensus], counter: str
) -> None:
    c = census.get(dev, UNKNOWN_CENSUS)
    scopes = [(s, scope_value(c, s)) for s in cfg.scopes]
    if cfg.counter_device_scope:
        scopes.append(("device", dev))
    for kind in cfg.windows:
        ws = h if kind == "hour" else h - h % DAY
        for stype, scope in scopes:
            key = (kind, ws, stype, scope, counter)
            out.counters[key] = out.counters.get(key, 0) + 1


def _app_event(
    out: Partials,
    cfg: AggregateConfig,
    counts: dict[CrashKey, int],
    name: str,
    h: int,
    dev: str,
    c: DeviceCensus,
    data: Mapping[str, Any],
) -> None:
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
        usage = min(
            int(data["userActiveDurationMs"]) + int(data.get("audioOutMs") or 0),
            int(data["aggregationDurationMs"]),
        )
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
