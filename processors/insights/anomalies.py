"""Anomalies: app crash, app hang and Stop-error anomalies, and the device cohorts they gather in.

Per device and anomaly asset over the range (the app for ``app_crash`` / ``app_hang``, counted at
most 10 per device and UTC day like EA's crashes; the faulting driver, else the bug check code,
for ``stop_error``):

1. **Threshold model**: a device is *anomalous* for an asset when its events reach the kind's
   threshold (``app_crash_threshold`` …), *affected* when it has fewer. An anomaly is reported
   when at least ``min_anomalous_devices`` are anomalous.
2. **Severity** from ``share = anomalous / exposed`` (exposed: devices with the app installed or
   any event of it; every device for Stop errors): ``high`` ≥ ``high_share``, ``medium`` ≥
   ``medium_share``, else ``low``.
3. **Device correlation groups** (medium and high anomalies, as in EA): a group is the exposed
   devices sharing a feature value (``manufacturer``, ``model``, ``os_version``, ``application``
   = app and version installed, ``driver`` = driver change applied) or a pair of them.
   ``prevalence = anomalous in group / devices in group``; a single feature is kept when it has
   ``group_min_anomalous`` anomalous devices, ``prevalence ≥ group_min_lift × share`` and its
   anomalous count is unlikely at the fleet's share (one-sided binomial ``P(X ≥ anomalous |
   devices, share) < group_alpha``); a pair of kept features only when it is more prevalent than
   both, by the same test against the better one's prevalence (a handful of devices sharing a
   driver by chance is not a cohort). Groups rank by that p-value against the share (the
   strongest evidence first), at most ``max_groups``. Level ``high`` ≥
   ``prevalence_high``, ``medium`` ≥ ``prevalence_medium``, else ``low``. **At risk** = the
   group's devices with no event of the anomaly yet.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from processors.insights.config import AnomalyConfig

KINDS: tuple[str, ...] = ("app_crash", "app_hang", "stop_error")
FEATURES: tuple[str, ...] = ("manufacturer", "model", "os_version", "application", "driver")
Features = Mapping[str, Mapping[str, frozenset[str]]]  # device -> feature type -> values
Feature = tuple[str, str]  # (type, value)


@dataclass(frozen=True, slots=True)
class DeviceCount:
    device_id: str
    kind: str
    asset: str
    events: int
    first_seen: str
    last_seen: str


@dataclass(frozen=True, slots=True)
class Group:
    features: tuple[Feature, ...]
    devices: int
    anomalous: int
    affected: int
    at_risk: int
    prevalence: float
    level: str
    at_risk_devices: tuple[str, ...]
    p_value: float  # P(X >= anomalous | devices, the anomaly's share): the evidence, groups rank by it


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str
    asset: str
    severity: str
    exposed: int
    anomalous: int
    affected: int
    share: float
    events: int
    first_seen: str
    last_seen: str
    anomalous_devices: tuple[str, ...]
    groups: tuple[Group, ...]


def binom_sf(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``, exact (summed in log space)."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0 or k > n:
        return 1.0 if p >= 1.0 and k <= n else 0.0
    lp, lq = math.log(p), math.log1p(-p)
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        for i in range(k, n + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(x - top) for x in logs))


def _level(value: float, high: float, medium: float) -> str:
    return "high" if value >= high else "medium" if value >= medium else "low"


def exposed(kind: str, asset: str, features: Features, with_events: set[str]) -> set[str]:
    """Devices that could show the anomaly: the app installed (or any of its events); for Stop
    errors every device."""
    if kind == "stop_error":
        return set(features) | with_events
    prefix = f"{asset} "
    return {
        d for d, f in features.items() if any(v.startswith(prefix) for v in f.get("application", ()))
    } | with_events


def _members(population: set[str], features: Features, feature: Feature) -> set[str]:
    kind, value = feature
    return {d for d in population if value in features.get(d, {}).get(kind, ())}


def _group(
    feats: tuple[Feature, ...],
    members: set[str],
    anomalous: set[str],
    affected: set[str],
    share: float,
    cfg: AnomalyConfig,
) -> Group:
    a = members & anomalous
    at_risk = sorted(members - anomalous - affected)
    prevalence = len(a) / len(members)
    return Group(
        features=feats,
        devices=len(members),
        anomalous=len(a),
        affected=len(members & affected),
        at_risk=len(at_risk),
        prevalence=prevalence,
        level=_level(prevalence, cfg.prevalence_high, cfg.prevalence_medium),
        at_risk_devices=tuple(at_risk),
        p_value=binom_sf(len(a), len(members), share),
    )


def correlation_groups(
    population: set[str],
    anomalous: set[str],
    affected: set[str],
    features: Features,
    share: float,
    cfg: AnomalyConfig,
) -> list[Group]:
    """The cohorts where the anomaly concentrates, strongest evidence first (module docstring)."""
    candidates = sorted({(t, v) for d in anomalous for t in FEATURES for v in features.get(d, {}).get(t, ())})
    singles: dict[Feature, set[str]] = {}
    groups: list[Group] = []
    for feat in candidates:
        members = _members(population, features, feat)
        g = _group((feat,), members, anomalous, affected, share, cfg)
        if (
            g.anomalous >= cfg.group_min_anomalous
            and g.prevalence >= cfg.group_min_lift * share
            and g.p_value < cfg.group_alpha
        ):
            singles[feat] = members
            groups.append(g)
    best = {g.features[0]: g.prevalence for g in groups}
    for f1, f2 in itertools.combinations(sorted(singles), 2):
        if f1[0] == f2[0]:
            continue
        members = singles[f1] & singles[f2]
        if not members:
            continue
        g = _group((f1, f2), members, anomalous, affected, share, cfg)
        top = max(best[f1], best[f2])
        if (
            g.anomalous >= cfg.group_min_anomalous
            and g.prevalence > top
            and binom_sf(g.anomalous, g.devices, top) < cfg.group_alpha
        ):
            groups.append(g)
    groups.sort(key=lambda g: (g.p_value, -g.prevalence, len(g.features), g.features))
    return groups[: cfg.max_groups]


def detect(counts: Iterable[DeviceCount], features: Features, cfg: AnomalyConfig) -> list[Anomaly]:
    """Every anomaly in the counts, most severe first."""
    by_asset: dict[tuple[str, str], list[DeviceCount]] = {}
    for c in counts:
        by_asset.setdefault((c.kind, c.asset), []).append(c)
    out = []
    for (kind, asset), rows in by_asset.items():
        threshold = cfg.threshold(kind)
        anomalous = {r.device_id for r in rows if r.events >= threshold}
        if len(anomalous) < cfg.min_anomalous_devices:
            continue
        affected = {r.device_id for r in rows} - anomalous
        population = exposed(kind, asset, features, {r.device_id for r in rows})
        share = len(anomalous) / len(population)
        severity = _level(share, cfg.high_share, cfg.medium_share)
        groups = (
            correlation_groups(population, anomalous, affected, features, share, cfg)
            if severity != "low"
            else []
        )
        out.append(
            Anomaly(
                kind=kind,
                asset=asset,
                severity=severity,
                exposed=len(population),
                anomalous=len(anomalous),
                affected=len(affected),
                share=share,
                events=sum(r.events for r in rows),
                first_seen=min(r.first_seen for r in rows),
                last_seen=max(r.last_seen for r in rows),
                anomalous_devices=tuple(sorted(anomalous)),
                groups=tuple(groups),
            )
        )
    rank = {"high": 0, "medium": 1, "low": 2}
    out.sort(key=lambda a: (rank[a.severity], -a.anomalous, a.kind, a.asset))
    return out
