"""dead-letter step of the sink, with a limit (arroyo's ``DlqLimit``).

A message the decode step cannot turn into a row (:class:`sinks.rows.BadMessage`) is produced,
raw, to ``topic_dlq`` with reason and origin headers (``reason``, ``detail``, ``stage=sink``,
``origin_topic``, ``origin_partition``, ``origin_offset``) and acknowledged by Kafka (flush)
before the pipeline goes on, so its offset is committed only after its DLQ copy is durable.

The limit is per partition, counted since the partition was first seen by this process:
``max_invalid_ratio`` (bad / seen, applied once ``min_messages`` were seen) and
``max_consecutive_count`` (bad in a row). A bad message that would exceed it is **not**
dead-lettered: :class:`DlqLimitExceeded` is raised, the writer dies without committing, and the
sink process exits non-zero with one CRITICAL log line and ``fleetpulse_sink_dlq_limit_exceeded_total``
set. After the bad deploy is fixed, the sink restarts from the last commit and reprocesses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from fleetpulse.settings import Settings
from sinks.epoch import TP
from sinks.metrics import SinkMetrics

log = logging.getLogger("fleetpulse.sink.dlq")


class DlqLimitExceeded(RuntimeError):  # noqa: N818 - arroyo's name for the same outcome
    """Too many bad messages on one partition: stop the consumer rather than dead-letter them all."""


@dataclass(frozen=True)
class DlqLimit:
    max_invalid_ratio: float
    max_consecutive_count: int
    min_messages: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> DlqLimit:
        return cls(
            settings.sink_dlq_max_invalid_ratio,
            settings.sink_dlq_max_consecutive,
            settings.sink_dlq_min_messages,
        )


@dataclass
class _Counts:
    valid: int = 0
    invalid: int = 0
    consecutive: int = 0


class LimitTracker:
    """Pure per-partition bookkeeping of :class:`DlqLimit` (unit-testable without Kafka)."""

    def __init__(self, limit: DlqLimit) -> None:
        self.limit = limit
        self.counts: dict[TP, _Counts] = {}

    def valid(self, tp: TP) -> None:
        c = self.counts.setdefault(tp, _Counts())
        c.valid += 1
        c.consecutive = 0

    def check_invalid(self, tp: TP) -> str | None:
        """Count one bad message; the reason the limit is exceeded, or ``None`` when within it."""
        c = self.counts.setdefault(tp, _Counts())
        c.invalid += 1
        c.consecutive += 1
        seen, limit = c.valid + c.invalid, self.limit
        if c.consecutive > limit.max_consecutive_count:
            return f"{c.consecutive} bad in a row > max_consecutive_count {limit.max_consecutive_count}"
        ratio = c.invalid / seen
        if seen >= limit.min_messages and ratio > limit.max_invalid_ratio:
            return f"bad ratio {c.invalid}/{seen} = {ratio:.3f} > max_invalid_ratio {limit.max_invalid_ratio}"
        return None


class DeadLetters:
    """Lifecycle: build -> :meth:`valid` / :meth:`invalid` from the pipeline thread -> :meth:`close`."""

    def __init__(self, settings: Settings, metrics: SinkMetrics, producer: Any = None) -> None:
        self.topic = settings.topic_dlq
        self.metrics = metrics
        self.tracker = LimitTracker(DlqLimit.from_settings(settings))
        self._producer = producer
        self._config = {
            "bootstrap.servers": settings.kafka_bootstrap,
            "client.id": "fleetpulse-sink-dlq",
            "enable.idempotence": True,
            "acks": "all",
        }

    def valid(self, tp: TP) -> None:
        self.tracker.valid(tp)

    def invalid(self, tp: TP, offset: int, value: bytes, reason: str, detail: str) -> None:
        """Dead-letter one bad message (acknowledged), or raise :class:`DlqLimitExceeded`."""
        exceeded = self.tracker.check_invalid(tp)
        if exceeded is not None:
            self.metrics.dlq_limit_exceeded.labels(tp[0]).inc()
            log.critical(
                "DLQ LIMIT EXCEEDED on %s/%d at offset %d (%s; last reason %s): stopping the sink "
                "instead of dead-lettering everything; nothing after the last commit is lost",
                tp[0], tp[1], offset, exceeded, reason,
            )  # fmt: skip
            raise DlqLimitExceeded(f"{tp[0]}/{tp[1]}@{offset}: {exceeded}")
        if self._producer is None:
            self._producer = Producer(self._config)
        headers = [
            ("reason", reason.encode()),
            ("detail", detail[:512].encode("utf-8", "replace")),
            ("stage", b"sink"),
            ("origin_topic", tp[0].encode()),
            ("origin_partition", str(tp[1]).encode()),
            ("origin_offset", str(offset).encode()),
        ]
        self._producer.produce(self.topic, value=value, headers=headers)
        if self._producer.flush(30) != 0:
            raise RuntimeError(f"DLQ copy of {tp[0]}/{tp[1]}@{offset} not acknowledged by Kafka")
        self.metrics.dlq_messages.labels(tp[0], reason).inc()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)
