"""Every metric the sink exports, declared once, on an injected registry.

Build with :meth:`SinkMetrics.create` (a fresh ``CollectorRegistry`` per test). Names start with
``fleetpulse_sink_`` (plus the pipeline-wide ``fleetpulse_event_to_queryable_seconds``); labels
are bounded sets — table, topic, partition, step, outcome, reason word — never a device id. The
``step`` label uses the pipeline's step names: consume, decode, plan, insert, commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_E2E = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)

PREFIX = "fleetpulse_sink_"


@dataclass(frozen=True)
class SinkMetrics:
    """The sink's metric objects; one line of meaning each."""

    rows_inserted: Counter  # rows ClickHouse acknowledged, by table
    insert_latency: Histogram  # seconds per INSERT statement that succeeded, by table
    insert_failures: Counter  # INSERT attempts that raised (retried with the same token), by table
    rows_pending: Gauge  # rows consumed and not yet committed (the current epoch; <= epoch cap)
    bytes_pending: Gauge  # message bytes of the current epoch (<= byte cap + one consume batch)
    paused: Gauge  # 1 while consumption is paused because ClickHouse refuses the epoch
    commit_latency: Histogram  # seconds per synchronous offset commit, by kind (plan / done)
    consumer_lag: Gauge  # high watermark - consumer position, by topic and partition
    epochs: Counter  # epochs committed, by outcome (new / replayed / partial_replay)
    bad_messages: Counter  # messages that yield no row, by topic and reason word (skipped, counted)
    dlq_messages: Counter  # bad messages acknowledged on the DLQ topic, by origin topic and reason
    dlq_limit_exceeded: Counter  # times the per-partition DLQ limit stopped the sink, by topic
    step_latency: Histogram  # seconds spent per epoch in each pipeline step
    running: Gauge  # 1 while the consumer loop runs (healthz)
    event_to_queryable: Histogram  # now - ext.ingest.time once the insert returned, by raw table

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SinkMetrics:
        def name(short: str) -> str:
            return PREFIX + short

        return cls(
            rows_inserted=Counter(
                name("rows_inserted"), "Rows ClickHouse acknowledged", ["table"], registry=registry
            ),
            insert_latency=Histogram(
                name("insert_seconds"),
                "Seconds per successful INSERT",
                ["table"],
                buckets=_FAST,
                registry=registry,
            ),
            insert_failures=Counter(
                name("insert_failures"), "INSERT attempts that failed (retried)", ["table"], registry=registry
            ),
            rows_pending=Gauge(name("rows_pending"), "Rows in the current epoch", registry=registry),
            bytes_pending=Gauge(
                name("bytes_pending"), "Message bytes in the current epoch", registry=registry
            ),
            paused=Gauge(name("paused"), "1 while consumption waits for ClickHouse", registry=registry),
            commit_latency=Histogram(
                name("commit_seconds"),
                "Seconds per offset commit",
                ["kind"],
                buckets=_FAST,
                registry=registry,
            ),
            consumer_lag=Gauge(
                name("consumer_lag"),
                "High watermark minus position",
                ["topic", "partition"],
                registry=registry,
            ),
            epochs=Counter(name("epochs"), "Epochs committed", ["outcome"], registry=registry),
            bad_messages=Counter(
                name("bad_messages"), "Messages skipped (no row)", ["topic", "reason"], registry=registry
            ),
            dlq_messages=Counter(
                name("dlq_messages"), "Bad messages acked on the DLQ", ["topic", "reason"], registry=registry
            ),
            dlq_limit_exceeded=Counter(
                name("dlq_limit_exceeded"), "DLQ limit stops of the sink", ["topic"], registry=registry
            ),
            step_latency=Histogram(
                name("step_seconds"),
                "Seconds per epoch in each step",
                ["step"],
                buckets=_FAST,
                registry=registry,
            ),
            running=Gauge(name("running"), "1 while the consumer loop runs", registry=registry),
            event_to_queryable=Histogram(
                "fleetpulse_event_to_queryable_seconds",
                "Collector receive time to the row being queryable in ClickHouse",
                ["table"],
                buckets=_E2E,
                registry=registry,
            ),
        )
