"""consume and commit steps: the Kafka side of the sink (confluent-kafka, manual commits).

Lifecycle: :meth:`KafkaSource.subscribe` once; then, from the one pipeline thread only,
``consume`` / ``pause_all`` / ``resume_all`` / ``hold`` / ``release_held`` /
``commit_plan`` / ``commit_done``; :meth:`close` last. Offsets move only through
``commit_done``, which the pipeline calls after ClickHouse acknowledged the epoch; before its
inserts the pipeline calls ``commit_plan``, which leaves the offsets where they are and records
the epoch plan in their *metadata*. On assignment the committed metadata is read back and handed
to ``on_assign`` so a pending plan is replayed exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from fleetpulse.settings import Settings
from sinks.epoch import TP, PlannedEnd, decode_plan
from sinks.metrics import SinkMetrics

log = logging.getLogger("fleetpulse.sink.source")

COMMIT_RETRY_S = 120.0  # < max.poll.interval.ms (300 s): the member stays in the group meanwhile


class MembershipLostError(RuntimeError):
    """The group moved on without us (session timed out, e.g. across a broker restart): the
    partitions are revoked; the caller drops its epoch and the consumer rejoins on its next poll."""


_MEMBERSHIP_LOST = frozenset(
    {
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.FENCED_INSTANCE_ID,
    }
)

_RETRY_CODES = frozenset(
    {
        KafkaError._WAIT_COORD,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.REQUEST_TIMED_OUT,
    }
)

OnAssign = Callable[[dict[TP, PlannedEnd]], None]
OnRevoke = Callable[[], None]


def consumer_config(settings: Settings) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": settings.sink_group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "queued.max.messages.kbytes": 32 * 1024,  # librdkafka's prefetch, on top of one epoch
        "max.poll.interval.ms": 300_000,
        "session.timeout.ms": 10_000,  # a killed sink's partitions come back within ~10 s
    }


class KafkaSource:
    """The consumer of the events, aggregates and regressions topics (see the module docstring)."""

    def __init__(
        self, settings: Settings, metrics: SinkMetrics, on_assign: OnAssign, on_revoke: OnRevoke
    ) -> None:
        self.topics = [settings.topic_events, settings.topic_aggregates, settings.topic_regressions]
        self.metrics = metrics
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._consumer = Consumer(consumer_config(settings))
        self._assigned: list[TopicPartition] = []
        self._held: dict[TP, int] = {}  # paused partitions -> the offset to seek back to

    def subscribe(self) -> None:
        self._consumer.subscribe(
            self.topics, on_assign=self._assigned_cb, on_revoke=self._revoked_cb, on_lost=self._revoked_cb
        )

    # -- rebalance callbacks (run inside consume) ----------------------------------------------------

    def _assigned_cb(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned = list(partitions)
        self._held.clear()
        committed = consumer.committed(partitions, timeout=30) if partitions else []
        plans: dict[TP, PlannedEnd] = {}
        for tp in committed:
            plan = decode_plan(tp.metadata)
            if plan is not None and tp.offset >= 0:
                plans[(tp.topic, tp.partition)] = plan
        log.info(
            "assigned %d partition(s), %d with a pending epoch plan %s",
            len(partitions),
            len(plans),
            {
                f"{t}/{p}": (c.offset, c.metadata)
                for c in committed
                for t, p in [(c.topic, c.partition)]
                if (t, p) in plans
            },
        )
        self._on_assign(plans)

    def _revoked_cb(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("revoked %d partition(s)", len(partitions))
        self._assigned = []
        self._held.clear()
        self._on_revoke()

    # -- consume -------------------------------------------------------------------------------------

    def consume(self, max_messages: int, timeout_s: float) -> list[Message]:
        """Up to ``max_messages`` messages (errors logged and dropped; they carry no offset)."""
        messages = self._consumer.consume(num_messages=max(1, max_messages), timeout=timeout_s)
        good = []
        for msg in messages:
            err = msg.error()
            if err is None:
                good.append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                log.warning("consume error: %s", err)
        return good

    def pause_all(self) -> None:
        if self._assigned:
            self._consumer.pause(self._assigned)

    def resume_all(self) -> None:
        if self._assigned:
            self._consumer.resume(self._assigned)

    def hold(self, tp: TP, offset: int) -> None:
        """Pause one partition whose message ``offset`` lies beyond a replayed plan; seek back later."""
        if tp not in self._held:
            self._held[tp] = offset
            self._consumer.pause([TopicPartition(tp[0], tp[1])])

    @property
    def held(self) -> set[TP]:
        return set(self._held)

    def release_held(self) -> None:
        """Resume held partitions from the first message they gave beyond the plan."""
        for (topic, partition), offset in self._held.items():
            tp = TopicPartition(topic, partition, offset)
            self._consumer.resume([tp])
            self._consumer.seek(tp)
        self._held.clear()

    # -- commit --------------------------------------------------------------------------------------

    def _commit(self, offsets: list[TopicPartition], kind: str) -> None:
        """Synchronous commit. A retriable error (the broker restarting: no coordinator yet, a
        transport error, a timeout) is retried with backoff for up to ``COMMIT_RETRY_S`` — both
        commits are idempotent — so a broker restart pauses the sink instead of killing it. Any
        other error (e.g. the group moved on: the partitions are someone else's) raises."""
        started = time.monotonic()
        delay = 0.2
        while True:
            try:
                result = self._consumer.commit(offsets=offsets, asynchronous=False)
                for tp in result or ():
                    if tp.error is not None:
                        raise KafkaException(tp.error)
                break
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                retriable = isinstance(error, KafkaError) and (
                    error.retriable() or error.code() in _RETRY_CODES
                )
                if isinstance(error, KafkaError) and error.code() in _MEMBERSHIP_LOST:
                    raise MembershipLostError(str(error)) from exc
                if not retriable or time.monotonic() - started + delay > COMMIT_RETRY_S:
                    raise
                log.warning("%s commit failed (%s); retrying in %.1f s", kind, error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.metrics.commit_latency.labels(kind).observe(time.monotonic() - started)

    def commit_plan(self, first: dict[TP, int], plan: dict[TP, str]) -> None:
        """Record the epoch plan: offsets stay at each partition's first offset, metadata = plan."""
        self._commit([TopicPartition(t, p, first[(t, p)], plan[(t, p)]) for (t, p) in plan], "plan")

    def commit_done(self, last: dict[TP, int]) -> None:
        """The epoch is stored: move every partition to ``E_p + 1`` and clear the plan."""
        self._commit([TopicPartition(t, p, end + 1, "") for (t, p), end in last.items()], "done")

    # -- lag, close ----------------------------------------------------------------------------------

    def update_lag(self) -> None:
        """``consumer_lag`` = high watermark (cached from fetches) - position, per partition."""
        if not self._assigned:
            return
        for tp in self._consumer.position(self._assigned):
            try:
                _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            if high >= 0 and tp.offset >= 0:
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, high - tp.offset))

    def close(self) -> None:
        self._consumer.close()
