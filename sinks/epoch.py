"""batch step: an *epoch*, the unit that is planned, inserted and committed as one.

An epoch holds what was consumed from each partition's committed offset ``C_p`` up to an end
offset ``E_p``: rows per table and per source partition, kept in offset order so the same
offsets always give the same insert. Its :meth:`Epoch.plan` (``E_p`` per partition, plus an
epoch id) is committed as Kafka offset *metadata* before any insert; :meth:`Epoch.token` is the
table's ``insert_deduplication_token``, a function of (table, every ``topic/partition/C_p-E_p``)
only, so a replay of the same plan sends the same token and ClickHouse stores nothing twice.
See docs/sink.md for the proof.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from sinks.clickhouse import Columnar
from sinks.rows import Row

TP = tuple[str, int]  # (topic, partition)
PLAN_PREFIX: Final = "fp1"


@dataclass(frozen=True, slots=True)
class PlannedEnd:
    """A pending plan read back from commit metadata: this partition's epoch ends at ``last``."""

    epoch_id: str
    last: int
    partitions: int  # how many partitions the planned epoch spans


def encode_plan(epoch_id: str, last: int, partitions: int) -> str:
    return f"{PLAN_PREFIX}:{epoch_id}:{last}:{partitions}"


def decode_plan(metadata: str | None) -> PlannedEnd | None:
    """Commit metadata -> the pending plan it records, or ``None`` (empty: nothing pending)."""
    if not metadata or not metadata.startswith(PLAN_PREFIX + ":"):
        return None
    try:
        _, epoch_id, last, parts = metadata.split(":")
        return PlannedEnd(epoch_id, int(last), int(parts))
    except ValueError:
        return None


@dataclass
class Epoch:
    """Rows of one epoch. Lifecycle: ``add``/``skip`` while filling; then read-only."""

    planned: dict[TP, PlannedEnd] = field(default_factory=dict)  # a replay: end exactly here
    first: dict[TP, int] = field(default_factory=dict)
    last: dict[TP, int] = field(default_factory=dict)
    rows: dict[str, dict[TP, list[Row]]] = field(default_factory=dict)
    num_rows: int = 0
    num_bytes: int = 0
    opened_at: float = 0.0  # monotonic time of the first message

    def _extend(self, tp: TP, offset: int, nbytes: int) -> None:
        if tp not in self.first:
            self.first[tp] = offset
            if not self.opened_at:
                self.opened_at = time.monotonic()
        self.last[tp] = offset
        self.num_bytes += nbytes

    def add(self, tp: TP, offset: int, table: str, row: Row, nbytes: int) -> None:
        """Take one decoded message (offsets of a partition arrive in increasing order)."""
        self._extend(tp, offset, nbytes)
        self.rows.setdefault(table, {}).setdefault(tp, []).append(row)
        self.num_rows += 1

    def skip(self, tp: TP, offset: int, nbytes: int) -> None:
        """A message that yields no row (bad data, counted elsewhere) still belongs to the range."""
        self._extend(tp, offset, nbytes)

    # -- replay ------------------------------------------------------------------------------------

    def beyond_plan(self, tp: TP, offset: int) -> bool:
        """True if a replay must not take this message (after the planned end, or not planned)."""
        if not self.planned:
            return False
        end = self.planned.get(tp)
        return end is None or offset > end.last

    def plan_complete(self) -> bool:
        """A replay epoch is complete once every planned partition reached its planned end."""
        return all(self.last.get(tp, -1) >= end.last for tp, end in self.planned.items())

    # -- what gets planned, inserted, committed ------------------------------------------------------

    @property
    def empty(self) -> bool:
        return not self.last

    def ranges(self) -> list[tuple[str, int, int, int]]:
        """``(topic, partition, C_p, E_p)`` sorted: the epoch's identity."""
        return sorted((t, p, self.first[(t, p)], last) for (t, p), last in self.last.items())

    def epoch_id(self) -> str:
        text = ",".join(f"{t}/{p}/{a}-{b}" for t, p, a, b in self.ranges())
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def plan(self) -> dict[TP, str]:
        """Commit metadata per partition: ``fp1:<epoch id>:<E_p>:<partitions>``."""
        eid, n = self.epoch_id(), len(self.last)
        return {tp: encode_plan(eid, last, n) for tp, last in self.last.items()}

    def token(self, table: str) -> str:
        """The table's ``insert_deduplication_token``: (table, epoch ranges) and nothing else."""
        return f"fp-{table}-{self.epoch_id()}"

    def batches(self) -> Iterator[tuple[str, Columnar]]:
        """Per table: the rows of every source partition in (topic, partition, offset) order."""
        for table in sorted(self.rows):
            by_tp = self.rows[table]
            ordered = [row for tp in sorted(by_tp) for row in by_tp[tp]]
            yield table, Columnar([list(col) for col in zip(*ordered, strict=True)])
