"""Stage-1 output: the full state of every changed cell, and the per-device daily summaries.

``aggregate_messages(g, changed)`` -> ``[(key, value)]`` for ``telemetry.aggregates.v1`` with
key ``f"{scope_type}:{scope}"`` and one of three JSON shapes (``kind`` = ``metric`` | ``app`` |
``counter``; field names are the sink's contract, see docs/processors.md). A cell changed
several times in a batch is emitted once (``changed`` is a set).

``device_daily_messages(g, device_days)`` -> ``[(key, value)]`` for the internal topic
``telemetry.device-daily.v1`` (key = tenant, so stage 2 sees a whole tenant): the full state of a
(device, day) — the device's values per metric, app usage/crashes per app version — plus the
device's census and its retained configuration changes, and the source partition's watermark
and the number of source partitions; ``tick_message`` carries only the last two (no device).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from processors.state import CellKey, GroupState

QUANTILES = (0.5, 0.9, 0.99)


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def aggregate_messages(g: GroupState, changed: Iterable[CellKey]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    p = g.partials
    for ck in sorted(changed):
        kind, (wk, ws, st, sc, name) = ck
        base: dict[str, Any] = {
            "kind": kind,
            "tenant": g.tenant,
            "window_kind": wk,
            "window_start": rfc3339(ws),
            "scope_type": st,
            "scope": sc,
        }
        tail = {"source_partition": g.partition, "version": g.versions.get(ck, -1)}
        if kind == "metric":
            m = p.metrics[(wk, ws, st, sc, name)]
            sk = m.sketch
            q = sk.quantiles(QUANTILES)
            doc = {
                **base,
                "metric": name,
                **tail,
                "count": sk.count,
                "sum": sk.sum,
                "min": sk.min if sk.count else None,
                "max": sk.max if sk.count else None,
                "zero_count": sk.zero_count,
                "buckets": {str(k): c for k, c in sk.buckets().items()},
                "p50": q[0],
                "p90": q[1],
                "p99": q[2],
                "devices": len(m.devices),
            }
        elif kind == "app":
            a = p.apps[(wk, ws, st, sc, name)]
            doc = {
                **base,
                "app": name,
                "app_version": sc if st == "app_version" else "",
                **tail,
                "active_devices": len(a.devices),
                "usage_ms": a.usage_ms,
                "crashes": a.crashes_raw,
                "crashes_counted": a.crashes,
                "hangs": a.hangs,
                "crash_devices": len(g.crash_devices.get((wk, ws, st, sc, name), ())),
            }
        else:
            key = (wk, ws, st, sc, name)
            doc = {
                **base,
                "counter": name,
                **tail,
                "value": p.counters[key],
                "devices": len(g.counter_devices.get(key, ())),
            }
        out.append((f"{st}:{sc}", doc))
    return out


def tick_message(tenant: str, partition: int, watermark: float, partitions: int) -> dict[str, Any]:
    """A source partition's watermark for a tenant without data in the batch (no device)."""
    return {
        "tenant": tenant,
        "source_partition": partition,
        "source_partitions": partitions,
        "watermark": watermark,
    }


def device_daily_messages(
    g: GroupState, device_days: Iterable[tuple[str, int]], partitions: int = 0
) -> list[tuple[str, dict[str, Any]]]:
    """One message per changed device-day, in day order, each carrying the watermark capped at the
    start of its own day: stage 2 treats a day as complete once every partition's watermark is past
    it, so a message must not announce that before the rest of its batch (same or later days) is
    through (late days sort first and, capped low, announce nothing)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for day, dev in sorted((day, dev) for dev, day in device_days):
        rec = g.devices.get(dev)
        if rec is None:
            continue
        c = rec.state.census
        d = rec.days.get(day, {})
        out.append(
            (
                g.tenant,
                {
                    "tenant": g.tenant,
                    "device": dev,
                    "source_partition": g.partition,
                    "source_partitions": partitions,
                    "watermark": min(g.watermark, float(day)),
                    "day": day,
                    "model": c.model,
                    "os_build": c.os_build,
                    "m": d.get("m", {}),
                    "a": d.get("a", {}),
                    "changes": [[x.change_id, x.change_name, x.applied_time] for x in rec.changes],
                },
            )
        )
    return out
