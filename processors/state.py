"""Stage-1 state of one (source partition, tenant) group, and its compact changelog form.

A :class:`GroupState` is the running aggregate of every event of one tenant read from one source
partition: the merged :class:`~processors.partials.Partials` (no samples: per-device values live
in the device records), per-cell versions (highest source offset folded in), device sets the
partials do not keep (crash devices, counter devices), the partition watermark (max event time
seen) and one :class:`DeviceRecord` per device.

Table layout (one faust table, every key carries partition and tenant, ``\\x1f``-joined):

* ``C|p|tenant|kind|window_kind|window_start|scope_type|scope|name`` -> cell (kind ``metric``,
  ``app`` or ``counter``), JSON with the sketch as base64 of ``DDSketch.to_bytes()``;
* ``D|p|tenant|device`` -> device record; ``W|p|tenant`` -> group meta (watermark).

:func:`encode_*`/:func:`decode_*` are exact inverses; :func:`restore` rebuilds the groups of a
partition from table items, so a restarted worker continues where the changelog ends.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from processors.attribution import ConfigChange
from processors.device_state import DeviceCensus, DeviceState
from processors.partials import AppState, Key, MetricState, Partials
from processors.sketch import DDSketch

SEP = "\x1f"
CellKey = tuple[str, Key]  # (cell kind: metric | app | counter, partials key)


@dataclass
class DeviceRecord:
    state: DeviceState
    crash_counts: dict[tuple[str, int], int] = field(default_factory=dict)  # (app, day) -> crashes
    changes: list[ConfigChange] = field(default_factory=list)
    # day -> {"m": {metric: [values]}, "a": {"app|version": [usage_ms, crashes]}}
    days: dict[int, dict[str, dict[str, list[float]]]] = field(default_factory=dict)


@dataclass
class GroupState:
    partition: int
    tenant: str
    partials: Partials = field(default_factory=Partials)
    versions: dict[CellKey, int] = field(default_factory=dict)
    crash_devices: dict[Key, set[str]] = field(default_factory=dict)
    counter_devices: dict[Key, set[str]] = field(default_factory=dict)
    watermark: float = 0.0
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    # highest source offset folded in: a record at or below it is a redelivery (skipped)
    applied_offset: int = -1


def cell_table_key(g: GroupState, ck: CellKey) -> str:
    kind, (wk, ws, st, sc, name) = ck
    return SEP.join(("C", str(g.partition), g.tenant, kind, wk, str(ws), st, sc, name))


def device_table_key(g: GroupState, device: str) -> str:
    return SEP.join(("D", str(g.partition), g.tenant, device))


def meta_table_key(g: GroupState) -> str:
    return SEP.join(("W", str(g.partition), g.tenant))


def encode_meta(g: GroupState) -> bytes:
    return orjson.dumps({"wm": g.watermark, "off": g.applied_offset})


def encode_cell(g: GroupState, ck: CellKey) -> bytes:
    kind, key = ck
    v = g.versions.get(ck, -1)
    if kind == "metric":
        m = g.partials.metrics[key]
        return orjson.dumps(
            {"s": base64.b64encode(m.sketch.to_bytes()).decode(), "d": sorted(m.devices), "v": v}
        )
    if kind == "app":
        a = g.partials.apps[key]
        return orjson.dumps(
            {
                "d": sorted(a.devices),
                "cd": sorted(g.crash_devices.get(key, ())),
                "u": a.usage_ms,
                "c": a.crashes,
                "cr": a.crashes_raw,
                "h": a.hangs,
                "v": v,
            }
        )
    return orjson.dumps({"n": g.partials.counters[key], "d": sorted(g.counter_devices.get(key, ())), "v": v})


def encode_device(rec: DeviceRecord) -> bytes:
    st = rec.state
    c = st.census
    return orjson.dumps(
        {
            "c": [c.model, c.os_build, c.disk_type, c.join_type],
            "apps": sorted(st.apps),
            "b": st.last_boot_id,
            "q": st.quarantined,
            "cc": [[a, d, n] for (a, d), n in rec.crash_counts.items()],
            "ch": [[x.change_id, x.change_name, x.applied_time, x.change_type] for x in rec.changes],
            "days": {str(d): v for d, v in rec.days.items()},
        }
    )


def decode_device(device: str, blob: bytes) -> DeviceRecord:
    d = orjson.loads(blob)
    census = DeviceCensus(*d["c"])
    st = DeviceState(device, census, frozenset((a, v) for a, v in d["apps"]), d["b"], d["q"])
    return DeviceRecord(
        st,
        {(a, int(day)): n for a, day, n in d["cc"]},
        [ConfigChange(i, n, t, ty) for i, n, t, ty in d["ch"]],
        {int(k): v for k, v in d["days"].items()},
    )


def _apply_cell(g: GroupState, kind: str, key: Key, blob: bytes) -> None:
    d = orjson.loads(blob)
    g.versions[(kind, key)] = int(d["v"])
    if kind == "metric":
        g.partials.metrics[key] = MetricState(DDSketch.from_bytes(base64.b64decode(d["s"])), set(d["d"]))
    elif kind == "app":
        g.partials.apps[key] = AppState(set(d["d"]), d["u"], d["c"], d["cr"], d["h"])
        if d["cd"]:
            g.crash_devices[key] = set(d["cd"])
    else:
        g.partials.counters[key] = int(d["n"])
        if d["d"]:
            g.counter_devices[key] = set(d["d"])


def restore(partition: int, items: Iterable[tuple[str, bytes]]) -> dict[str, GroupState]:
    """Rebuild the groups (by tenant) of one partition from table items (other partitions skipped)."""
    groups: dict[str, GroupState] = {}
    p = str(partition)
    for tkey, blob in items:
        parts = tkey.split(SEP)
        if len(parts) < 3 or parts[1] != p or blob is None:
            continue
        g = groups.get(parts[2])
        if g is None:
            g = groups[parts[2]] = GroupState(partition, parts[2])
        if parts[0] == "C":
            _, _, _, kind, wk, ws, st, sc, name = parts
            _apply_cell(g, kind, (wk, int(ws), st, sc, name), blob)
        elif parts[0] == "D":
            g.devices[parts[3]] = decode_device(parts[3], blob)
        elif parts[0] == "W":
            meta = orjson.loads(blob)
            g.watermark = float(meta["wm"])
            g.applied_offset = int(meta.get("off", -1))
    return groups
