"""Regression detection: magnitude gate + significance test, and change-point location.

A metric regresses when **both** hold (docs/analytics.md, "Regressions"):

1. it is worse than the baseline by more than ``threshold`` (10 %), direction-aware:
   ``change = (current - baseline) / baseline``; worse means ``change > threshold`` for
   lower-is-better metrics and ``change < -threshold`` otherwise;
2. the shift is significant at ``alpha`` (0.01) with at least ``min_devices`` (5) per side:

   * timings: one-sided **Mann-Whitney U** on per-device medians (one value per device, so a
     noisy device cannot dominate), normal approximation with tie correction and continuity
     correction: ``z = (U - n1 n2 / 2 - 0.5) / sqrt(n1 n2 / 12 * ((n + 1) - Σ(t³ - t) / (n (n - 1))))``;
   * counts per exposure (crashes per usage hour): the exact **conditional binomial test** of two
     Poisson rates: given ``n = x_cur + x_base``, ``x_cur ~ Binomial(n, t_cur / (t_cur + t_base))``
     under H0; ``p = P(X >= x_cur)``; normal approximation when ``n > exact_max_n``.

``change_point`` locates when a shift started: the single split ``k`` of the daily series that
maximises ``|mean(y[k:]) - mean(y[:k])| * sqrt(k (n - k) / n)`` (the standardised two-sample
mean shift, i.e. the maximum of the scaled CUSUM), each segment ``>= min_segment`` days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from processors.baseline import MetricSnapshot


@dataclass(frozen=True)
class RegressionConfig:
    threshold: float = 0.10
    alpha: float = 0.01
    min_devices: int = 5
    exact_max_n: int = 100_000
    change_point_min_segment: int = 2


DEFAULT_REGRESSION = RegressionConfig()


@dataclass(frozen=True)
class TestResult:
    test: str
    statistic: float
    p_value: float


@dataclass(frozen=True)
class Detection:
    regressed: bool
    baseline_value: float | None
    current_value: float | None
    change: float | None  # relative, (current - baseline) / baseline
    n_baseline: int
    n_current: int
    test: str
    p_value: float | None
    reason: str  # regressed | below_threshold | not_significant | insufficient_data | no_baseline


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def mann_whitney_u(current: npt.ArrayLike, baseline: npt.ArrayLike, greater: bool = True) -> TestResult:
    """One-sided MWU: H1 ``current`` stochastically greater (``greater``) or smaller than ``baseline``."""
    x = np.asarray(current, dtype=np.float64)
    y = np.asarray(baseline, dtype=np.float64)
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        return TestResult("mann_whitney_u", math.nan, 1.0)
    both = np.concatenate([x, y])
    _, inv, counts = np.unique(both, return_inverse=True, return_counts=True)
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0
    r1 = float(avg_rank[inv[:n1]].sum())
    u1 = r1 - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    tie = float((counts.astype(np.float64) ** 3 - counts).sum())
    var = n1 * n2 / 12.0 * ((n + 1) - tie / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return TestResult("mann_whitney_u", u1, 1.0)
    diff = (u1 - n1 * n2 / 2.0) if greater else (n1 * n2 / 2.0 - u1)
    return TestResult("mann_whitney_u", u1, _normal_sf((diff - 0.5) / math.sqrt(var)))


def poisson_rate_test(
    events_current: int,
    exposure_current: float,
    events_baseline: int,
    exposure_baseline: float,
    greater: bool = True,
    exact_max_n: int = 100_000,
) -> TestResult:
    """Conditional binomial test of two Poisson rates (one-sided; see the module docstring)."""
    n = events_current + events_baseline
    if n == 0 or exposure_current <= 0 or exposure_baseline <= 0:
        return TestResult("poisson_conditional_binomial", 0.0, 1.0)
    p0 = exposure_current / (exposure_current + exposure_baseline)
    x = events_current if greater else events_baseline
    p = p0 if greater else 1.0 - p0
    if n > exact_max_n:
        mu, sd = n * p, math.sqrt(n * p * (1 - p))
        return TestResult("poisson_rate_normal", float(x), _normal_sf((x - 0.5 - mu) / sd))
    # log pmf(k) for k = x..n via the ratio pmf(k+1)/pmf(k) = (n-k)/(k+1) * p/(1-p)
    log_pmf_x = (
        math.lgamma(n + 1)
        - math.lgamma(x + 1)
        - math.lgamma(n - x + 1)
        + x * math.log(p)
        + (n - x) * math.log1p(-p)
    )
    k = np.arange(x, n, dtype=np.float64)
    steps = np.log((n - k) / (k + 1)) + math.log(p) - math.log1p(-p)
    log_pmf = np.concatenate([[log_pmf_x], log_pmf_x + np.cumsum(steps)])
    m = float(log_pmf.max())
    sf = math.exp(m) * float(np.exp(log_pmf - m).sum())
    return TestResult("poisson_conditional_binomial", float(x), min(1.0, sf))


def relative_change(baseline: float | None, current: float | None) -> float | None:
    if baseline is None or current is None:
        return None
    if baseline == 0:
        return 0.0 if current == 0 else math.copysign(math.inf, current)
    return (current - baseline) / abs(baseline)


def _judge(
    change: float | None,
    test: TestResult,
    n_b: int,
    n_c: int,
    base: float | None,
    cur: float | None,
    lower_is_better: bool,
    cfg: RegressionConfig,
) -> Detection:
    if base is None:
        reason = "no_baseline"
    elif n_b < cfg.min_devices or n_c < cfg.min_devices:
        reason = "insufficient_data"
    elif change is None or (change if lower_is_better else -change) <= cfg.threshold:
        reason = "below_threshold"
    elif test.p_value >= cfg.alpha:
        reason = "not_significant"
    else:
        reason = "regressed"
    return Detection(reason == "regressed", base, cur, change, n_b, n_c, test.test, test.p_value, reason)


def detect(
    baseline: MetricSnapshot,
    current: MetricSnapshot,
    samples_baseline: Sequence[float],
    samples_current: Sequence[float],
    cfg: RegressionConfig = DEFAULT_REGRESSION,
    lower_is_better: bool = True,
) -> Detection:
    """Timing regression: magnitude of ``current.value`` vs ``baseline.value`` + MWU on device medians.

    ``samples_*`` are per-device medians (one per device); their sizes are the device counts.
    """
    change = relative_change(baseline.value, current.value)
    test = mann_whitney_u(samples_current, samples_baseline, greater=lower_is_better)
    return _judge(
        change,
        test,
        len(samples_baseline),
        len(samples_current),
        baseline.value,
        current.value,
        lower_is_better,
        cfg,
    )


def detect_rate(
    events_baseline: int,
    exposure_baseline: float,
    events_current: int,
    exposure_current: float,
    devices_baseline: int,
    devices_current: int,
    cfg: RegressionConfig = DEFAULT_REGRESSION,
    lower_is_better: bool = True,
) -> Detection:
    """Rate regression (e.g. crashes per usage hour) with the conditional binomial test."""
    base = events_baseline / exposure_baseline if exposure_baseline > 0 else None
    cur = events_current / exposure_current if exposure_current > 0 else None
    test = poisson_rate_test(
        events_current,
        exposure_current,
        events_baseline,
        exposure_baseline,
        greater=lower_is_better,
        exact_max_n=cfg.exact_max_n,
    )
    return _judge(
        relative_change(base, cur), test, devices_baseline, devices_current, base, cur, lower_is_better, cfg
    )


@dataclass(frozen=True)
class ChangePoint:
    index: int  # first element of the new regime
    statistic: float
    mean_before: float
    mean_after: float


def change_point(series: Sequence[float], min_segment: int = 2, direction: int = 0) -> ChangePoint | None:
    """Single change point of a daily series (``direction`` +1 rises only, -1 drops only, 0 both)."""
    y = np.asarray(series, dtype=np.float64)
    n = y.size
    if n < 2 * min_segment:
        return None
    csum = np.concatenate([[0.0], np.cumsum(y)])
    k = np.arange(min_segment, n - min_segment + 1)
    before = csum[k] / k
    after = (csum[n] - csum[k]) / (n - k)
    shift = after - before
    if direction:
        shift = np.where(np.sign(shift) == direction, shift, 0.0)
    stat = np.abs(shift) * np.sqrt(k * (n - k) / n)
    i = int(np.argmax(stat))
    if stat[i] <= 0:
        return None
    return ChangePoint(int(k[i]), float(stat[i]), float(before[i]), float(after[i]))
