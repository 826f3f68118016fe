"""Regression detection: magnitude gate + significance test, and change-point location.

A metric regresses when **both** hold (docs/analytics.md, "Regressions"):

1. it is worse than the baseline by more than ``threshold`` (10 %), direction-aware:
   ``change = (current - baseline) / baseline``; worse means ``change > threshold`` for
   lower-is-better metrics and ``change < -threshold`` otherwise;
2. the shift is significant at ``alpha`` (0.01) with at least ``min_devices`` (5) per side:

   * timings: one-sided **van Elteren test** — the Wilcoxon rank-sum (Mann-Whitney) test
     stratified by device: each device's current values are ranked against *its own* baseline
     values, so the spread between devices (HDD vs SSD, a model's variants), which devices
     happened to report in which period, and how many values each period holds cannot fake or
     mask a shift. Per device ``i`` with ``m`` current and ``k`` baseline values (``N = m + k``):
     ``U_i`` = pairs (current > baseline) + ½ ties, ``E_i = m k / 2``,
     ``V_i = m k / 12 * ((N + 1) - Σ(t³ - t) / (N (N - 1)))``; with weights ``w_i = 1 / (N + 1)``
     (locally most powerful for a shift): ``z = Σ w_i (U_i - E_i) / sqrt(Σ w_i² V_i)``, one-sided
     normal tail (worse = larger for lower-is-better metrics);
   * counts per exposure (crashes per usage hour): the exact **conditional binomial test** of two
     Poisson rates: given ``n = x_cur + x_base``, ``x_cur ~ Binomial(n, t_cur / (t_cur + t_base))``
     under H0; ``p = P(X >= x_cur)``; normal approximation when ``n > exact_max_n``.

Many tests run at each evaluation (every metric x scope x baseline, every app version), so
a regression must also survive the **Benjamini-Hochberg** procedure over that family at level
``fdr`` (5 %, :func:`fdr_adjust`): of the regressions an evaluation opens, at most 5 % are
expected to be false, however many scopes and metrics the fleet has.

``change_point`` locates when a shift started: the single split ``k`` of the daily series that
maximises ``|mean(y[k:]) - mean(y[:k])| * sqrt(k (n - k) / n)`` (the standardised two-sample
mean shift, i.e. the maximum of the scaled CUSUM), each segment ``>= min_segment`` days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from processors.baseline import MetricSnapshot


@dataclass(frozen=True)
class RegressionConfig:
    threshold: float = 0.10
    alpha: float = 0.01
    fdr: float = 0.05  # Benjamini-Hochberg level over one evaluation's family of tests
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
    p_raw: float | None = None  # the test's own p-value when ``p_value`` is the family-adjusted one


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class Stratum:
    """One device's contribution to the van Elteren statistic (see the module docstring)."""

    wu: float  # w (U - E)
    wv: float  # w² V


def stratum(current: npt.ArrayLike, baseline: npt.ArrayLike) -> Stratum | None:
    """A device's current values ranked against its baseline values (``None`` if a side is empty)."""
    x = np.asarray(current, dtype=np.float64)
    y = np.asarray(baseline, dtype=np.float64)
    m, k = x.size, y.size
    if m == 0 or k == 0:
        return None
    u = float((x[:, None] > y[None, :]).sum() + 0.5 * (x[:, None] == y[None, :]).sum())
    n = m + k
    _, counts = np.unique(np.concatenate([x, y]), return_counts=True)
    tie = float((counts.astype(np.float64) ** 3 - counts).sum())
    var = m * k / 12.0 * ((n + 1) - tie / (n * (n - 1))) if n > 1 else 0.0
    w = 1.0 / (n + 1)
    return Stratum(w * (u - m * k / 2.0), w * w * var)


def van_elteren(strata: Sequence[Stratum], greater: bool = True) -> TestResult:
    """One-sided stratified rank-sum test: H1 current values larger (``greater``) or smaller."""
    var = sum(s.wv for s in strata)
    if var <= 0:
        return TestResult("van_elteren", math.nan, 1.0)
    z = sum(s.wu for s in strata) / math.sqrt(var)
    return TestResult("van_elteren", z, _normal_sf(z if greater else -z))


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


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Step-up adjusted p-values: ``q_(i) = min_{j >= i} p_(j) m / j`` (sorted ascending), capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return [float(v) for v in out]


def fdr_adjust(dets: Sequence[Detection], cfg: RegressionConfig = DEFAULT_REGRESSION) -> list[Detection]:
    """Re-judge a family of detections: significant means raw ``p < alpha`` *and* adjusted
    ``q < fdr``; the family is every test that ran (enough devices and a baseline), whatever its
    magnitude. The detections come back with ``p_value`` = q and ``p_raw`` = the test's p."""
    tested = [i for i, d in enumerate(dets) if d.reason in _TESTED and d.p_value is not None]
    q = benjamini_hochberg([float(dets[i].p_value or 1.0) for i in tested])
    out = list(dets)
    for i, qi in zip(tested, q, strict=True):
        d = dets[i]
        significant = float(d.p_value or 1.0) < cfg.alpha and qi < cfg.fdr
        reason = (
            d.reason if d.reason == "below_threshold" else "regressed" if significant else "not_significant"
        )
        out[i] = replace(d, regressed=reason == "regressed", p_value=qi, p_raw=d.p_value, reason=reason)
    return out


_TESTED = frozenset({"regressed", "not_significant", "below_threshold"})


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
    n_test: int | None = None,  # devices the test compared (with data in both periods)
) -> Detection:
    if base is None:
        reason = "no_baseline"
    elif min(n_b, n_c, n_b if n_test is None else n_test) < cfg.min_devices:
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
    strata: Sequence[Stratum],
    cfg: RegressionConfig = DEFAULT_REGRESSION,
    lower_is_better: bool = True,
) -> Detection:
    """Timing regression: magnitude of ``current.value`` vs ``baseline.value`` + the van Elteren test
    over ``strata`` (one per device with values in both periods, at least ``min_devices``)."""
    test = van_elteren(strata, greater=lower_is_better)
    return _judge(
        relative_change(baseline.value, current.value),
        test,
        baseline.devices,
        current.devices,
        baseline.value,
        current.value,
        lower_is_better,
        cfg,
        len(strata),
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
