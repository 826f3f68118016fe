"""Regression detection, change point, attribution and the tracker (fixed seeds, exact outcomes)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from processors.aggregate import aggregate
from processors.attribution import ConfigChange, RegressionTracker, attribute, split_affected
from processors.baseline import BaselineConfig, MetricSnapshot, snapshot, trailing_baseline, trailing_window
from processors.device_state import DeviceCensus
from processors.partials import DAY
from processors.regression import (
    Detection,
    Stratum,
    benjamini_hochberg,
    change_point,
    detect,
    detect_rate,
    fdr_adjust,
    poisson_rate_test,
    stratum,
    van_elteren,
)

SEEDS = range(10)


def fleet(
    seed: int, shift: float, n_dev: int = 20, boots: int = 10
) -> tuple[list[list[float]], list[list[float]]]:
    """Per-device values of baseline and current periods (device level + boot-to-boot noise)."""
    rng = np.random.default_rng(seed)
    level = rng.lognormal(np.log(20_000), 0.15, n_dev)
    base = [list(lvl * rng.lognormal(0, 0.2, boots)) for lvl in level]
    cur = [list(lvl * (1 + shift) * rng.lognormal(0, 0.2, boots // 2)) for lvl in level]
    return base, cur


def snap(values: list[list[float]]) -> MetricSnapshot:
    flat = [v for vs in values for v in vs]
    return MetricSnapshot(float(np.median(flat)), len(flat), len(values))


def run(base: list[list[float]], cur: list[list[float]], lower_is_better: bool = True) -> Detection:
    strata = [s for b, c in zip(base, cur, strict=True) if (s := stratum(c, b)) is not None]
    return detect(snap(base), snap(cur), strata, lower_is_better=lower_is_better)


@pytest.mark.parametrize("seed", SEEDS)
def test_thirty_percent_shift_on_twenty_devices_is_detected(seed: int) -> None:
    d = run(*fleet(seed, 0.30))
    assert d.regressed, d
    assert d.p_value is not None
    assert d.p_value < 0.01
    assert d.change is not None
    assert d.change > 0.10
    assert (d.n_baseline, d.n_current, d.test) == (20, 20, "van_elteren")


@pytest.mark.parametrize("seed", SEEDS)
def test_noise_only_is_not_detected(seed: int) -> None:
    d = run(*fleet(seed, 0.0))
    assert not d.regressed
    assert d.reason in ("below_threshold", "not_significant")


def test_gates_direction_and_min_devices() -> None:
    base, cur = fleet(0, 0.30)
    assert run(base[:4], cur[:4]).reason == "insufficient_data"
    # a 30 % *drop* of a lower-is-better metric is an improvement, never a regression
    improved = [[v / 1.3 for v in vs] for vs in base]
    assert run(base, improved).reason == "below_threshold"
    # for a higher-is-better metric the drop is the regression
    assert run(base, improved, lower_is_better=False).regressed
    # +5 % is below the 10 % magnitude gate even when significant
    small = [[v * 1.05 for v in vs] for vs in base]
    assert run(base, small).reason == "below_threshold"


def test_device_spread_does_not_fake_a_shift() -> None:
    # the slow devices rebooted more often this period: the pooled median nearly doubles, yet no
    # device got slower -- each device is only compared with itself
    base = [[1000.0, 1100.0, 900.0]] * 10 + [[5000.0, 5500.0, 4500.0]] * 10
    cur = [[1000.0]] * 10 + [[5000.0, 5000.0, 5000.0]] * 10
    d = run(base, cur)
    assert d.change is not None
    assert d.change > 0.5
    assert d.reason == "not_significant"


def test_van_elteren_matches_hand_computation_with_ties() -> None:
    # device A: current [3, 4] vs baseline [1, 4]: U = 1 + 0 + 1 + 0.5 = 2.5, E = 2, N = 4, one tie
    # pair (t = 2): V = 4/12 * (5 - 6/12) = 1.5, w = 1/5
    a = stratum([3, 4], [1, 4])
    # device B: current [10] vs baseline [5, 6]: U = 2, E = 1, V = 2/12 * 4, w = 1/4
    b = stratum([10], [5, 6])
    assert a is not None
    assert b is not None
    assert (a.wu, a.wv) == pytest.approx((0.2 * 0.5, 0.04 * 1.5))
    assert (b.wu, b.wv) == pytest.approx((0.25 * 1, 0.0625 * 2 / 3))
    z = (0.1 + 0.25) / math.sqrt(0.06 + 0.0625 * 2 / 3)
    r = van_elteren([a, b])
    assert r.statistic == pytest.approx(z)
    assert r.p_value == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert van_elteren([a, b], greater=False).p_value == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)))
    assert stratum([], [1.0]) is None


def test_benjamini_hochberg_and_fdr_adjust() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> x m/rank 0.02, 0.02, 0.04, 0.04 (running min from the top)
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]) == []
    strong = _det(True, p=1e-5)
    weak = _det(True, p=0.008)  # significant alone, not among 20 tests
    nulls = [_det(False, "not_significant", p=0.5)] * 17
    small = _det(False, "below_threshold", p=0.001)
    out = fdr_adjust([strong, weak, *nulls, small])
    assert [d.reason for d in out[:2]] == ["regressed", "not_significant"]
    assert out[0].p_raw == 1e-5
    assert out[0].p_value == pytest.approx(1e-5 * 20)
    assert out[1].p_value == pytest.approx(0.008 * 20 / 3)
    assert out[-1].reason == "below_threshold"  # tested (in the family), never a regression
    assert fdr_adjust([_det(False, "insufficient_data", p=None)])[0].p_raw is None


def test_poisson_rate_test_exact_and_detect_rate() -> None:
    # equal exposure, 30 vs 10 events: P(X >= 30 | n=40, p=0.5)
    from math import comb

    exact = sum(comb(40, k) for k in range(30, 41)) / 2**40
    r = poisson_rate_test(30, 100.0, 10, 100.0)
    assert r.p_value == pytest.approx(exact, rel=1e-9)
    assert poisson_rate_test(30, 100.0, 10, 100.0, exact_max_n=10).test == "poisson_rate_normal"
    d = detect_rate(20, 1000.0, 45, 1000.0, devices_baseline=30, devices_current=30)
    assert d.regressed
    assert d.test == "poisson_conditional_binomial"
    assert not detect_rate(20, 1000.0, 23, 1000.0, 30, 30).regressed


def test_change_point_finds_the_shift_day() -> None:
    rng = np.random.default_rng(11)
    series = list(20_000 * rng.lognormal(0, 0.03, 14)) + list(26_000 * rng.lognormal(0, 0.03, 7))
    cp = change_point(series)
    assert cp is not None
    assert cp.index == 14
    assert cp.mean_after > cp.mean_before
    assert change_point([1.0, 2.0, 3.0]) is None
    assert change_point([5.0] * 10) is None
    assert change_point(series, direction=-1) is None or change_point(series, direction=-1) != cp


def test_attribution_ranks_injected_change_first() -> None:
    start = datetime(2026, 3, 15, tzinfo=UTC).timestamp()
    affected = {f"a{i}" for i in range(20)}
    unaffected = {f"u{i}" for i in range(20)}
    changes: dict[str, list[ConfigChange]] = {}
    for i, d in enumerate(sorted(affected)):
        changes.setdefault(d, []).append(ConfigChange("drv:nvme-2.1", "NVMe driver 2.1", start + 3600))
        changes[d].append(ConfigChange("pol:wallpaper", "Wallpaper policy", start - 7200))
        if i < 3:
            changes[d].append(ConfigChange("app:old", "too old", start - 10 * DAY))
    for i, d in enumerate(sorted(unaffected)):
        changes.setdefault(d, []).append(ConfigChange("pol:wallpaper", "Wallpaper policy", start - 7200))
        if i < 2:
            changes[d].append(ConfigChange("drv:nvme-2.1", "NVMe driver 2.1", start + 3600))
    ranked = attribute(changes, affected, unaffected, start)
    assert ranked[0].change_id == "drv:nvme-2.1"
    assert (ranked[0].prevalence_affected, ranked[0].prevalence_unaffected) == (1.0, 0.1)
    assert ranked[0].difference == pytest.approx(0.9)
    assert ranked[0].lift > 1
    assert "app:old" not in {r.change_id for r in ranked}  # outside the lookback
    assert ranked[1].change_id == "pol:wallpaper"
    assert ranked[1].difference == 0.0


def _det(regressed: bool, reason: str | None = None, p: float | None = 0.001) -> Detection:
    return Detection(
        regressed,
        1.0,
        1.3,
        0.3,
        20,
        20,
        "van_elteren",
        p,
        reason or ("regressed" if regressed else "below_threshold"),
    )


def test_tracker_opens_once_and_closes_on_recovery() -> None:
    tr = RegressionTracker()
    key = ("model", "Dell|M1", "core_boot_ms", "trailing")
    events = [
        tr.observe(key, _det(r, reason), float(t))
        for t, (r, reason) in enumerate(
            [
                (True, None),
                (True, None),
                (False, "insufficient_data"),
                (True, None),
                (False, "not_significant"),  # still beyond the threshold: no sign of recovery
                (False, None),
                (False, None),
                (True, None),
            ]
        )
    ]
    kinds = [e.kind if e else None for e in events]
    assert kinds == ["open", None, None, None, None, "close", None, "open"]
    assert events[0] is not None
    assert events[5] is not None
    assert events[0].regression_id == events[5].regression_id
    tr2 = RegressionTracker(recover_after=2)
    assert tr2.observe(key, _det(True), 0.0) is not None
    assert tr2.observe(key, _det(False), 1.0) is None
    ev = tr2.observe(key, _det(False), 2.0)
    assert ev is not None
    assert ev.kind == "close"


T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _boot(dev: str, t: datetime, ms: float) -> dict[str, Any]:
    return {
        "name": "Fleet.Boot.Performance",
        "time": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "ext": {"device": {"localId": dev}},
        "data": {"coreBootMs": int(ms), "totalBootMs": int(ms) + 5000},
    }


def test_end_to_end_baseline_detection_change_point_and_attribution() -> None:
    rng = np.random.default_rng(5)
    devs = [f"d{i:02d}" for i in range(40)]
    census = {
        d: DeviceCensus("Dell|M1" if i < 20 else "HP|X", "10.0.22631.1", "ssd", "domain")
        for i, d in enumerate(devs)
    }
    level = {d: rng.lognormal(np.log(20_000), 0.15) for d in devs}
    shift_day = 17
    events = []
    values: dict[tuple[str, int], list[float]] = {}  # (device, day index) -> core boot values
    for day in range(21):
        for d in devs:
            factor = 1.3 if (day >= shift_day and d < "d20") else 1.0
            for b in range(2):
                t = T0 + timedelta(days=day, hours=8 + b * 5)
                events.append(_boot(d, t, level[d] * factor * rng.lognormal(0, 0.1)))
                values.setdefault((d, day), []).append(float(int(events[-1]["data"]["coreBootMs"])))
    part, _ = aggregate(events, census)
    current_day = int((T0 + timedelta(days=20)).timestamp())
    cfg = BaselineConfig(trailing_days=14, gap_days=4)
    base = trailing_baseline(part, current_day, created_at=0.0, cfg=cfg)
    assert trailing_window(current_day, cfg) == (current_day - 17 * DAY, current_day - 4 * DAY)
    cur = snapshot("current", part, current_day - 3 * DAY, current_day, created_at=0.0)
    key = ("model", "Dell|M1", "core_boot_ms")
    b_start, b_end = trailing_window(current_day, cfg)
    b_med = part.samples.per_device_medians("core_boot_ms", b_start, b_end)
    c_med = part.samples.per_device_medians("core_boot_ms", current_day - 3 * DAY, current_day)
    m1 = [d for d in devs if census[d].model == "Dell|M1"]

    def strata(group: list[str]) -> list[Stratum]:
        b_days = range((b_start - int(T0.timestamp())) // DAY, (b_end - int(T0.timestamp())) // DAY + 1)
        out = []
        for d in group:
            b = [v for i in b_days for v in values.get((d, i), [])]
            s = stratum([v for i in range(17, 21) for v in values[(d, i)]], b)
            assert s is not None
            out.append(s)
        return out

    det = detect(base.metrics[key], cur.metrics[key], strata(m1))
    assert det.regressed
    hp = [d for d in devs if census[d].model == "HP|X"]
    hkey = ("model", "HP|X", "core_boot_ms")
    assert not detect(base.metrics[hkey], cur.metrics[hkey], strata(hp)).regressed
    # change point on the model's daily p50 series
    series = [
        part.metrics[
            ("day", int((T0 + timedelta(days=i)).timestamp()), "model", "Dell|M1", "core_boot_ms")
        ].sketch.quantile(0.5)
        or 0.0
        for i in range(21)
    ]
    cp = change_point(series, direction=1)
    assert cp is not None
    assert cp.index == shift_day
    affected, unaffected = split_affected(b_med, c_med)
    assert affected == set(m1)
    assert unaffected == set(hp)
