"""Every Prometheus metric of the processors, on an injected registry (a fresh one per test).

Step labels are the names of docs/processors.md: ``decode``, ``device_state``, ``aggregate``,
``merge``, ``expire``, ``emit``, ``detect``. No per-device labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_STEP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 50000)


@dataclass(frozen=True)
class ProcessorMetrics:
    events: Counter
    batch_size: Histogram
    step_seconds: Histogram
    windows_open: Gauge
    windows_closed: Counter
    late_events: Counter
    quarantined: Counter
    redelivered: Counter
    deferred: Counter
    decode_errors: Counter
    consumer_lag: Gauge
    regressions_opened: Counter
    regressions_closed: Counter
    regressions_open: Gauge
    agent_last_progress: Gauge
    agent_up: Gauge


def build_metrics(registry: CollectorRegistry) -> ProcessorMetrics:
    p = "fleetpulse_processor_"
    return ProcessorMetrics(
        events=Counter(p + "events", "Events handled by a step", ["step"], registry=registry),
        batch_size=Histogram(
            p + "batch_size", "Events per take_events batch", buckets=_BATCH_BUCKETS, registry=registry
        ),
        step_seconds=Histogram(
            p + "step_seconds",
            "Time spent in a step per batch group",
            ["step"],
            buckets=_STEP_BUCKETS,
            registry=registry,
        ),
        windows_open=Gauge(
            p + "windows_open", "Cells (window x scope x metric) held in state", registry=registry
        ),
        windows_closed=Counter(
            p + "windows_closed", "Cells closed and dropped from state", registry=registry
        ),
        late_events=Counter(
            p + "late_events",
            "Events behind the watermark: updated or dropped",
            ["outcome"],
            registry=registry,
        ),
        quarantined=Counter(
            p + "quarantined_events", "Events quarantined (boot id went down)", registry=registry
        ),
        redelivered=Counter(
            p + "redelivered_events",
            "Events delivered again at or below their group's applied offset; skipped",
            registry=registry,
        ),
        deferred=Counter(
            p + "deferred_events",
            "Events that arrived after their partition's transaction ended (stopping, rebalancing); "
            "left unacked for the partition's next owner",
            registry=registry,
        ),
        decode_errors=Counter(
            p + "decode_errors", "Messages that were not an event JSON object", registry=registry
        ),
        consumer_lag=Gauge(
            p + "consumer_lag",
            "Highwater minus position per topic partition",
            ["topic", "partition"],
            registry=registry,
        ),
        regressions_opened=Counter(
            p + "regressions_opened", "Regressions opened", ["metric", "scope_type"], registry=registry
        ),
        regressions_closed=Counter(
            p + "regressions_closed", "Regressions closed", ["metric", "scope_type"], registry=registry
        ),
        regressions_open=Gauge(
            p + "regressions_open", "Regressions currently open", ["metric", "scope_type"], registry=registry
        ),
        agent_last_progress=Gauge(
            p + "agent_last_progress_timestamp_seconds",
            "Unix time an agent last finished a loop or was seen waiting for input",
            ["agent"],
            registry=registry,
        ),
        agent_up=Gauge(
            p + "agent_up",
            "1 while an agent runs; 0 once it crashed or stopped",
            ["agent"],
            registry=registry,
        ),
    )
