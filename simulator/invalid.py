"""Deliberately invalid records, each with one known rejection reason.

An invalid record is a copy of a valid one from the same batch, moved to a fresh device id
(so it never collides with a real device's ``(localId, epoch, seq)``) and broken in exactly
one way. The reason is encoded in the device id (``s:BAD0000<k>-…``) so any consumer can
tell which reason the collector must give: see :func:`expected_reason`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import orjson

from simulator import events as ev
from simulator.rand import Rand

REASONS: tuple[str, ...] = ("time_out_of_range", "out_of_range", "invariant_violated")
_PREFIX = "s:BAD0000"
FAR_FUTURE = "2099-01-01T00:00:00.000Z"
STALE = "2001-01-01T00:00:00.000Z"
# event type -> a duration field set negative (no cross-field invariant involves its sign)
_NEGATIVE = {
    ev.APP_USAGE: "audioOutMs",
    ev.BOOT: "explorerInitMs",
    ev.LOGON: "profileLoadMs",
    ev.HANG: "hangDurationMs",
}
_INVARIANT = (ev.BOOT, ev.LOGON, ev.TRANSITION)
_STALE_OK = (ev.CENSUS, ev.BATTERY)  # no data time that must precede `time`
Record = dict[str, Any]


def expected_reason(record: Record) -> str | None:
    """The rejection reason an invalid simulated record must get, or None for a valid one."""
    local = record.get("ext", {}).get("device", {}).get("localId", "")
    if isinstance(local, str) and local.startswith(_PREFIX) and local[9:10].isdigit():
        k = int(local[9])
        return REASONS[k] if k < len(REASONS) else None
    return None


def _mutate(rec: Record, reason: str, r: Rand) -> None:
    name, data = rec["name"], rec["data"]
    if reason == "time_out_of_range":
        rec["time"] = STALE if name in _STALE_OK and r.random() < 0.5 else FAR_FUTURE
    elif reason == "out_of_range":
        data[_NEGATIVE[name]] = -r.ri(1, 50_000)
    elif name == ev.BOOT:
        data["mainPathMs"] += r.ri(5000, 20000)
    elif name == ev.LOGON:
        data["desktopShownMs"] = data["coreLogonMs"] + data["gpLogonMs"] + r.ri(5000, 20000)
        data["totalLogonMs"] = data["desktopShownMs"] + data["responsiveDesktopMs"]
    else:
        data["isAbnormal"] = not data["isAbnormal"]


def add_invalid(
    batch: list[Record],
    fraction: float,
    reasons: tuple[str, ...],
    rng: np.random.Generator,
    r: Rand,
    counts: Counter[str],
) -> list[Record]:
    """``batch`` plus about ``fraction`` × len(batch) invalid records, each inserted right after
    the valid record it was copied from (a source of a type the reason can break)."""
    if fraction <= 0.0 or not batch:
        return batch
    n_bad = int(rng.binomial(len(batch), fraction))
    if n_bad == 0:
        return batch
    by_reason: dict[str, list[int]] = {reason: [] for reason in REASONS}
    for pos, rec in enumerate(batch):
        name = rec["name"]
        if name in _NEGATIVE:
            by_reason["out_of_range"].append(pos)
        if name in _INVARIANT:
            by_reason["invariant_violated"].append(pos)
    plan: list[tuple[int, str]] = []
    for k in rng.integers(0, len(reasons), n_bad).tolist():
        reason = reasons[k]
        cands = by_reason[reason]
        if reason == "time_out_of_range" or not cands:
            reason = "time_out_of_range"
            plan.append((r.randrange(len(batch)), reason))
        else:
            plan.append((cands[r.randrange(len(cands))], reason))
    plan.sort(key=lambda p: p[0])
    out: list[Record] = []
    prev = 0
    for pos, reason in plan:
        out.extend(batch[prev : pos + 1])
        prev = pos + 1
        bad: Record = orjson.loads(orjson.dumps(batch[pos]))
        _mutate(bad, reason, r)
        bad["ext"]["device"]["localId"] = f"{_PREFIX}{REASONS.index(reason)}{r.guid().upper()[8:]}"
        counts[reason] += 1
        out.append(bad)
    out.extend(batch[prev:])
    return out
