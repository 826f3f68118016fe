"""Work from anywhere: four readiness metrics per device, the score, and Windows 11 readiness.

Per device (its newest ``Fleet.Census.Device`` in range), each metric is met, not met (with the
reason) or unknown (the census does not report the field):

* **windows**: the build number (``osBuild`` 10.0.**NNNNN**.r) is in ``supported_builds``;
* **cloud_management**: ``managementType`` in ``cloud_management`` (Intune, co-managed, tenant
  attach, ConfigMgr through a cloud management gateway);
* **cloud_identity**: ``joinType`` in ``cloud_identity`` (Entra joined or hybrid joined);
* **cloud_provisioning**: ``isCloudPc``, or ``autopilotProfile = assigned`` (an inherited
  default profile does not count).

Score (EA's definition): the weighted mean over the metrics of the percentage of devices meeting
it, among the devices for which it is known (``None`` below ``min_devices`` known devices; the
weights are renormalised over the metrics that have a percentage). A device's own score is the
weighted mean of its known metrics (met = 100, not met = 0). Windows 11 readiness does not enter
the score (as in EA).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from processors.insights.common import weighted
from processors.insights.config import WfaConfig

METRICS: tuple[str, ...] = ("windows", "cloud_management", "cloud_identity", "cloud_provisioning")


@dataclass(frozen=True, slots=True)
class CensusFacts:
    """What the newest census of a device says (``None``: not reported)."""

    device_id: str
    model: str
    os_build: str
    os_edition: str = ""
    join_type: str | None = None
    management_type: str | None = None
    autopilot_profile: str | None = None
    is_cloud_pc: bool | None = None
    tpm_version: int | None = None
    secure_boot: bool | None = None
    firmware_type: str | None = None
    ram_mb: int | None = None
    disk_mb: int | None = None
    processor: str = ""
    disk_type: str = "unknown"


@dataclass(frozen=True, slots=True)
class Check:
    met: bool | None  # None: unknown
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceWfa:
    device_id: str
    model: str
    os_build: str
    checks: dict[str, Check]
    score: float | None


def build_number(os_build: str) -> str:
    parts = os_build.split(".")
    return parts[2] if len(parts) > 2 else ""


def check_windows(c: CensusFacts, cfg: WfaConfig) -> Check:
    build = build_number(c.os_build)
    if not build:
        return Check(None, "OS build not reported")
    if build in cfg.supported_builds:
        return Check(True, f"build {build} is supported")
    return Check(False, f"build {build} is not a supported Windows build ({', '.join(cfg.supported_builds)})")


def check_cloud_management(c: CensusFacts, cfg: WfaConfig) -> Check:
    kind = c.management_type
    if kind is None or kind == "unknown":
        return Check(None, "management type not reported")
    if kind in cfg.cloud_management:
        return Check(True, f"{kind}")
    return Check(False, f"{kind}: not attached to the cloud (Intune, co-management, tenant attach or a CMG)")


def check_cloud_identity(c: CensusFacts, cfg: WfaConfig) -> Check:
    join = c.join_type
    if join is None or join == "unknown":
        return Check(None, "join type not reported")
    if join in cfg.cloud_identity:
        return Check(True, f"{join} joined")
    return Check(False, f"{join} joined: not Entra joined or hybrid joined")


def check_cloud_provisioning(c: CensusFacts, cfg: WfaConfig) -> Check:
    if c.is_cloud_pc:
        return Check(True, "Windows 365 Cloud PC")
    profile = c.autopilot_profile
    if profile is None or profile == "unknown":
        return Check(None, "Autopilot profile not reported")
    if profile == "assigned":
        return Check(True, "Autopilot profile assigned")
    if profile == "default":
        return Check(False, "only the inherited default Autopilot profile (does not count)")
    return Check(False, "not registered with Windows Autopilot")


CHECKS: dict[str, Callable[[CensusFacts, WfaConfig], Check]] = {
    "windows": check_windows,
    "cloud_management": check_cloud_management,
    "cloud_identity": check_cloud_identity,
    "cloud_provisioning": check_cloud_provisioning,
}


def device_score(checks: dict[str, Check], cfg: WfaConfig) -> float | None:
    w = cfg.weights()
    return weighted((w[m], None if c.met is None else 100.0 * c.met) for m, c in checks.items())


def assess(c: CensusFacts, cfg: WfaConfig) -> DeviceWfa:
    checks = {m: CHECKS[m](c, cfg) for m in METRICS}
    return DeviceWfa(c.device_id, c.model, c.os_build, checks, device_score(checks, cfg))


@dataclass(frozen=True, slots=True)
class MetricSummary:
    metric: str
    met: int
    not_met: int
    unknown: int
    pct: float | None  # met / known, in percent; None below min_devices known


def summarize(devices: Sequence[DeviceWfa], cfg: WfaConfig) -> list[MetricSummary]:
    out = []
    for m in METRICS:
        met = sum(d.checks[m].met is True for d in devices)
        not_met = sum(d.checks[m].met is False for d in devices)
        known = met + not_met
        pct = 100.0 * met / known if known >= cfg.min_devices else None
        out.append(MetricSummary(m, met, not_met, len(devices) - known, pct))
    return out


def wfa_score(devices: Sequence[DeviceWfa], cfg: WfaConfig) -> float | None:
    """Weighted mean of the metrics' percentages (EA's work from anywhere score)."""
    w = cfg.weights()
    return weighted((w[s.metric], s.pct) for s in summarize(devices, cfg))


def with_met(devices: Sequence[DeviceWfa], metric: str, cfg: WfaConfig) -> list[DeviceWfa]:
    """The fleet with ``metric`` met on every device that does not meet it (the cause removed)."""
    out = []
    for d in devices:
        if d.checks[metric].met is False:
            checks = {**d.checks, metric: Check(True, "remediated")}
            d = dataclasses.replace(d, checks=checks, score=device_score(checks, cfg))
        out.append(d)
    return out


_INTEL_GEN = re.compile(r"(?:(\d+)(?:th|st|nd|rd) Gen Intel)|(?:Core\(TM\) i[3579]-(\d{1,2})\d{3})")
_RYZEN = re.compile(r"Ryzen \d (\d)\d{3}")


def cpu_supported(processor: str) -> bool | None:
    """Windows 11's processor floor: Intel 8th generation or later, AMD Ryzen 2000 or later."""
    m = _INTEL_GEN.search(processor)
    if m:
        return int(m.group(1) or m.group(2)) >= 8
    r = _RYZEN.search(processor)
    if r:
        return int(r.group(1)) >= 2
    return None


def windows11_readiness(c: CensusFacts) -> tuple[str, list[str]]:
    """``(status, blockers)``: ``upgraded`` (already on Windows 11), ``capable``, ``not capable``
    (with its hardware blockers) or ``unknown`` (a requirement not reported)."""
    build = build_number(c.os_build)
    if build.isdigit() and int(build) >= 22000:
        return "upgraded", []
    facts: list[tuple[bool | None, str]] = [
        (None if c.tpm_version is None else c.tpm_version >= 2, "TPM 2.0"),
        (c.secure_boot, "Secure Boot"),
        (None if c.firmware_type is None else c.firmware_type == "UEFI", "UEFI firmware"),
        (None if c.ram_mb is None else c.ram_mb >= 4096, "4 GB RAM"),
        (None if c.disk_mb is None else c.disk_mb >= 64 * 1024, "64 GB storage"),
        (cpu_supported(c.processor), "supported processor"),
    ]
    blockers = [name for ok, name in facts if ok is False]
    if blockers:
        return "not capable", blockers
    if any(ok is None for ok, _ in facts):
        return "unknown", []
    return "capable", []
