"""The metric catalogue: which event field becomes which metric, with which exclusions.

Names are stable snake_case strings; they are column values in ClickHouse and labels in
reports, so never rename one. Decisions (grounded in Endpoint analytics, see docs/analytics.md):

* Boot metrics are recorded for **every** boot. EA's boot score "excludes the update phase", not
  the boot: ``core_boot_ms`` and ``gp_boot_ms`` do not contain ``updateMs``, so they feed the
  boot score for all boots, including ``isRebootAfterUpdate`` ones. ``update_ms`` and
  ``total_boot_ms`` (which contains the update phase) are reported but never scored.
* Boot metrics exclude **Fast Startup** boots (``bootKind = fastStartup``): they resume a
  hibernated kernel session, so their "core boot" skips most of a boot and runs at about half
  a full one. Mixed in, the share of full restarts (which jumps on patch days, when update
  restarts are full boots) would move boot percentiles with nothing getting slower. They are
  counted in ``boots_fast_startup``.
* Sign-in metrics exclude sign-ins with ``isFirstLogonForUser`` or ``isAfterFeatureUpdate``
  (EA's sign-in score exclusions); such sign-ins are only counted in ``logons_excluded``.
* All timings are lower-is-better.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BOOT_EVENT = "Fleet.Boot.Performance"
LOGON_EVENT = "Fleet.Logon.Performance"
TRANSITION_EVENT = "Fleet.Power.Transition"
STOP_ERROR_EVENT = "Fleet.Fault.StopError"
APP_CRASH_EVENT = "Fleet.Fault.AppCrash"
APP_HANG_EVENT = "Fleet.Fault.AppHang"
APP_USAGE_EVENT = "Fleet.App.UsageSummary"
CENSUS_EVENT = "Fleet.Census.Device"
APP_ADD_EVENT = "Fleet.Inventory.AppAdd"
CONFIG_CHANGE_EVENT = "Fleet.Config.Change"


@dataclass(frozen=True)
class MetricDef:
    """One distribution metric taken from one field of one event type."""

    name: str
    event: str
    field: str
    lower_is_better: bool = True
    scored: bool = True
    unit: str = "ms"
    description: str = ""


TIMING_METRICS: tuple[MetricDef, ...] = (
    MetricDef("core_boot_ms", BOOT_EVENT, "coreBootMs", description="core boot time (no GP, no update)"),
    MetricDef("gp_boot_ms", BOOT_EVENT, "gpBootMs", description="Group Policy boot time (0 if not domain)"),
    MetricDef("update_ms", BOOT_EVENT, "updateMs", scored=False, description="update phase of boot"),
    MetricDef("total_boot_ms", BOOT_EVENT, "totalBootMs", scored=False, description="whole boot"),
    MetricDef("core_logon_ms", LOGON_EVENT, "coreLogonMs", description="core sign-in time"),
    MetricDef("gp_logon_ms", LOGON_EVENT, "gpLogonMs", description="Group Policy sign-in time"),
    MetricDef("desktop_shown_ms", LOGON_EVENT, "desktopShownMs", description="time to desktop"),
    MetricDef(
        "total_logon_ms",
        LOGON_EVENT,
        "totalLogonMs",
        description="time to responsive desktop (desktop shown + responsive desktop)",
    ),
)
METRICS_BY_NAME: dict[str, MetricDef] = {m.name: m for m in TIMING_METRICS}
BOOT_METRICS: tuple[MetricDef, ...] = tuple(m for m in TIMING_METRICS if m.event == BOOT_EVENT)
LOGON_METRICS: tuple[MetricDef, ...] = tuple(m for m in TIMING_METRICS if m.event == LOGON_EVENT)

RESTART_CATEGORIES: tuple[str, ...] = (
    "restartWithUpdate",
    "restartWithoutUpdate",
    "shutdownWithUpdate",
    "shutdownWithoutUpdate",
    "blueScreen",
    "longPowerButtonPress",
    "bootError",
    "unknown",
)
ABNORMAL_CATEGORIES = frozenset({"blueScreen", "longPowerButtonPress", "unknown"})


def _snake(camel: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in camel)


#: Counter metric names (counts of events per window and scope).
RESTART_COUNTER = {c: f"restarts_{_snake(c)}" for c in RESTART_CATEGORIES}
COUNTER_RESTARTS = "restarts"
COUNTER_RESTARTS_ABNORMAL = "restarts_abnormal"
COUNTER_STOP_ERRORS = "stop_errors"
COUNTER_LOGONS_EXCLUDED = "logons_excluded"
COUNTER_BOOTS_FAST_STARTUP = "boots_fast_startup"
COUNTER_METRICS: tuple[str, ...] = (
    COUNTER_RESTARTS,
    COUNTER_RESTARTS_ABNORMAL,
    COUNTER_STOP_ERRORS,
    COUNTER_LOGONS_EXCLUDED,
    COUNTER_BOOTS_FAST_STARTUP,
    *RESTART_COUNTER.values(),
)

#: App reliability figures (rate metrics are higher-is-worse).
APP_CRASH_RATE = "app_crashes_per_usage_hour"


def logon_excluded(data: Mapping[str, Any]) -> bool:
    """True when a sign-in is excluded from the sign-in metrics (first sign-in / after feature update)."""
    return bool(data.get("isFirstLogonForUser")) or bool(data.get("isAfterFeatureUpdate"))


def boot_excluded(data: Mapping[str, Any]) -> bool:
    """True when a boot is excluded from the boot metrics (a Fast Startup resume, not a full boot)."""
    return data.get("bootKind") == "fastStartup"


def excluded_counter(name: str, data: Mapping[str, Any]) -> str | None:
    """The counter an excluded boot or sign-in is counted in instead of its metrics (else ``None``)."""
    if name == BOOT_EVENT and boot_excluded(data):
        return COUNTER_BOOTS_FAST_STARTUP
    if name == LOGON_EVENT and logon_excluded(data):
        return COUNTER_LOGONS_EXCLUDED
    return None


def is_lower_better(metric: str) -> bool:
    """Direction of a metric; counters and rates are lower-is-better too."""
    m = METRICS_BY_NAME.get(metric)
    return True if m is None else m.lower_is_better
