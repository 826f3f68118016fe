"""Every metric the collector exports, declared once, on an injected registry.

Build with :meth:`CollectorMetrics.create` (a fresh ``CollectorRegistry`` per test). Names start
with ``fleetpulse_collector_``; labels are bounded sets (status code, reason word, topic kind),
never a device id.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

PREFIX = "fleetpulse_collector_"


@dataclass(frozen=True)
class CollectorMetrics:
    """The collector's metric objects; one line of meaning each."""

    requests: Counter  # HTTP requests answered on POST /v1/events, by status code
    request_latency: Histogram  # seconds from request start to answer (POST /v1/events)
    bytes_received: Counter  # body bytes read, by stage: wire (as sent) / decoded (decompressed)
    records_received: Counter  # non-blank NDJSON lines in requests that passed the request checks
    records_accepted: Counter  # records acknowledged by Kafka on the events topic
    records_rejected: Counter  # records rejected, by reason word (also written to the DLQ)
    records_duplicate: Counter  # records acknowledged as accepted but not forwarded (already seen)
    dlq_records: Counter  # raw rejected lines acknowledged by Kafka on the DLQ topic
    delivery_failures: Counter  # Kafka delivery reports carrying an error, by topic kind
    backpressure: Counter  # requests refused with 503 because of the producer, by cause
    produce_latency: Histogram  # seconds from the first produce of a request to its last ack
    kafka_queue_depth: Gauge  # messages in the producer's local queue (sent, not yet acked)
    dedup_entries: Gauge  # identities currently remembered by the dedup store
    kafka_healthy: Gauge  # 1 when the last metadata probe answered within the allowed age
    rate_limited: Counter  # requests refused with 429 by a per-key token bucket, by limit (requests/records)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> CollectorMetrics:
        def name(short: str) -> str:
            return PREFIX + short

        return cls(
            requests=Counter(
                name("requests"), "HTTP requests answered, by status code", ["code"], registry=registry
            ),
            request_latency=Histogram(
                name("request_latency_seconds"),
                "Request start to answer",
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            bytes_received=Counter(
                name("bytes_received"), "Body bytes read, by stage", ["stage"], registry=registry
            ),
            records_received=Counter(name("records_received"), "Records received", registry=registry),
            records_accepted=Counter(
                name("records_accepted"), "Records acked on the events topic", registry=registry
            ),
            records_rejected=Counter(
                name("records_rejected"), "Records rejected, by reason", ["reason"], registry=registry
            ),
            records_duplicate=Counter(
                name("records_duplicate"), "Duplicates acked but not forwarded", registry=registry
            ),
            dlq_records=Counter(
                name("dlq_records"), "Rejected lines acked on the DLQ topic", registry=registry
            ),
            delivery_failures=Counter(
                name("delivery_failures"),
                "Kafka delivery errors, by topic kind",
                ["topic"],
                registry=registry,
            ),
            backpressure=Counter(
                name("backpressure"), "Requests refused with 503, by cause", ["cause"], registry=registry
            ),
            produce_latency=Histogram(
                name("produce_latency_seconds"),
                "First produce to last ack",
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            kafka_queue_depth=Gauge(
                name("kafka_queue_depth"), "Messages in the producer's local queue", registry=registry
            ),
            dedup_entries=Gauge(
                name("dedup_entries"), "Identities remembered by the dedup store", registry=registry
            ),
            kafka_healthy=Gauge(
                name("kafka_healthy"), "1 when Kafka answered a recent metadata probe", registry=registry
            ),
            rate_limited=Counter(
                name("rate_limited"), "Requests refused with 429, by limit", ["limit"], registry=registry
            ),
        )
