"""insert step: every table of an epoch into ClickHouse, each under the epoch's token.

:meth:`InsertStep.run` may be called again after it raised: tables already acknowledged are in
``done`` and skipped; the others are sent again with the *same* token, so a table whose first
attempt did reach ClickHouse (the failure was only in the answer) stores nothing twice.
Offsets may be committed only after ``run`` returned without raising.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sinks.clickhouse import Backend, Columnar
from sinks.epoch import Epoch
from sinks.metrics import SinkMetrics
from sinks.rows import RAW_COLUMNS, RECEIVED_AT_INDEX
from sinks.rows_results import RESULT_COLUMNS

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {**RAW_COLUMNS, **RESULT_COLUMNS}


@dataclass
class PreparedEpoch:
    """An epoch's insert batches, built once (retries reuse them) and what is already stored."""

    epoch: Epoch
    batches: list[tuple[str, Columnar]]
    done: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, epoch: Epoch) -> PreparedEpoch:
        return cls(epoch, list(epoch.batches()))

    @property
    def complete(self) -> bool:
        return all(table in self.done for table, _ in self.batches)


class InsertStep:
    """Lifecycle: built once per process with the shared backend; ``run`` per epoch."""

    def __init__(self, backend: Backend, database: str, metrics: SinkMetrics) -> None:
        self.backend = backend
        self.database = database
        self.metrics = metrics

    def run(self, prepared: PreparedEpoch) -> None:
        """Insert every table not yet in ``prepared.done``; raise on the first failure."""
        for table, data in prepared.batches:
            if table in prepared.done:
                continue
            started = time.monotonic()
            try:
                self.backend.insert(
                    f"{self.database}.{table}",
                    TABLE_COLUMNS[table],
                    data,
                    dedup_token=prepared.epoch.token(table),
                )
            except Exception:
                self.metrics.insert_failures.labels(table).inc()
                raise
            self.metrics.insert_latency.labels(table).observe(time.monotonic() - started)
            self.metrics.rows_inserted.labels(table).inc(data.num_rows)
            prepared.done.add(table)
            if table in RAW_COLUMNS:
                self._observe_queryable(table, data.columns[RECEIVED_AT_INDEX])

    def _observe_queryable(self, table: str, received: Sequence[object]) -> None:
        """``fleetpulse_event_to_queryable_seconds``: now - collector receive time, per row."""
        now = time.time()
        hist = self.metrics.event_to_queryable.labels(table)
        for value in received:
            hist.observe(now - value.timestamp())  # type: ignore[attr-defined]  # a datetime (rows.py)
