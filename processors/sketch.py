"""A mergeable relative-error quantile sketch (DDSketch-style logarithmic buckets).

Math (published in docs/analytics.md):

* ``gamma = (1 + alpha) / (1 - alpha)``; a positive value ``x`` goes to bucket
  ``k = ceil(log(x) / log(gamma))``, so bucket ``k`` covers ``(gamma^(k-1), gamma^k]``.
* The value reported for bucket ``k`` is ``2 * gamma^k / (gamma + 1)``; every value of the
  bucket is within ``alpha`` relative of it (the estimate is then clamped into ``[min, max]``).
* Values ``<= 0`` (durations can be 0, e.g. ``gpBootMs``) are counted in a separate zero bucket.
* ``quantile(q)`` targets the element of 0-based rank ``floor(q * (count - 1))`` of the sorted
  data (numpy's ``method="lower"``) and returns it within ``alpha`` relative error.
* Memory is bounded: at most ``max_buckets`` consecutive bucket indices are kept; indices
  below ``top - max_buckets + 1`` are folded into that lowest kept bucket. Folding depends only
  on the highest index, so ``merge(a, b)`` gives exactly the buckets of ``sketch(a ∪ b)``.

The store is a dense ``int64`` array over ``[offset, offset + len)``, so ``add_many`` is a single
``log``/``ceil``/``bincount`` pass.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

DEFAULT_ALPHA = 0.005
DEFAULT_MAX_BUCKETS = 2048
#: Key of the zero bucket in :meth:`DDSketch.buckets` when ``include_zero`` (Int32 minimum).
ZERO_KEY = -(2**31)

_MAGIC = b"FPDD"
_HEADER = struct.Struct("<4sBdIQQdddqI")


class DDSketch:
    """Relative-error quantile sketch; see the module docstring for the exact math."""

    __slots__ = (
        "_counts",
        "_lg",
        "_offset",
        "alpha",
        "count",
        "gamma",
        "max",
        "max_buckets",
        "min",
        "sum",
        "zero_count",
    )

    def __init__(self, alpha: float = DEFAULT_ALPHA, max_buckets: int = DEFAULT_MAX_BUCKETS) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError("alpha must be in (0, 1)")
        if max_buckets < 1:
            raise ValueError("max_buckets must be >= 1")
        self.alpha = alpha
        self.gamma = (1.0 + alpha) / (1.0 - alpha)
        self._lg = math.log(self.gamma)
        self.max_buckets = max_buckets
        self._offset = 0
        self._counts: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.zero_count = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    # -- math -----------------------------------------------------------------------------
    def key(self, value: float) -> int:
        """Bucket index of a positive value: ``ceil(log(value) / log(gamma))``."""
        return math.ceil(math.log(value) / self._lg)

    def bucket_bounds(self, k: int) -> tuple[float, float]:
        """The interval ``(gamma^(k-1), gamma^k]`` that bucket ``k`` covers."""
        return self.gamma ** (k - 1), self.gamma**k

    def bucket_value(self, k: int) -> float:
        """The value reported for bucket ``k``: ``2 * gamma^k / (gamma + 1)``."""
        return 2.0 * self.gamma**k / (self.gamma + 1.0)

    # -- updates --------------------------------------------------------------------------
    def add(self, value: float) -> None:
        """Add one value (prefer :meth:`add_many` for throughput)."""
        self.add_many(np.asarray([value], dtype=np.float64))

    def add_many(self, values: npt.ArrayLike) -> None:
        """Add a batch of values in one vectorised pass. NaN and infinities are rejected."""
        v = np.asarray(values, dtype=np.float64).ravel()
        if v.size == 0:
            return
        if not np.isfinite(v).all():
            raise ValueError("sketch values must be finite")
        self.count += int(v.size)
        self.sum += float(v.sum())
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))
        pos = v[v > 0.0]
        self.zero_count += int(v.size - pos.size)
        if pos.size:
            idx = np.ceil(np.log(pos) / self._lg).astype(np.int64)
            lo = int(idx.min())
            self._add_dense(lo, np.bincount(idx - lo).astype(np.int64))

    def _add_dense(self, lo: int, counts: npt.NDArray[np.int64]) -> None:
        hi = lo + counts.size - 1
        if self._counts.size == 0:
            self._offset, self._counts = lo, counts.copy()
        else:
            new_lo = min(self._offset, lo)
            new_hi = max(self._offset + self._counts.size - 1, hi)
            if new_lo != self._offset or new_hi != self._offset + self._counts.size - 1:
                grown = np.zeros(new_hi - new_lo + 1, dtype=np.int64)
                grown[self._offset - new_lo : self._offset - new_lo + self._counts.size] = self._counts
                self._offset, self._counts = new_lo, grown
            self._counts[lo - self._offset : lo - self._offset + counts.size] += counts
        self._collapse()

    def _collapse(self) -> None:
        extra = self._counts.size - self.max_buckets
        if extra > 0:
            folded = int(self._counts[:extra].sum())
            self._counts = self._counts[extra:].copy()
            self._counts[0] += folded
            self._offset += extra
        # trim leading zero buckets so the dense range starts at a populated index
        if self._counts.size and self._counts[0] == 0:
            nz = np.flatnonzero(self._counts)
            start = int(nz[0]) if nz.size else 0
            self._offset += start
            self._counts = self._counts[start:].copy()

    def merge(self, other: DDSketch) -> None:
        """Merge ``other`` into this sketch (same ``alpha`` and ``max_buckets`` required)."""
        if other.alpha != self.alpha or other.max_buckets != self.max_buckets:
            raise ValueError("cannot merge sketches with different alpha / max_buckets")
        if other.count == 0:
            return
        self.count += other.count
        self.sum += other.sum
        self.zero_count += other.zero_count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if other._counts.size:
            self._add_dense(other._offset, other._counts)

    def copy(self) -> DDSketch:
        out = DDSketch(self.alpha, self.max_buckets)
        out.merge(self)
        return out

    # -- queries --------------------------------------------------------------------------
    def quantile(self, q: float) -> float | None:
        """Estimate of the element of rank ``floor(q * (count - 1))``; ``None`` when empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError("q must be in [0, 1]")
        if self.count == 0:
            return None
        rank = math.floor(q * (self.count - 1))
        if rank < self.zero_count:
            est = 0.0
        else:
            cum = np.cumsum(self._counts)
            i = int(np.searchsorted(cum, rank - self.zero_count, side="right"))
            est = self.bucket_value(self._offset + i)
        return min(max(est, self.min), self.max)

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        return [self.quantile(q) for q in qs]

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def buckets(self, include_zero: bool = False) -> dict[int, int]:
        """Non-empty buckets ``{k: count}``; the zero bucket under :data:`ZERO_KEY` if asked."""
        nz = np.flatnonzero(self._counts)
        out = {int(self._offset + i): int(self._counts[i]) for i in nz}
        if include_zero and self.zero_count:
            out[ZERO_KEY] = self.zero_count
        return out

    @classmethod
    def from_buckets(
        cls,
        buckets: dict[int, int],
        *,
        zero_count: int = 0,
        total: float = 0.0,
        min_value: float = math.inf,
        max_value: float = -math.inf,
        alpha: float = DEFAULT_ALPHA,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
    ) -> DDSketch:
        """Rebuild a sketch from its bucket map (e.g. a ClickHouse ``sumMap`` result)."""
        out = cls(alpha, max_buckets)
        items = {k: c for k, c in buckets.items() if k != ZERO_KEY and c}
        zero_count += buckets.get(ZERO_KEY, 0)
        if items:
            lo, hi = min(items), max(items)
            dense = np.zeros(hi - lo + 1, dtype=np.int64)
            for k, c in items.items():
                dense[k - lo] = c
            out._add_dense(lo, dense)
        out.zero_count = zero_count
        out.count = zero_count + sum(items.values())
        out.sum, out.min, out.max = total, min_value, max_value
        return out

    # -- serialization --------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Compact binary form: fixed header + dense counts as uint32 (or uint64 if needed)."""
        wide = bool(self._counts.size) and int(self._counts.max()) >= 2**32
        body = self._counts.astype("<u8" if wide else "<u4").tobytes()
        header = _HEADER.pack(
            _MAGIC,
            2 if wide else 1,
            self.alpha,
            self.max_buckets,
            self.zero_count,
            self.count,
            self.sum,
            self.min,
            self.max,
            self._offset,
            self._counts.size,
        )
        return header + body

    @classmethod
    def from_bytes(cls, blob: bytes) -> DDSketch:
        magic, ver, alpha, max_buckets, zero, count, total, lo, hi, offset, n = _HEADER.unpack_from(blob)
        if magic != _MAGIC or ver not in (1, 2):
            raise ValueError("not a fleetpulse sketch")
        dtype = "<u8" if ver == 2 else "<u4"
        counts = np.frombuffer(blob, dtype=dtype, count=n, offset=_HEADER.size).astype(np.int64)
        out = cls(alpha, max_buckets)
        out._offset, out._counts = offset, counts
        out.zero_count, out.count, out.sum, out.min, out.max = zero, count, total, lo, hi
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DDSketch):
            return NotImplemented
        return (
            self.alpha == other.alpha
            and self.count == other.count
            and self.zero_count == other.zero_count
            and self.buckets() == other.buckets()
            and self.min == other.min
            and self.max == other.max
        )

    __hash__ = None  # type: ignore[assignment]  # mutable value object

    def __repr__(self) -> str:
        return f"DDSketch(alpha={self.alpha}, count={self.count}, buckets={len(self.buckets())})"


def sketch_of(
    values: npt.ArrayLike, alpha: float = DEFAULT_ALPHA, max_buckets: int = DEFAULT_MAX_BUCKETS
) -> DDSketch:
    """A new sketch holding ``values``."""
    s = DDSketch(alpha, max_buckets)
    s.add_many(values)
    return s
