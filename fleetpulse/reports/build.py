"""Running a report by name: resolve the filters against the data, query, shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetpulse.reports import apps, devices, models, regressions, restarts, startup
from fleetpulse.reports.params import Filters, newest_event_time, resolve_range
from sinks.reader import Reader

Row = dict[str, Any]

REPORTS: dict[str, Callable[[Reader, Filters], Row]] = {
    "startup": startup.startup_report,
    "models": models.models_report,
    "devices": devices.devices_report,
    "restarts": restarts.restarts_report,
    "apps": apps.apps_report,
    "regressions": regressions.regressions_report,
}


def make_filters(
    reader: Reader,
    *,
    since: str | None = None,
    until: str | None = None,
    tenant: str = "",
    model: str = "",
    os_build: str = "",
    app: str = "",
    limit: int = 20,
    database: str = "fleetpulse",
) -> Filters:
    """Filters with the time range resolved (default: the 14 days up to the newest event)."""
    newest = newest_event_time(reader, database, tenant)
    start, end = resolve_range(since, until, newest)
    return Filters(
        start, end, tenant=tenant, model=model, os_build=os_build, app=app, limit=limit, database=database
    )
