"""The sink's path, assembled in one place: consume -> decode -> batch -> plan -> insert -> commit.

:meth:`SinkPipeline.run` reads top to bottom: ``fill`` an epoch (consume, decode, batch) until
it is closed by rows, bytes or time (or, when replaying, by its plan); ``flush`` it: commit the
plan (offsets unchanged, plan in the metadata), insert every table under the epoch's tokens
(retrying with exponential backoff while the consumer is paused), then commit ``E_p + 1``.
Offsets move only after ClickHouse acknowledged every table of the epoch. One thread runs all
of it; the backend's own lock serializes it with the read server. Docs: docs/sink.md.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from fleetpulse.settings import Settings
from sinks.clickhouse import Backend
from sinks.dlq import DeadLetters
from sinks.epoch import TP, Epoch, PlannedEnd
from sinks.faults import OutageWindow
from sinks.insert import InsertStep, PreparedEpoch
from sinks.metrics import SinkMetrics
from sinks.rows import BadMessage, Row, rows_for_event
from sinks.rows_results import rows_for_aggregates, rows_for_regression
from sinks.source import KafkaSource, MembershipLostError

log = logging.getLogger("fleetpulse.sink")

Decoder = Callable[[bytes, int, int], list[tuple[str, Row]]]


def decoders(settings: Settings) -> dict[str, Decoder]:
    """decode step: topic -> pure function ``(value, partition, offset) -> [(table, row), ...]``."""
    return {
        settings.topic_events: lambda value, p, o: [rows_for_event(value, p, o)],
        settings.topic_aggregates: lambda value, _p, _o: rows_for_aggregates(value),
        settings.topic_regressions: lambda value, _p, _o: [rows_for_regression(value)],
    }


class SinkPipeline:
    """Lifecycle: build, ``run(stop)`` on one thread until ``stop`` is set; ``run`` closes the consumer."""

    def __init__(self, settings: Settings, backend: Backend, metrics: SinkMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.decode = decoders(settings)
        self.insert = InsertStep(backend, settings.clickhouse_database, metrics)
        self.source = KafkaSource(settings, metrics, self._assigned, self._revoked)
        self.dead_letters = DeadLetters(settings, metrics)
        self.epoch = Epoch()
        self.generation = 0  # bumped by every rebalance: an epoch of an older generation is void
        self.paused = False
        self.outage = OutageWindow(settings.sink_fault_outage_after_s, settings.sink_fault_outage_s)

    # -- rebalance -----------------------------------------------------------------------------------

    def _assigned(self, plans: dict[TP, PlannedEnd]) -> None:
        self.generation += 1
        self.epoch = Epoch(planned=plans)
        self._pending()

    def _revoked(self) -> None:
        # Nothing uncommitted is lost: without a plan the offsets were never moved; with one,
        # whoever is assigned the partitions replays it under the same tokens.
        self.generation += 1
        self.epoch = Epoch()
        self._pending()

    def _pending(self) -> None:
        self.metrics.rows_pending.set(self.epoch.num_rows)
        self.metrics.bytes_pending.set(self.epoch.num_bytes)

    # -- the path ------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.source.subscribe()
        self.metrics.running.set(1)
        try:
            while not stop.is_set():
                epoch = self.fill(stop)
                if not epoch.empty:
                    self.flush(epoch, stop)
                elif epoch.planned and self.closed(epoch):  # the planned offsets are gone
                    self.source.release_held()
                    self.epoch = Epoch()
            deadline = time.monotonic() + self.settings.sink_shutdown_timeout_s
            if not self.epoch.empty and not self.epoch.planned:
                self.flush(self.epoch, stop, deadline)
        finally:
            self.metrics.running.set(0)
            self.dead_letters.close()
            self.source.close()

    def closed(self, epoch: Epoch) -> bool:
        if epoch.planned:
            return epoch.plan_complete() or all(tp in self.source.held for tp in epoch.planned)
        s = self.settings
        return (
            epoch.num_rows >= s.sink_epoch_max_rows
            or epoch.num_bytes >= s.sink_epoch_max_bytes
            or (not epoch.empty and time.monotonic() - epoch.opened_at >= s.sink_epoch_max_s)
        )

    def fill(self, stop: threading.Event) -> Epoch:
        """consume -> decode -> batch, until the epoch closes (or ``stop``); returns that epoch."""
        s = self.settings
        while not stop.is_set():
            epoch = self.epoch
            if self.closed(epoch):
                return epoch
            room = s.sink_epoch_max_rows - epoch.num_rows if not epoch.planned else s.sink_consume_batch
            wait = s.sink_epoch_max_s - (time.monotonic() - epoch.opened_at) if not epoch.empty else 0.2
            started = time.monotonic()
            messages = self.source.consume(min(room, s.sink_consume_batch), max(0.01, min(wait, 0.2)))
            consumed = time.monotonic()
            # A rebalance may have run inside consume(): what it returned after that belongs to
            # the new assignment, hence to the epoch the callback installed. Never drop it.
            epoch = self.epoch
            for msg in messages:
                self._add(epoch, msg)
            self.metrics.step_latency.labels("consume").observe(consumed - started)
            self.metrics.step_latency.labels("decode").observe(time.monotonic() - consumed)
            self._pending()
        return self.epoch

    def _add(self, epoch: Epoch, msg: Any) -> None:
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        tp = (topic, partition)
        if epoch.beyond_plan(tp, offset):
            self.source.hold(tp, offset)
            return
        value: bytes = msg.value() or b""
        try:
            rows = self.decode[topic](value, partition, offset)
        except BadMessage as exc:
            self.metrics.bad_messages.labels(topic, exc.reason).inc()
            log.warning("dead-lettering %s/%d@%d: %s", topic, partition, offset, exc)
            self.dead_letters.invalid(tp, offset, value, exc.reason, str(exc))  # or DlqLimitExceeded
            epoch.skip(tp, offset, len(value))
            return
        self.dead_letters.valid(tp)
        for i, (table, row) in enumerate(rows):
            epoch.add(tp, offset, table, row, len(value) if i == 0 else 0)

    def _abandon(self, exc: MembershipLostError, kind: str) -> bool:
        log.warning("%s commit refused, the group moved on (%s); epoch dropped, rejoining", kind, exc)
        self.generation += 1
        self.epoch = Epoch()
        self._pending()
        return False

    def flush(self, epoch: Epoch, stop: threading.Event, deadline: float | None = None) -> bool:
        """plan -> insert (retry, paused) -> commit. False if abandoned (rebalance or deadline)."""
        generation = self.generation
        replay = bool(epoch.planned)
        started = time.monotonic()
        try:
            self.source.commit_plan(epoch.first, epoch.plan())
        except MembershipLostError as exc:  # nothing inserted yet: the messages are read again
            return self._abandon(exc, "plan")
        self.metrics.step_latency.labels("plan").observe(time.monotonic() - started)
        prepared = PreparedEpoch.build(epoch)
        backoff = self.settings.sink_retry_initial_s
        started = time.monotonic()
        while True:
            try:
                self.outage.check()  # fault injection (tests only); a no-op unless configured
                self.insert.run(prepared)
                break
            except Exception as exc:
                log.warning("insert failed (%s); epoch kept, retry in %.1f s", exc, backoff)
            self.source.pause_all()
            self.paused = True
            self.metrics.paused.set(1)
            retry_at = time.monotonic() + backoff
            backoff = min(backoff * 2, self.settings.sink_retry_max_s)
            while time.monotonic() < retry_at:
                if stop.is_set() and deadline is None:
                    deadline = time.monotonic() + self.settings.sink_shutdown_timeout_s
                if deadline is not None and time.monotonic() >= deadline:
                    log.error(
                        "shutdown deadline passed with the epoch unstored; its plan is replayed on restart"
                    )
                    return False
                self.source.consume(1, min(0.2, max(0.01, retry_at - time.monotonic())))  # serve the group
                if self.generation != generation:
                    log.warning("partitions rebalanced while ClickHouse was failing; the plan is replayed")
                    return False
        self.metrics.step_latency.labels("insert").observe(time.monotonic() - started)
        if self.settings.sink_fault_crash_after_insert:
            log.error("fault injection: exiting after the insert, before the commit")
            os._exit(137)
        started = time.monotonic()
        try:
            self.source.commit_done(epoch.last)
        except MembershipLostError as exc:  # inserted under a committed plan: replayed under the same tokens
            return self._abandon(exc, "done")
        self.metrics.step_latency.labels("commit").observe(time.monotonic() - started)
        outcome = "new"
        if replay:
            planned_id = next(iter(epoch.planned.values())).epoch_id
            outcome = "replayed" if epoch.epoch_id() == planned_id else "partial_replay"
        self.metrics.epochs.labels(outcome).inc()
        log.info(
            "epoch %s %s: %d rows, %d partition(s)",
            epoch.epoch_id()[:12],
            outcome,
            epoch.num_rows,
            len(epoch.last),
        )
        if self.paused:
            self.source.resume_all()
            self.paused = False
            self.metrics.paused.set(0)
        self.source.release_held()
        self.epoch = Epoch()
        self._pending()
        self.source.update_lag()
        return True
