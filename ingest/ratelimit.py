"""rate_limit step: one token bucket per API key for requests/s and one for records/s.

A bucket holds at most ``rate x burst_s`` tokens and refills continuously at ``rate`` per
second. :meth:`TokenBucket.take` either takes ``n`` tokens and answers ``0.0`` or takes nothing
and answers how many seconds until it could. A request larger than the bucket is let through
when the bucket is full and drives it negative (a debt paid by waiting), so any request within
the collector's own caps is eventually accepted. Rate 0 disables a limit. Callers answer
``429`` with ``Retry-After`` (whole seconds, rounded up, at least 1).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass
class TokenBucket:
    """Continuous-refill token bucket; not thread safe (the collector's loop thread owns it)."""

    rate: float  # tokens per second (> 0)
    capacity: float  # bucket size (> 0)
    clock: Clock = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.tokens = self.capacity
        self.updated = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, n: float = 1.0) -> float:
        """Take ``n`` tokens: ``0.0`` when granted, else seconds to wait (nothing taken)."""
        self._refill()
        need = min(n, self.capacity)
        if self.tokens >= need:
            self.tokens -= n
            return 0.0
        return (need - self.tokens) / self.rate


def retry_after(wait_s: float) -> int:
    """``Retry-After`` in whole seconds: rounded up, at least 1."""
    return max(1, math.ceil(wait_s))


class RateLimiter:
    """Per-key buckets, created on first use; keys are API-key digests (bounded by the tenants)."""

    def __init__(
        self, requests_per_s: float, records_per_s: float, burst_s: float, clock: Clock = time.monotonic
    ) -> None:
        self.requests_per_s = requests_per_s
        self.records_per_s = records_per_s
        self.burst_s = burst_s
        self.clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def _bucket(self, key: str, kind: str, rate: float) -> TokenBucket:
        bucket = self._buckets.get((key, kind))
        if bucket is None:
            bucket = TokenBucket(rate, rate * self.burst_s, self.clock)
            self._buckets[(key, kind)] = bucket
        return bucket

    def take_request(self, key: str) -> float:
        """One request for ``key``: ``0.0`` or seconds to wait."""
        if self.requests_per_s <= 0:
            return 0.0
        return self._bucket(key, "requests", self.requests_per_s).take(1)

    def take_records(self, key: str, n: int) -> float:
        """``n`` records for ``key``: ``0.0`` or seconds to wait."""
        if self.records_per_s <= 0:
            return 0.0
        return self._bucket(key, "records", self.records_per_s).take(n)
