"""Which configuration change is most associated with a regression, and the regression tracker.

Attribution (docs/analytics.md, "Attribution"): a change "is on" a device when the device
applied it (``Fleet.Config.Change.appliedTime``) in ``[start - lookback, start + lookahead)``,
``start`` being the change point. For each ``changeId``:

* ``prevalence_affected = devices_affected_with / |affected|``,
  ``prevalence_unaffected = devices_unaffected_with / |unaffected|``;
* ``difference = prevalence_affected - prevalence_unaffected`` (ranking key, descending);
* ``lift = ((a + 0.5) / (A + 1)) / ((u + 0.5) / (U + 1))`` (smoothed ratio, tie-break).

Affected devices are the scope's devices whose own median worsened by more than the threshold
(:func:`split_affected`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from processors.regression import Detection

DEFAULT_LOOKBACK_S = 72 * 3600.0
DEFAULT_LOOKAHEAD_S = 24 * 3600.0  # change points are day-granular


@dataclass(frozen=True)
class ConfigChange:
    change_id: str
    change_name: str
    applied_time: float  # epoch seconds
    change_type: str = ""


@dataclass(frozen=True)
class Attribution:
    change_id: str
    change_name: str
    devices_affected_with: int
    devices_unaffected_with: int
    prevalence_affected: float
    prevalence_unaffected: float
    difference: float
    lift: float


def split_affected(
    base_medians: Mapping[str, float],
    current_medians: Mapping[str, float],
    threshold: float = 0.10,
    lower_is_better: bool = True,
) -> tuple[set[str], set[str]]:
    """Devices in both periods split by whether their own median got worse by > ``threshold``."""
    affected: set[str] = set()
    unaffected: set[str] = set()
    for dev, cur in current_medians.items():
        base = base_medians.get(dev)
        if base is None or base <= 0:
            continue
        change = (cur - base) / base
        (affected if (change if lower_is_better else -change) > threshold else unaffected).add(dev)
    return affected, unaffected


def attribute(
    changes_by_device: Mapping[str, Sequence[ConfigChange]],
    affected: Iterable[str],
    unaffected: Iterable[str],
    start_time: float,
    lookback: float = DEFAULT_LOOKBACK_S,
    lookahead: float = DEFAULT_LOOKAHEAD_S,
) -> list[Attribution]:
    """Changes ranked by how much more prevalent they are on affected than on unaffected devices."""
    aff, unaff = set(affected), set(unaffected) - set(affected)
    lo, hi = start_time - lookback, start_time + lookahead
    names: dict[str, str] = {}
    with_a: dict[str, int] = {}
    with_u: dict[str, int] = {}
    for devs, counter in ((aff, with_a), (unaff, with_u)):
        for dev in devs:
            seen: set[str] = set()
            for c in changes_by_device.get(dev, ()):
                if lo <= c.applied_time < hi:
                    seen.add(c.change_id)
                    names.setdefault(c.change_id, c.change_name)
            for cid in seen:
                counter[cid] = counter.get(cid, 0) + 1
    n_a, n_u = len(aff), len(unaff)
    out = []
    for cid in set(with_a) | set(with_u):
        a, u = with_a.get(cid, 0), with_u.get(cid, 0)
        pa = a / n_a if n_a else 0.0
        pu = u / n_u if n_u else 0.0
        lift = ((a + 0.5) / (n_a + 1)) / ((u + 0.5) / (n_u + 1))
        out.append(Attribution(cid, names[cid], a, u, pa, pu, pa - pu, lift))
    out.sort(key=lambda r: (-r.difference, -r.lift, r.change_id))
    return out


def change_from_event(event: Mapping[str, Any], applied_epoch: float) -> tuple[str, ConfigChange]:
    """``(device_id, ConfigChange)`` of a ``Fleet.Config.Change`` event (``applied_epoch`` parsed)."""
    d = event["data"]
    return str(event["ext"]["device"]["localId"]), ConfigChange(
        str(d["changeId"]), str(d["changeName"]), applied_epoch, str(d.get("changeType", ""))
    )


TrackKey = tuple[str, str, str, str]  # (scope_type, scope, metric, baseline name)


@dataclass(frozen=True)
class RegressionEvent:
    kind: str  # "open" | "close"
    regression_id: str
    key: TrackKey
    at: float
    detection: Detection


@dataclass
class _Open:
    regression_id: str
    opened_at: float
    good_streak: int = 0


@dataclass
class RegressionTracker:
    """Pure state machine: one open regression per key; ``open`` once, ``close`` on recovery.

    A regression closes after ``recover_after`` consecutive observations back within the
    threshold (``below_threshold``); while open, further regressed observations emit nothing and
    reset the recovery streak. A shift still beyond the threshold but no longer significant, or
    missing data, is no evidence of recovery either way.
    """

    recover_after: int = 1
    open: dict[TrackKey, _Open] = field(default_factory=dict)

    def observe(self, key: TrackKey, detection: Detection, at: float) -> RegressionEvent | None:
        cur = self.open.get(key)
        if detection.regressed:
            if cur is not None:
                cur.good_streak = 0
                return None
            rid = f"{key[0]}:{key[1]}:{key[2]}:{key[3]}:{int(at)}"
            self.open[key] = _Open(rid, at)
            return RegressionEvent("open", rid, key, at, detection)
        if cur is None or detection.reason != "below_threshold":
            return None
        cur.good_streak += 1
        if cur.good_streak < self.recover_after:
            return None
        del self.open[key]
        return RegressionEvent("close", cur.regression_id, key, at, detection)
