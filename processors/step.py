"""Stage 1, the one pure step: ``step(group_state, records, cfg) -> StepResult``.

The faust agent groups a batch by source partition and tenant and calls this once per group;
nothing here knows about Kafka. Sub-steps (their names are the log and metric labels):

1. ``device_state`` — in offset order: a record at or below the group's applied offset was
   folded in already (a redelivery) and is counted ``redelivered`` and skipped; an event older
   than ``watermark - max_lateness`` is counted ``late_dropped`` and skipped; a boot id lower
   than the device's last is quarantined (counted, not used); census / inventory / boot /
   sign-in update the device state, ``Fleet.Config.Change`` appends a
   :class:`~processors.attribution.ConfigChange`; the watermark (max event time seen) advances;
   an accepted event behind it is counted ``late_updated``.
2. ``aggregate`` — :func:`processors.aggregate.aggregate` with the census lookup and the crash
   counters of the batch's devices; per-device values go to the device records' days.
3. ``merge`` — the batch partial is merged into the running partials with ``consume=True`` (it is
   dropped afterwards); every cell it touched is *changed* and gets version = max offset.
4. ``expire`` — hour cells whose window ended more than ``max_lateness + grace`` before the
   watermark and day cells older than ``day_retention_days`` are closed and dropped; device days,
   changes and crash counters are pruned likewise. Windows therefore always expire.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from processors import metrics_def as md
from processors.aggregate import DEFAULT_AGGREGATE, AggregateConfig, aggregate, event_epoch, is_too_late
from processors.attribution import change_from_event
from processors.device_state import DeviceCensus, DeviceState, apply_event
from processors.partials import DAY, HOUR, Key, Partials, merge_into
from processors.samples import DeviceSamples
from processors.state import CellKey, DeviceRecord, GroupState
from processors.timings import FLEET, scope_value

Record = tuple[int, Mapping[str, Any]]  # (source offset, decoded event)


@dataclass(frozen=True)
class StepConfig:
    aggregate: AggregateConfig = DEFAULT_AGGREGATE
    window_grace_s: float = 3600.0
    day_retention_days: int = 30
    device_values_cap: int = 64  # values kept per (device, day, metric): the first ones


@dataclass
class StepResult:
    changed: set[CellKey] = field(default_factory=set)
    closed: set[CellKey] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)  # device records changed
    device_days: set[tuple[str, int]] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    max_offset: int = -1


_COUNT_NAMES = (
    "processed",
    "redelivered",
    "accepted",
    "quarantined",
    "late_updated",
    "late_dropped",
    "windows_opened",
    "windows_closed",
)


def step(g: GroupState, records: Sequence[Record], cfg: StepConfig = StepConfig()) -> StepResult:
    """Fold one batch of one (partition, tenant) group into ``g`` (in place); see module doc."""
    res = StepResult(counts=dict.fromkeys(_COUNT_NAMES, 0))
    res.counts["processed"] = len(records)
    t0 = time.perf_counter()
    prev_wm = g.watermark
    accepted = _device_state(g, records, cfg, res)
    t1 = time.perf_counter()
    batch, extra_sets = _aggregate(g, accepted, cfg, res)
    t2 = time.perf_counter()
    if accepted:
        _merge(g, batch, extra_sets, res)
    t3 = time.perf_counter()
    if int(g.watermark) // HOUR != int(prev_wm) // HOUR:  # expiry moves on hour boundaries only
        _expire(g, cfg, res)
    res.seconds = {
        "device_state": t1 - t0,
        "aggregate": t2 - t1,
        "merge": t3 - t2,
        "expire": time.perf_counter() - t3,
    }
    return res


def _device_state(
    g: GroupState, records: Sequence[Record], cfg: StepConfig, res: StepResult
) -> list[tuple[Mapping[str, Any], DeviceCensus]]:
    lateness = cfg.aggregate.max_lateness_s
    accepted: list[tuple[Mapping[str, Any], DeviceCensus]] = []
    for off, ev in records:
        if off <= g.applied_offset:
            # already folded in (its state committed with it): faust 0.15 can hand a batch's
            # last event to the next batch too; counting it twice would double app usage
            res.counts["redelivered"] += 1
            continue
        g.applied_offset = off
        res.max_offset = max(res.max_offset, off)
        t = event_epoch(ev["time"])
        if is_too_late(t, g.watermark, lateness):
            res.counts["late_dropped"] += 1
            continue
        dev = str(ev["ext"]["device"]["localId"])
        rec = g.devices.get(dev)
        if rec is None:
            rec = g.devices[dev] = DeviceRecord(DeviceState(dev))
        new, bad = apply_event(rec.state, ev)
        rec.state = new
        res.devices.add(dev)
        if bad:
            res.counts["quarantined"] += 1
            continue
        if ev["name"] == md.CONFIG_CHANGE_EVENT:
            rec.changes.append(change_from_event(ev, event_epoch(ev["data"]["appliedTime"]))[1])
        if t < g.watermark:
            res.counts["late_updated"] += 1
        else:
            g.watermark = t
        day = int(t) - int(t) % DAY
        res.device_days.add((dev, day))
        if ev["name"] in (md.APP_USAGE_EVENT, md.APP_CRASH_EVENT):
            _device_app(rec, day, ev)
        accepted.append((ev, rec.state.census))  # the census as of this event
    res.counts["accepted"] = len(accepted)
    return accepted


def _device_app(rec: DeviceRecord, day: int, ev: Mapping[str, Any]) -> None:
    d = ev["data"]
    apps = rec.days.setdefault(day, {}).setdefault("a", {})
    cell = apps.setdefault(f"{d['appName']}|{d['appVersion']}", [0, 0])
    if ev["name"] == md.APP_CRASH_EVENT:
        cell[1] += 1
    else:
        cell[0] += min(
            int(d["userActiveDurationMs"]) + int(d.get("audioOutMs") or 0), int(d["aggregationDurationMs"])
        )


def _aggregate(
    g: GroupState, accepted: list[tuple[Mapping[str, Any], DeviceCensus]], cfg: StepConfig, res: StepResult
) -> tuple[Partials, dict[Key, set[str]]]:
    """Aggregate in runs within which no device changes census, so every event is scoped by the
    census *as of that event* — the result does not depend on where batch boundaries fall."""
    total = Partials()
    sets: dict[Key, set[str]] = {}
    run: list[Mapping[str, Any]] = []
    census: dict[str, DeviceCensus] = {}
    for ev, c in accepted:
        dev = str(ev["ext"]["device"]["localId"])
        if census.get(dev, c) != c:
            _aggregate_run(g, run, census, cfg, total, sets)
            run, census = [], {}
        census[dev] = c
        run.append(ev)
    _aggregate_run(g, run, census, cfg, total, sets)
    return total, sets


def _aggregate_run(
    g: GroupState,
    run: list[Mapping[str, Any]],
    census: dict[str, DeviceCensus],
    cfg: StepConfig,
    total: Partials,
    sets: dict[Key, set[str]],
) -> None:
    if not run:
        return
    crash_in = {(d, a, day): n for d in census for (a, day), n in g.devices[d].crash_counts.items()}
    batch, crash_out = aggregate(run, census, crash_in, cfg.aggregate)
    for (d, a, day), n in crash_out.items():
        g.devices[d].crash_counts[(a, day)] = n
    s = batch.samples
    for day, dev, metric, value in zip(
        s.day.tolist(), s.device.tolist(), s.metric.tolist(), s.value.tolist(), strict=True
    ):
        vals = g.devices[dev].days.setdefault(day, {}).setdefault("m", {}).setdefault(metric, [])
        if len(vals) < cfg.device_values_cap:
            vals.append(value)
    batch.samples = DeviceSamples.empty()
    merge_into(total, batch, consume=True)  # the run's partial is not used again
    for k, devs in _device_sets(run, census, cfg.aggregate).items():
        sets.setdefault(k, set()).update(devs)


def _device_sets(
    accepted: list[Mapping[str, Any]], census: Mapping[str, Any], cfg: AggregateConfig
) -> dict[Key, set[str]]:
    """Devices behind crash (app cells) and counter cells, which the partials do not keep."""
    out: dict[Key, set[str]] = {}
    for ev in accepted:
        name, data = ev["name"], ev["data"]
        dev = str(ev["ext"]["device"]["localId"])
        c = census[dev]
        if name == md.APP_CRASH_EVENT:
            app, ver = str(data["appName"]), str(data["appVersion"])
            scopes = [("app", FLEET), ("app_version", ver), ("model", c.model), ("os_build", c.os_build)]
            names = [app]
        else:
            names = _counter_names(name, data)
            if not names:
                continue
            scopes = [(s, scope_value(c, s)) for s in cfg.scopes]
            if cfg.counter_device_scope:
                scopes.append(("device", dev))
        h = event_hour(ev["time"])
        for kind in cfg.windows:
            ws = h if kind == "hour" else h - h % DAY
            for st, sc in scopes:
                for n in names:
                    out.setdefault((kind, ws, st, sc, n), set()).add(dev)
    return out


def event_hour(t: str) -> int:
    return int(event_epoch(t[:13] + ":00:00Z"))


def _counter_names(name: str, data: Mapping[str, Any]) -> list[str]:
    if name == md.TRANSITION_EVENT:
        cat = str(data["category"])
        out = [md.COUNTER_RESTARTS, md.RESTART_COUNTER.get(cat, "restarts_unknown")]
        return [*out, md.COUNTER_RESTARTS_ABNORMAL] if cat in md.ABNORMAL_CATEGORIES else out
    if name == md.STOP_ERROR_EVENT:
        return [md.COUNTER_STOP_ERRORS]
    excluded = md.excluded_counter(name, data)
    return [] if excluded is None else [excluded]


def _merge(g: GroupState, batch: Any, extra: dict[Key, set[str]], res: StepResult) -> None:
    p = g.partials
    changed = (
        [("metric", k) for k in batch.metrics if k not in p.metrics]
        + [("app", k) for k in batch.apps if k not in p.apps]
        + [("counter", k) for k in batch.counters if k not in p.counters]
    )
    res.counts["windows_opened"] = len(changed)
    res.changed.update(("metric", k) for k in batch.metrics)
    res.changed.update(("app", k) for k in batch.apps)
    res.changed.update(("counter", k) for k in batch.counters)
    merge_into(p, batch, consume=True)  # the batch partial is not used again
    for k, devs in extra.items():
        target = g.crash_devices if k in p.apps else g.counter_devices
        target.setdefault(k, set()).update(devs)
    for ck in res.changed:
        g.versions[ck] = res.max_offset


def _expire(g: GroupState, cfg: StepConfig, res: StepResult) -> None:
    wm = g.watermark
    hour_cut = wm - cfg.aggregate.max_lateness_s - cfg.window_grace_s
    day_cut = wm - cfg.day_retention_days * DAY
    p = g.partials
    _drop(g, "metric", p.metrics, hour_cut, day_cut, res)
    _drop(g, "app", p.apps, hour_cut, day_cut, res)
    _drop(g, "counter", p.counters, hour_cut, day_cut, res)
    res.changed -= res.closed
    res.counts["windows_closed"] = len(res.closed)
    crash_cut = wm - cfg.aggregate.max_lateness_s - DAY
    for dev, rec in g.devices.items():
        if rec.days and min(rec.days) < day_cut:
            rec.days = {d: v for d, v in rec.days.items() if d >= day_cut}
            res.devices.add(dev)
        if rec.crash_counts and min(d for _, d in rec.crash_counts) < crash_cut:
            rec.crash_counts = {k: n for k, n in rec.crash_counts.items() if k[1] >= crash_cut}
            res.devices.add(dev)
        if rec.changes and rec.changes[0].applied_time < day_cut:
            rec.changes = [c for c in rec.changes if c.applied_time >= day_cut]
            res.devices.add(dev)


def _drop(
    g: GroupState, kind: str, cells: dict[Key, Any], hour_cut: float, day_cut: float, res: StepResult
) -> None:
    # a cell this batch changed closes at the next expiry instead: the events that changed it were
    # in time when they came, and its final state must still be emitted (a later event for it is
    # always too late), so what is emitted does not depend on where batches end
    for k in [
        k
        for k in cells
        if k[1] + (HOUR if k[0] == "hour" else DAY) <= (hour_cut if k[0] == "hour" else day_cut)
        and (kind, k) not in res.changed
    ]:
        del cells[k]
        g.versions.pop((kind, k), None)
        g.crash_devices.pop(k, None)
        g.counter_devices.pop(k, None)
        res.closed.add((kind, k))
