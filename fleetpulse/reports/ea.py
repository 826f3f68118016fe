"""The Endpoint analytics reports by name (builders, docstrings for their commands).

Each builder is ``(reader, filters, cfg=InsightsConfig) -> document``: plain data a terminal
renderer (text_ea.py), ``--json`` or a console page shows as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetpulse.reports.anomalies import anomalies_report
from fleetpulse.reports.battery import battery_report
from fleetpulse.reports.insights import insights_report
from fleetpulse.reports.resource import resource_report
from fleetpulse.reports.startup_processes import startup_processes_report
from fleetpulse.reports.wfa import wfa_report

EA_REPORTS: dict[str, Callable[..., dict[str, Any]]] = {
    "insights": insights_report,
    "startup-processes": startup_processes_report,
    "resource": resource_report,
    "battery": battery_report,
    "wfa": wfa_report,
    "anomalies": anomalies_report,
}

EA_COMMANDS: tuple[tuple[str, str], ...] = (
    ("insights", "Endpoint analytics score, sub-scores, insights with the points each adds, daily history."),
    (
        "startup-processes",
        "Processes delaying the responsive desktop on >= 10 devices: median and total delay.",
    ),
    ("resource", "Resource performance: CPU / RAM spike time and scores per device and model, daily trend."),
    ("battery", "Battery health: capacity, runtime, cycles; worst models and OS builds; apps draining most."),
    ("wfa", "Work from anywhere: Windows, cloud management, identity, provisioning; devices and reasons."),
    (
        "anomalies",
        "App crash / hang and Stop-error anomalies with device correlation groups and at-risk devices.",
    ),
)
