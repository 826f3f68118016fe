"""Work from anywhere: the readiness score, its four metrics, Windows 11 readiness, the device list.

Source: the newest census of each device in range (fleetpulse/reports/census.py); metrics, reasons
and score by processors/insights/wfa.py. ``devices_not_ready`` lists the devices missing at least
one metric (worst device score first) with the reason for each miss; ``models`` the score per
model (≥ ``min_devices`` devices). Windows 11 readiness (capable / not capable with its blockers /
upgraded / unknown) is shown, as in EA, but does not enter the score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

from fleetpulse.reports.census import facts, fetch_census
from fleetpulse.reports.params import Filters
from fleetpulse.reports.startup import Row
from processors.insights import wfa
from processors.insights.config import DEFAULT_INSIGHTS, InsightsConfig
from sinks.reader import Reader


def assess_all(census: Sequence[wfa.CensusFacts], cfg: InsightsConfig) -> list[wfa.DeviceWfa]:
    return [wfa.assess(c, cfg.wfa) for c in census]


def _device_row(d: wfa.DeviceWfa, w11: tuple[str, list[str]]) -> Row:
    return {
        "device_id": d.device_id,
        "model": d.model,
        "os_build": d.os_build,
        "score": d.score,
        "missing": {m: c.reason for m, c in d.checks.items() if c.met is False},
        "unknown": [m for m, c in d.checks.items() if c.met is None],
        "windows11": w11[0],
        "windows11_blockers": w11[1],
    }


def _models(devices: Sequence[wfa.DeviceWfa], cfg: InsightsConfig) -> list[Row]:
    """The score per model, worst first (models below ``min_devices`` last)."""
    groups: dict[str, list[wfa.DeviceWfa]] = {}
    for d in devices:
        groups.setdefault(d.model, []).append(d)
    scored = [(wfa.wfa_score(ds, cfg.wfa), m, len(ds)) for m, ds in groups.items()]
    scored.sort(key=lambda t: (t[0] is None, t[0] or 0.0, t[1]))
    return [{"model": m, "devices": n, "score": s} for s, m, n in scored]


def shape_wfa(flt: Filters, census: Sequence[wfa.CensusFacts], cfg: InsightsConfig) -> Row:
    wc = cfg.wfa
    devices = assess_all(census, cfg)
    w11 = {c.device_id: wfa.windows11_readiness(c) for c in census}
    weights = wc.weights()
    not_ready = [d for d in devices if any(c.met is False for c in d.checks.values())]
    not_ready.sort(key=lambda d: (d.score if d.score is not None else 101.0, d.device_id))
    blockers = Counter(b for _, bs in w11.values() for b in bs)
    return {
        "report": "wfa",
        "filters": flt.describe(),
        "min_devices": wc.min_devices,
        "devices": len(devices),
        "score": wfa.wfa_score(devices, wc),
        "metrics": [{**asdict(s), "weight": weights[s.metric]} for s in wfa.summarize(devices, wc)],
        "windows11": {
            **{
                k: sum(v[0] == k for v in w11.values())
                for k in ("capable", "not capable", "upgraded", "unknown")
            },
            "blockers": dict(sorted(blockers.items(), key=lambda kv: (-kv[1], kv[0]))),
        },
        "models": _models(devices, cfg)[: flt.limit],
        "devices_not_ready": [_device_row(d, w11[d.device_id]) for d in not_ready[: flt.limit]],
        "devices_not_ready_total": len(not_ready),
    }


def wfa_report(reader: Reader, flt: Filters, cfg: InsightsConfig = DEFAULT_INSIGHTS) -> Row:
    return shape_wfa(flt, [facts(r) for r in fetch_census(reader, flt)], cfg)
