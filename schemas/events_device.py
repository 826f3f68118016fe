"""Device state events: ``Fleet.Census.Device``, ``Fleet.Inventory.AppAdd``, ``Fleet.Config.Change``."""

from __future__ import annotations

from typing import Annotated, Literal, NoReturn

from pydantic import Field

from schemas.envelope import EventData, Record
from schemas.errors import InvalidEvent
from schemas.types import AppName, AppVersion, Date, L, Name64, OsBuild, R, Str64, Str128, Str256, UtcTime


def violated(field: str, detail: str) -> NoReturn:
    """Raise ``invariant_violated`` for ``data.<field>``."""
    raise InvalidEvent("invariant_violated", f"data.{field}", detail)


class CensusDevice(EventData):
    """At agent start, daily and on change: hardware, OS and battery inventory of the device."""

    EVENT_NAME = "Fleet.Census.Device"

    oem_manufacturer_name: Name64
    oem_model_number: Name64
    oem_model_sku: Str64 | None = None
    chassis_type: Annotated[int, R(1, 36)] | None = None
    firmware_type: Literal["Unknown", "BIOS", "UEFI"] | None = None
    firmware_version: Str64 | None = None
    os_edition: Annotated[str, L(64, 1)]
    os_build: OsBuild
    processor_model: Annotated[str, L(128, 1)]
    processor_physical_cores: Annotated[int, R(1, 512)]
    processor_logical_cores: Annotated[int, R(1, 1024)]
    total_physical_ram_mb: Annotated[int, R(512, 4_194_304)] = Field(alias="totalPhysicalRamMB")
    primary_disk_total_capacity_mb: Annotated[int, R(1024, 268_435_456)] = Field(
        alias="primaryDiskTotalCapacityMB"
    )
    primary_disk_media_type: Literal["ssd", "hdd", "unknown"]
    tpm_version_major: Annotated[int, R(0, 2)]
    secure_boot_enabled: bool | None = None
    machine_type: Literal["physical", "virtual", "unknown"] | None = None
    has_battery: bool
    battery_design_capacity_mwh: Annotated[int, R(1, 500_000)] | None = Field(
        default=None, alias="batteryDesignCapacityMWh"
    )
    battery_full_charge_capacity_mwh: Annotated[int, R(0, 600_000)] | None = Field(
        default=None, alias="batteryFullChargeCapacityMWh"
    )
    battery_cycle_count: Annotated[int, R(0, 10_000)] | None = None
    # work-from-anywhere readiness (docs/analytics.md "Work from anywhere"); absent: not reported
    join_type: Literal["entra", "hybrid", "domain", "workgroup", "unknown"] | None = None
    management_type: (
        Literal["intune", "coManaged", "tenantAttach", "configMgrCmg", "configMgr", "none", "unknown"] | None
    ) = None
    autopilot_profile: Literal["assigned", "default", "none", "unknown"] | None = None
    is_cloud_pc: bool | None = None

    def check(self, record: Record) -> None:
        if self.processor_logical_cores < self.processor_physical_cores:
            violated("processorLogicalCores", "fewer logical than physical cores")
        design = self.battery_design_capacity_mwh
        if self.has_battery and design is None:
            raise InvalidEvent("missing_field", "data.batteryDesignCapacityMWh", "required when hasBattery")
        full = self.battery_full_charge_capacity_mwh
        if design is not None and full is not None and full * 5 > design * 6:
            violated("batteryFullChargeCapacityMWh", "full charge capacity above 1.2 x design")


class InventoryAppAdd(EventData):
    """An app installed, first seen, or re-listed by the daily resync."""

    EVENT_NAME = "Fleet.Inventory.AppAdd"

    app_name: AppName
    app_version: AppVersion
    app_publisher: Str256 | None = None
    display_name: Str256 | None = None
    source: Literal["ARP", "MSI", "Appx", "BOE", "Other"]
    package_full_name: Str256 | None = None
    install_date: Date | None = None

    def check(self, record: Record) -> None:
        if self.install_date is not None and self.install_date > record.time.date():
            violated("installDate", "install date after the event time")


class ConfigChange(EventData):
    """A configuration change took effect (input of regression attribution)."""

    EVENT_NAME = "Fleet.Config.Change"

    change_type: Literal["policy", "app", "driver", "osUpdate", "firmware", "setting"]
    change_id: Annotated[str, L(128, 1)]
    change_name: Annotated[str, L(256, 1)]
    applied_time: UtcTime
    from_version: Str64 | None = None
    to_version: Str64 | None = None
    deployment_id: Str128 | None = None

    def check(self, record: Record) -> None:
        if self.applied_time > record.time:
            violated("appliedTime", "appliedTime after the event time")
