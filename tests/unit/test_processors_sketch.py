"""DDSketch: relative error vs numpy's exact 'lower' rank, exact merge, serialization."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from processors.sketch import ZERO_KEY, DDSketch, sketch_of

QS = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


def _datasets() -> dict[str, npt.NDArray[np.float64]]:
    rng = np.random.default_rng(42)
    return {
        "lognormal": rng.lognormal(9.5, 0.7, 50_000),
        "uniform": rng.uniform(1.0, 3_600_000.0, 50_000),
        "bimodal": np.concatenate([rng.normal(8_000, 500, 25_000), rng.normal(60_000, 4_000, 25_000)]).clip(
            1
        ),
        "integers_with_zeros": np.concatenate([np.zeros(500), rng.integers(1, 5000, 20_000)]).astype(float),
    }


@pytest.mark.parametrize("name", list(_datasets()))
def test_quantiles_within_one_percent_of_exact_lower_rank(name: str) -> None:
    data = _datasets()[name]
    sk = sketch_of(data)
    assert sk.count == data.size
    assert sk.sum == pytest.approx(float(data.sum()), rel=1e-12)
    assert sk.min == data.min()
    assert sk.max == data.max()
    for q in QS:
        exact = float(np.quantile(data, q, method="lower"))
        est = sk.quantile(q)
        assert est is not None
        if exact == 0.0:
            assert est == 0.0
        else:
            assert abs(est - exact) / exact <= 0.01, (q, est, exact)
            assert abs(est - exact) / exact <= sk.alpha * (1 + 1e-9)


def test_merge_equals_sketch_of_union_exactly() -> None:
    data = _datasets()["lognormal"]
    a, b = sketch_of(data[:20_000]), sketch_of(data[20_000:])
    a.merge(b)
    whole = sketch_of(data)
    assert a.buckets(include_zero=True) == whole.buckets(include_zero=True)
    assert a == whole


def test_merge_is_associative_and_commutative() -> None:
    rng = np.random.default_rng(1)
    parts = [rng.lognormal(8, 1, 3000) for _ in range(3)]
    x, y, z = (sketch_of(p) for p in parts)
    left = x.copy()
    left.merge(y)
    left.merge(z)
    right = y.copy()
    right.merge(z)
    right.merge(x)
    assert left == right


def test_bucket_cap_collapses_lowest_and_stays_mergeable() -> None:
    rng = np.random.default_rng(3)
    data = rng.lognormal(0, 6, 20_000)  # huge dynamic range
    a, b = DDSketch(max_buckets=300), DDSketch(max_buckets=300)
    a.add_many(data[:7000])
    b.add_many(data[7000:])
    a.merge(b)
    whole = DDSketch(max_buckets=300)
    whole.add_many(data)
    assert a.buckets() == whole.buckets()
    assert len(whole.buckets()) <= 300
    assert max(whole.buckets()) - min(whole.buckets()) < 300
    # quantiles above the folded floor are still accurate (only the low tail was folded)
    floor = whole.bucket_bounds(min(whole.buckets()))[1]
    checked = 0
    for q in (0.999, 0.9999, 0.99999, 1.0):
        exact = float(np.quantile(data, q, method="lower"))
        if exact > floor:
            est = whole.quantile(q)
            assert est is not None
            assert abs(est - exact) / exact <= 0.01
            checked += 1
    assert checked >= 2


def test_bucket_formula() -> None:
    sk = DDSketch(alpha=0.005)
    for v in (1.0, 7.0, 12_345.0, 3_600_000.0):
        k = sk.key(v)
        lo, hi = sk.bucket_bounds(k)
        assert lo < v <= hi * (1 + 1e-12)
        assert abs(sk.bucket_value(k) - v) / v <= sk.alpha * (1 + 1e-9)
    assert sk.gamma == pytest.approx(1.005 / 0.995)


def test_serialization_round_trip_and_bucket_rebuild() -> None:
    data = _datasets()["integers_with_zeros"]
    sk = sketch_of(data)
    back = DDSketch.from_bytes(sk.to_bytes())
    assert back == sk
    assert back.sum == sk.sum
    assert back.quantiles(QS) == sk.quantiles(QS)
    assert len(sk.to_bytes()) < 4 * 2048 + 100
    rebuilt = DDSketch.from_buckets(
        sk.buckets(include_zero=True), total=sk.sum, min_value=sk.min, max_value=sk.max
    )
    assert rebuilt == sk
    assert ZERO_KEY in sk.buckets(include_zero=True)


def test_empty_and_invalid() -> None:
    sk = DDSketch()
    assert sk.quantile(0.5) is None
    assert sk.mean is None
    assert DDSketch.from_bytes(sk.to_bytes()) == sk
    with pytest.raises(ValueError, match="finite"):
        sk.add_many([1.0, math.nan])
    with pytest.raises(ValueError, match="alpha"):
        DDSketch(alpha=0)
    with pytest.raises(ValueError, match="merge"):
        sk.merge(DDSketch(alpha=0.01))
