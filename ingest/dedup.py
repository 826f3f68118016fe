"""Duplicate detection: records already forwarded, by identity and by crash ``reportId``.

A record has up to two dedup keys: its identity ``(device_id, epoch, seq)`` and, for crash, hang
and stop-error reports, its ``reportId``. Keys live in three states:

* **seen** - Kafka acknowledged a record carrying the key. Remembered in time-bucketed
  generations (sets of 64-bit hashes) bounded by ``max_entries`` and ``window_s``, whichever
  is reached first; the oldest generation is dropped as a whole. A key is only marked seen
  *after* Kafka acknowledged it, so a failed delivery can be retried by the client.
* **pending** - a request forwarded the key and awaits its acknowledgement. Another request
  carrying the same key is told "duplicate" but depends on the pending claim: if that delivery
  fails, the dependent request answers 503 too, so the record is never lost.
* unknown - forward it.

Memory: about 70 bytes per remembered key (a hash in a set). The store is per process and
in memory; at start-up the collector warms it from the tail of the events topic (ingest/warm.py),
so a crash does not forget what Kafka already holds.
All methods run on the event loop thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

DedupKey = int
Claim = asyncio.Future[frozenset[DedupKey]]  # resolves to the claimed keys Kafka acknowledged


def dedup_keys(device_id: str, epoch: str, seq: int, report_id: str | None) -> tuple[DedupKey, ...]:
    """The 64-bit keys of one record (process-local hashes; collisions ~ n^2 / 2^65)."""
    identity = hash(("i", device_id, epoch, seq))
    if report_id is None:
        return (identity,)
    return (identity, hash(("r", report_id.lower())))


@dataclass
class _Generation:
    started: float
    newest: float = float("-inf")  # when its most recent key was added
    keys: set[DedupKey] = field(default_factory=set)


class DedupStore:
    """Seen and pending dedup keys with a bounded, documented window."""

    def __init__(
        self,
        max_entries: int,
        window_s: float,
        generations: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.window_s = window_s
        self._per_generation = max(1, max_entries // generations)
        self._span_s = window_s / generations
        self._clock = clock
        self._generations: deque[_Generation] = deque([_Generation(clock())])
        self._size = 0
        self._pending: dict[DedupKey, Claim] = {}

    def __len__(self) -> int:
        return self._size

    def is_seen(self, key: DedupKey) -> bool:
        return any(key in g.keys for g in reversed(self._generations))

    def pending(self, key: DedupKey) -> Claim | None:
        return self._pending.get(key)

    def claim(self, keys: Iterable[DedupKey], claim: Claim) -> None:
        """Mark ``keys`` pending until ``settle`` is called for this claim."""
        for key in keys:
            self._pending[key] = claim

    def settle(self, claim: Claim, claimed: Iterable[DedupKey], acked: frozenset[DedupKey]) -> None:
        """Kafka answered for a claim: remember ``acked`` as seen, release every claimed key."""
        for key in claimed:
            if self._pending.get(key) is claim:
                del self._pending[key]
        self._remember(acked)
        if not claim.done():
            claim.set_result(acked)

    def remember(self, keys: Iterable[DedupKey]) -> None:
        """Mark ``keys`` seen (Kafka holds them): used to warm the store at start-up."""
        self._remember(keys)

    def _remember(self, keys: Iterable[DedupKey]) -> None:
        now = self._clock()
        self._expire(now)
        for key in keys:
            newest = self._generations[-1]
            if len(newest.keys) >= self._per_generation or now - newest.started >= self._span_s:
                newest = _Generation(now)
                self._generations.append(newest)
            if key not in newest.keys:
                newest.keys.add(key)
                newest.newest = now
                self._size += 1
        self._expire(now)

    def _expire(self, now: float) -> None:
        """Drop whole generations whose newest key is out of the window, or past max_entries."""
        gens = self._generations
        while len(gens) > 1 and (now - gens[0].newest > self.window_s or self._size > self.max_entries):
            self._size -= len(gens.popleft().keys)
        if now - gens[0].newest > self.window_s and gens[0].keys:
            self._size -= len(gens[0].keys)
            gens[0] = _Generation(now)


@dataclass
class Triage:
    """Which records of a request to forward, which are duplicates, and what they wait on."""

    forward: list[int] = field(default_factory=list)  # indices of records to produce
    duplicates: int = 0
    claimed: set[DedupKey] = field(default_factory=set)  # keys this request now holds pending
    depends: list[tuple[Claim, tuple[DedupKey, ...]]] = field(default_factory=list)


def triage(store: DedupStore, records_keys: Sequence[tuple[DedupKey, ...]], claim: Claim) -> Triage:
    """Sort one request's records: seen or repeated -> duplicate; pending elsewhere -> duplicate
    that depends on that claim; else forward and claim its keys for this request."""
    out = Triage()
    for index, keys in enumerate(records_keys):
        if any(store.is_seen(k) or k in out.claimed for k in keys):
            out.duplicates += 1
            continue
        other = next((c for c in map(store.pending, keys) if c is not None), None)
        if other is not None:
            out.duplicates += 1
            out.depends.append((other, keys))
            continue
        out.forward.append(index)
        out.claimed.update(keys)
    store.claim(out.claimed, claim)
    return out
