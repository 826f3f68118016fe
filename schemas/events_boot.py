"""Boot and sign-in events: ``Fleet.Boot.Performance``, ``Fleet.Logon.Performance``,
``Fleet.Power.Transition``."""

from __future__ import annotations

from typing import Annotated, Literal

from schemas.envelope import EventData, Record, WireModel
from schemas.events_device import violated
from schemas.types import BootId, Guid, L, Ms1h, Name64, Percent, R, Str64, Str256, UtcTime

# Sub-phases of a boot that must each fit in totalBootMs.
_BOOT_COMPONENTS = (
    ("main_path_ms", "mainPathMs"),
    ("post_boot_ms", "postBootMs"),
    ("core_boot_ms", "coreBootMs"),
    ("gp_boot_ms", "gpBootMs"),
    ("update_ms", "updateMs"),
    ("os_loader_ms", "osLoaderMs"),
    ("kernel_init_ms", "kernelInitMs"),
    ("driver_init_ms", "driverInitMs"),
    ("smss_init_ms", "smssInitMs"),
    ("critical_services_init_ms", "criticalServicesInitMs"),
    ("user_logon_wait_ms", "userLogonWaitMs"),
    ("user_profile_processing_ms", "userProfileProcessingMs"),
    ("explorer_init_ms", "explorerInitMs"),
)


class SlowComponent(WireModel):
    kind: Literal["app", "driver", "service"]
    name: Name64
    version: Str64 | None = None
    total_ms: Ms1h
    degradation_ms: Ms1h


class BootPerformance(EventData):
    """Once per boot: the boot timeline (Diagnostics-Performance 100 / Endpoint analytics boot)."""

    EVENT_NAME = "Fleet.Boot.Performance"

    boot_id: BootId
    boot_start_time: UtcTime
    boot_kind: Literal["full", "fastStartup"] | None = None
    is_reboot_after_update: bool
    total_boot_ms: Annotated[int, R(1, 3_600_000)]
    core_boot_ms: Annotated[int, R(1, 1_800_000)]
    main_path_ms: Ms1h | None = None
    post_boot_ms: Ms1h | None = None
    gp_boot_ms: Ms1h | None = None
    update_ms: Ms1h | None = None
    os_loader_ms: Ms1h | None = None
    kernel_init_ms: Ms1h | None = None
    driver_init_ms: Ms1h | None = None
    smss_init_ms: Ms1h | None = None
    critical_services_init_ms: Ms1h | None = None
    user_logon_wait_ms: Ms1h | None = None
    user_profile_processing_ms: Ms1h | None = None
    explorer_init_ms: Ms1h | None = None
    num_startup_apps: Annotated[int, R(0, 1000)] | None = None
    slow_components: Annotated[list[SlowComponent], L(10)] | None = None

    def check(self, record: Record) -> None:
        if self.boot_id != record.ext.os.boot_id:
            violated("bootId", "data.bootId differs from ext.os.bootId")
        if self.boot_start_time >= record.time:
            violated("bootStartTime", "bootStartTime not before the event time")
        total = self.total_boot_ms
        for attr, wire in _BOOT_COMPONENTS:
            value = getattr(self, attr)
            if value is not None and value > total:
                violated(wire, "component longer than totalBootMs")
        main, post = self.main_path_ms, self.post_boot_ms
        if main is not None and post is not None and abs(main + post - total) > 1:
            violated("totalBootMs", "mainPathMs + postBootMs != totalBootMs (±1)")
        gp, upd = self.gp_boot_ms, self.update_ms
        if main is not None and gp is not None and upd is not None and self.core_boot_ms + gp + upd > main:
            violated("mainPathMs", "coreBootMs + gpBootMs + updateMs > mainPathMs")
        for i, comp in enumerate(self.slow_components or ()):
            if comp.total_ms > total:
                violated(f"slowComponents.{i}.totalMs", "component longer than totalBootMs")
            if comp.degradation_ms > comp.total_ms:
                violated(f"slowComponents.{i}.degradationMs", "degradationMs > totalMs")


class StartupProcess(WireModel):
    name: Name64
    publisher: Str256 | None = None
    cpu_percent: Percent
    version: Str64 | None = None  # the product version (Endpoint analytics lists processes by it)


class LogonPerformance(EventData):
    """Once per interactive sign-in: time to desktop and to a responsive desktop."""

    EVENT_NAME = "Fleet.Logon.Performance"

    logon_id: Guid
    boot_id: BootId
    logon_start_time: UtcTime
    user_type: Literal["local", "ad", "msa", "entra", "unknown"]
    is_first_logon_after_boot: bool
    is_first_logon_for_user: bool
    is_after_feature_update: bool
    core_logon_ms: Ms1h
    desktop_shown_ms: Ms1h
    gp_logon_ms: Ms1h | None = None
    responsive_desktop_ms: Ms1h | None = None
    total_logon_ms: Annotated[int, R(0, 7_200_000)] | None = None
    profile_load_ms: Ms1h | None = None
    top_startup_processes: Annotated[list[StartupProcess], L(10)] | None = None

    def check(self, record: Record) -> None:
        gp = self.gp_logon_ms or 0  # absent: not domain-joined, no Group Policy time
        if abs(self.core_logon_ms + gp - self.desktop_shown_ms) > 1000:
            violated("desktopShownMs", "desktopShownMs != coreLogonMs + gpLogonMs (±1000)")
        resp, total = self.responsive_desktop_ms, self.total_logon_ms
        if resp is not None and total is not None and abs(self.desktop_shown_ms + resp - total) > 1:
            violated("totalLogonMs", "totalLogonMs != desktopShownMs + responsiveDesktopMs (±1)")


_ABNORMAL = frozenset({"blueScreen", "longPowerButtonPress", "unknown"})


class PowerTransition(EventData):
    """At boot: how the previous boot ended (Endpoint analytics restart category)."""

    EVENT_NAME = "Fleet.Power.Transition"

    previous_boot_id: BootId
    boot_id: BootId
    category: Literal[
        "restartWithUpdate",
        "restartWithoutUpdate",
        "shutdownWithUpdate",
        "shutdownWithoutUpdate",
        "blueScreen",
        "longPowerButtonPress",
        "bootError",
        "unknown",
    ]
    is_abnormal: bool
    shutdown_start_time: UtcTime | None = None
    shutdown_ms: Ms1h | None = None
    previous_boot_uptime_ms: Annotated[int, R(0, 31_536_000_000)] | None = None
    power_button_time: UtcTime | None = None

    def check(self, record: Record) -> None:
        if self.previous_boot_id >= self.boot_id:
            violated("previousBootId", "previousBootId not below bootId")
        if self.is_abnormal != (self.category in _ABNORMAL):
            violated(
                "isAbnormal", "isAbnormal must be true exactly for blueScreen|longPowerButtonPress|unknown"
            )
