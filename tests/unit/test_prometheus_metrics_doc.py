"""docs/metrics.md is the output of ``python -m fleetpulse.metrics_doc`` and lists every metric."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from fleetpulse.metrics_doc import COMPONENTS, all_metrics, available_components, exposed_names, render

ROOT = Path(__file__).resolve().parents[2]


def test_docs_metrics_md_is_up_to_date() -> None:
    assert (ROOT / "docs" / "metrics.md").read_text() == render(), (
        "docs/metrics.md is stale: run `python -m fleetpulse.metrics_doc > docs/metrics.md`"
    )


def test_the_command_prints_the_document() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fleetpulse.metrics_doc"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert proc.stdout == render()


def test_every_component_module_is_documented() -> None:
    found = {component: metrics for component, _module, metrics in available_components()}
    assert set(found) == {component for component, _ in COMPONENTS}
    for component, metrics in found.items():
        assert metrics, f"{component}: no metrics found in its module"


def test_every_metric_of_every_registry_is_listed() -> None:
    # what the registries expose (labelled families too) == what the doc generator describes
    from ingest.metrics import CollectorMetrics
    from sinks.metrics import SinkMetrics

    registry = CollectorRegistry()
    CollectorMetrics.create(registry)
    SinkMetrics.create(registry)
    described = {m.name for m in all_metrics()}
    registered = {family.name for family in registry.collect()}
    assert registered <= described
    doc = (ROOT / "docs" / "metrics.md").read_text()
    for metric in all_metrics():
        assert metric.name.startswith("fleetpulse_"), metric.name
        assert f"`{metric.name}`" in doc
        assert "device" not in metric.labels, f"{metric.name} has a per-device label"


def test_exposed_names_carry_the_prometheus_suffixes() -> None:
    names = exposed_names()
    assert "fleetpulse_collector_records_received_total" in names
    assert "fleetpulse_event_to_queryable_seconds_bucket" in names
    assert "fleetpulse_sink_paused" in names
    assert "fleetpulse:event_to_queryable_seconds:p99_5m" in names
