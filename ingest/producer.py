"""The collector's Kafka producer: idempotent, lz4, delivery reports bridged to asyncio.

Lifecycle: ``EventProducer(settings, metrics)`` -> :meth:`start` (binds the event loop, starts the
poll thread that serves delivery callbacks) -> :meth:`send` (from the loop thread; returns a
:class:`DeliveryBatch` whose :attr:`~DeliveryBatch.done` future resolves once Kafka reported on
every message of the batch) -> :meth:`close` (flush within a deadline, stop the poll thread).

BackpressureError: :meth:`send` raises :class:`BackpressureError` *before* producing anything when the
local queue (messages, or bytes this producer has in flight) is above the high-water mark, and
stops on ``BufferError``; the caller answers 503 with ``Retry-After`` instead of growing memory.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from fleetpulse.settings import Settings
from ingest.metrics import CollectorMetrics

log = logging.getLogger("fleetpulse.collector.producer")


class BackpressureError(Exception):
    """The producer cannot take more now; ``cause`` is a metric label word."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass(frozen=True)
class Outgoing:
    """One Kafka message to produce."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, str | bytes | None]] | None = None


def producer_config(settings: Settings) -> dict[str, Any]:
    """librdkafka settings: idempotent, acks=all, lz4, throughput batching, bounded queue."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": "fleetpulse-collector",
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": settings.collector_linger_ms,
        "batch.size": settings.collector_batch_bytes,
        "queue.buffering.max.messages": settings.collector_queue_max_messages,
        "queue.buffering.max.kbytes": settings.collector_queue_max_kbytes,
        "message.timeout.ms": settings.collector_delivery_timeout_ms,
    }


class DeliveryBatch:
    """Delivery outcomes of one request's messages.

    ``errors[i]`` is ``None`` once message ``i`` was acknowledged, else the error text (messages
    never produced because of backpressure carry ``"not_produced"``). Callbacks arrive on the poll
    thread; :attr:`done` is resolved on the loop thread once every message is accounted for.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.errors: list[str | None] = ["pending"] * size
        self.done: asyncio.Future[None] = loop.create_future()
        self.started = time.perf_counter()
        self._remaining = size
        self._lock = threading.Lock()
        if size == 0:
            self.done.set_result(None)

    def callback(self, index: int) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            self._report(index, None if err is None else str(err))

        return on_delivery

    def abandon(self, start: int) -> None:
        """Messages ``start..`` were never produced: count them as failed right away."""
        for index in range(start, len(self.errors)):
            self._report(index, "not_produced")

    def _report(self, index: int, error: str | None) -> None:
        with self._lock:
            self.errors[index] = error
            self._remaining -= 1
            last = self._remaining == 0
        if last:
            self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class EventProducer:
    """confluent-kafka ``Producer`` plus a poll thread, in-flight accounting and a health probe."""

    def __init__(
        self, settings: Settings, metrics: CollectorMetrics, overrides: dict[str, Any] | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._producer = Producer({**producer_config(settings), **(overrides or {})})
        high_water = settings.collector_inflight_high_water
        self._max_messages = int(settings.collector_queue_max_messages * high_water)
        self._max_bytes = int(settings.collector_queue_max_kbytes * 1024 * high_water)
        self._inflight_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_probe_ok = float("-inf")  # time.monotonic() of the last successful metadata call
        metrics.kafka_queue_depth.set_function(lambda: float(len(self._producer)))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the serving loop and start the poll thread (idempotent)."""
        self._loop = loop
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._poll_forever, name="kafka-poll", daemon=True)
        self._thread.start()

    def _poll_forever(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def queue_depth(self) -> int:
        return len(self._producer)

    def send(self, messages: Sequence[Outgoing]) -> DeliveryBatch:
        """Produce ``messages``; raise :class:`BackpressureError` if none could be taken.

        If the local queue fills part-way, the rest is marked ``not_produced`` and the batch still
        resolves once the produced part is reported (the caller answers 503 for the request).
        """
        assert self._loop is not None, "start() first"
        size = sum(len(m.value) for m in messages)
        if len(self._producer) + len(messages) > self._max_messages:
            raise BackpressureError("queue_messages")
        if self._inflight_bytes + size > self._max_bytes:
            raise BackpressureError("queue_bytes")
        batch = DeliveryBatch(self._loop, len(messages))
        self._inflight_bytes += size
        batch.done.add_done_callback(lambda _f: self._finished(batch, size))
        for index, msg in enumerate(messages):
            try:
                self._producer.produce(
                    msg.topic,
                    value=msg.value,
                    key=msg.key,
                    headers=msg.headers,
                    on_delivery=batch.callback(index),
                )
            except BufferError:
                self.metrics.backpressure.labels("buffer_error").inc()
                batch.abandon(index)
                break
        return batch

    def _finished(self, batch: DeliveryBatch, size: int) -> None:
        self._inflight_bytes -= size
        self.metrics.produce_latency.observe(time.perf_counter() - batch.started)

    def probe(self, timeout_s: float = 5.0) -> bool:
        """Blocking metadata call (run it in a thread); records the time of success."""
        try:
            self._producer.list_topics(timeout=timeout_s)
        except Exception as exc:  # KafkaException on timeout / transport failure
            log.warning("kafka metadata probe failed: %s", exc)
            return False
        self.last_probe_ok = time.monotonic()
        return True

    def healthy(self) -> bool:
        return time.monotonic() - self.last_probe_ok <= self.settings.collector_health_max_age_s

    def close(self, timeout_s: float) -> int:
        """Flush within ``timeout_s``, stop the poll thread; return messages left undelivered."""
        deadline = time.monotonic() + timeout_s
        left = self._producer.flush(max(0.0, timeout_s))
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
        if left:
            log.error("kafka producer closed with %d undelivered messages", left)
        return int(left)
