"""Fast scalar draws and time formatting for the per-event hot path.

Per-device-day decisions are drawn with numpy (vectorised per chunk); per-event details use
:class:`Rand`, a seeded :class:`random.Random` (deterministic across platforms), because a
Python-level scalar draw is ~20× cheaper than a numpy scalar call.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_PREFIX: dict[int, str] = {}
Z90 = 1.2815515655446004  # standard-normal 90th percentile


def fmt_time(ms: int) -> str:
    """RFC 3339 UTC with milliseconds and a ``Z``, e.g. ``2026-03-11T07:41:43.902Z``."""
    day, rem = divmod(ms, 86_400_000)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        _DAY_PREFIX[day] = prefix
    sec, milli = divmod(rem, 1000)
    hour, sec = divmod(sec, 3600)
    minute, sec = divmod(sec, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{sec:02d}.{milli:03d}Z"


def to_ms(dt: datetime) -> int:
    """Milliseconds since the Unix epoch."""
    return round((dt - _EPOCH).total_seconds() * 1000)


class Rand(random.Random):
    """``random.Random`` with the draws the simulator needs."""

    def lognorm(
        self, median: float, p90: float, lo: float, hi: float, level: tuple[float, float] = (0.0, 1.0)
    ) -> int:
        """Log-normal with the given median and 90th percentile, clipped to ``[lo, hi]``.

        ``level = (a, b)`` with ``a² + b² = 1`` splits the log-normal's variance: ``a`` times a fixed
        standard-normal draw of the caller's (a device's own level) plus ``b`` times a fresh one, so
        the distribution over many devices keeps the median and p90."""
        sigma = math.log(p90 / median) / Z90
        value = median * math.exp(sigma * (level[0] + level[1] * self.gauss(0.0, 1.0)))
        return int(min(max(value, lo), hi))

    def ri(self, a: int, b: int) -> int:
        """Integer in ``[a, b]`` (a faster ``randint``)."""
        return a + int(self.random() * (b - a + 1))

    def distinct(self, n: int, k: int) -> list[int]:
        """``k`` distinct sorted integers from ``range(n)`` (``k`` ≤ ``n``)."""
        if k * 3 > n:
            return sorted(self.sample(range(n), k))
        picked: set[int] = set()
        while len(picked) < k:
            picked.add(int(self.random() * n))
        return sorted(picked)

    def poisson(self, lam: float) -> int:
        """Poisson draw by inversion (small ``lam``)."""
        if lam <= 0.0:
            return 0
        u = self.random()
        k, p = 0, math.exp(-lam)
        cdf = p
        while u > cdf and k < 1000:
            k += 1
            p *= lam / k
            cdf += p
        return k

    def guid(self) -> str:
        """A lower-case version-4 UUID string."""
        h = f"{self.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"

    def hex_upper(self, digits: int) -> str:
        """``0x`` + ``digits`` upper-case hex digits."""
        return f"0x{self.getrandbits(4 * digits):0{digits}X}"

    def zipf_index(self, n: int, s: float = 1.1) -> int:
        """An index in ``range(n)`` with weight ``1/(k+1)^s`` (crash-signature concentration)."""
        weights = [1.0 / (k + 1) ** s for k in range(n)]
        return self.choices(range(n), weights=weights)[0]
