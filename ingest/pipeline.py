"""``POST /v1/events`` as one readable chain of named steps.

    authenticate -> check_rate(requests) -> check_media -> read_body -> split_records
    -> check_rate(records)                                  (request.py; 401/429/415/413/400)
    -> classify: check_size -> decode -> check_tenant                 (batch.py; per-record reasons)
    -> triage duplicates                                              (dedup.py)
    -> event_message (stamp ext.ingest, serialize) + dlq_message      (batch.py)
    -> send and await every delivery report                           (producer.py; 503 on failure)
    -> settle the dedup claim (mark seen what Kafka acknowledged) -> answer 200

The answer is sent only after Kafka acknowledged every forwarded record and every DLQ copy of
this request. Any delivery failure, timeout or full queue answers 503 + ``Retry-After``; the
client resends the whole batch and the records that did reach Kafka are recognized as
duplicates, so nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from aiohttp import web

from fleetpulse.settings import Settings
from ingest import batch as steps
from ingest.auth import KeyRing
from ingest.dedup import Claim, DedupKey, DedupStore, Triage, triage
from ingest.metrics import CollectorMetrics
from ingest.producer import BackpressureError, DeliveryBatch, EventProducer, Outgoing
from ingest.ratelimit import RateLimiter
from ingest.request import (
    BodyLimits,
    RequestError,
    authenticate,
    check_media,
    check_rate,
    read_body,
    split_records,
)

log = logging.getLogger("fleetpulse.collector")


class UnavailableError(Exception):
    """Answer 503 + Retry-After; ``cause`` is a metric label word."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class EventsEndpoint:
    """The request handler; holds the settings, producer, dedup store and metrics it uses."""

    def __init__(
        self, settings: Settings, producer: EventProducer, dedup: DedupStore, metrics: CollectorMetrics
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.dedup = dedup
        self.metrics = metrics
        self.limits = BodyLimits.from_settings(settings)
        self.keys = KeyRing(settings.tenants)
        self.limiter = RateLimiter(
            settings.collector_rate_requests_per_s,
            settings.collector_rate_records_per_s,
            settings.collector_rate_burst_s,
        )
        self.ack_timeout_s = settings.collector_delivery_timeout_ms / 1000 + 5.0

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler: run :meth:`ingest`, map refusals to their status, count."""
        started = time.perf_counter()
        try:
            response = await self.ingest(request)
        except RequestError as exc:
            if exc.status == 429:
                self.metrics.rate_limited.labels(exc.detail).inc()
            response = web.json_response(
                {"error": exc.reason, "detail": exc.detail}, status=exc.status, headers=exc.headers
            )
        except UnavailableError as exc:
            self.metrics.backpressure.labels(exc.cause).inc()
            response = web.json_response(
                {"error": "unavailable", "detail": exc.cause},
                status=503,
                headers={"Retry-After": str(self.settings.collector_retry_after_s)},
            )
        self.metrics.requests.labels(str(response.status)).inc()
        self.metrics.request_latency.observe(time.perf_counter() - started)
        return response

    async def ingest(self, request: web.Request) -> web.Response:
        received_at = datetime.now(UTC)
        tenant = authenticate(request, self.keys)
        check_rate(self.limiter, tenant)
        encoding = check_media(request)
        body = await read_body(request, encoding, self.limits)
        self.metrics.bytes_received.labels("wire").inc(body.wire_bytes)
        self.metrics.bytes_received.labels("decoded").inc(len(body.decoded))
        records = split_records(body.decoded, self.limits.max_records)
        check_rate(self.limiter, tenant, len(records))
        self.metrics.records_received.inc(len(records))

        ctx = steps.IngestContext(tenant, received_at, request.remote or "")
        candidates, rejected = steps.classify(records, ctx, self.settings.collector_max_record_bytes)
        for r in rejected:
            self.metrics.records_rejected.labels(r.reason).inc()

        claim: Claim = asyncio.get_running_loop().create_future()
        sorted_ = triage(self.dedup, [c.keys for c in candidates], claim)
        self.metrics.records_duplicate.inc(sorted_.duplicates)
        forwarded = [candidates[i] for i in sorted_.forward]
        try:
            outgoing = [steps.event_message(c, ctx, self.settings.topic_events) for c in forwarded]
            outgoing += [
                steps.dlq_message(
                    r, ctx, self.settings.topic_dlq, self.settings.collector_dlq_max_value_bytes
                )
                for r in rejected
            ]
            deliveries = self.send(outgoing)
        except BaseException:
            self.dedup.settle(claim, sorted_.claimed, frozenset())  # release the keys: nothing sent
            raise
        settled = asyncio.ensure_future(self.settle(deliveries, forwarded, claim, sorted_.claimed))
        await self.await_deliveries(settled, sorted_)
        errors = [{"line": r.line, "reason": r.reason} for r in rejected]
        return web.json_response({"acc": len(candidates), "rej": len(rejected), "errors": errors})

    def send(self, outgoing: list[Outgoing]) -> DeliveryBatch:
        try:
            return self.producer.send(outgoing)
        except BackpressureError as exc:
            raise UnavailableError(exc.cause) from exc

    async def settle(
        self,
        deliveries: DeliveryBatch,
        forwarded: list[steps.Candidate],
        claim: Claim,
        claimed: set[DedupKey],
    ) -> bool:
        """Wait for Kafka (even if the client gave up), mark seen what was acknowledged."""
        await deliveries.done
        acked: set[DedupKey] = set()
        for candidate, error in zip(forwarded, deliveries.errors, strict=False):
            if error is None:
                acked.update(candidate.keys)
        self.dedup.settle(claim, claimed, frozenset(acked))
        self.metrics.dedup_entries.set(len(self.dedup))
        n_events = len(forwarded)
        self.metrics.records_accepted.inc(sum(1 for e in deliveries.errors[:n_events] if e is None))
        self.metrics.dlq_records.inc(sum(1 for e in deliveries.errors[n_events:] if e is None))
        failures = [e for e in deliveries.errors if e is not None]
        for index, error in enumerate(deliveries.errors):
            if error is not None:
                self.metrics.delivery_failures.labels("events" if index < n_events else "dlq").inc()
        if failures:
            log.warning(
                "%d of %d deliveries failed, first: %s", len(failures), len(deliveries.errors), failures[0]
            )
        return not failures

    async def await_deliveries(self, settled: asyncio.Future[bool], sorted_: Triage) -> None:
        """Block the answer on our deliveries and on the pending claims our duplicates rely on."""
        try:
            async with asyncio.timeout(self.ack_timeout_s):
                ok = await asyncio.shield(settled)
                for other, keys in sorted_.depends:
                    acked = await asyncio.shield(other)
                    ok = ok and any(k in acked for k in keys)
        except TimeoutError as exc:
            raise UnavailableError("delivery_timeout") from exc
        if not ok:
            raise UnavailableError("delivery_failed")
