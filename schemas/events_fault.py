"""Reliability events: ``Fleet.Fault.StopError``, ``Fleet.Fault.AppCrash``, ``Fleet.Fault.AppHang``.

Their ``reportId`` is a second de-duplication key (see :attr:`schemas.Event.report_id`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from schemas.envelope import EventData, Record
from schemas.errors import InvalidEvent
from schemas.events_device import violated
from schemas.types import (
    AppName,
    AppVersion,
    BootId,
    Guid,
    Hex8,
    Hex8or16,
    Hex16,
    L,
    Name64,
    OneOf,
    R,
    Str64,
    Str256,
    UtcTime,
)

ProcessArchitecture = Annotated[int, OneOf(0, 5, 9, 12)]
"""``PROCESSOR_ARCHITECTURE_*``: 0 x86, 5 ARM, 9 x64, 12 ARM64."""


class StopError(EventData):
    """After a bugcheck (blue screen), reported at the next boot."""

    EVENT_NAME = "Fleet.Fault.StopError"

    source: Literal["werOsCrash", "werSystemErrorReporting", "kernelPower41"]
    crash_boot_id: BootId
    bug_check_code: Hex8
    bug_check_parameter1: Hex16
    bug_check_parameter2: Hex16
    bug_check_parameter3: Hex16
    bug_check_parameter4: Hex16
    report_id: Guid | None = None
    crash_time: UtcTime | None = None
    faulting_module: Str64 | None = None
    fault_bucket: Str256 | None = None
    is_valid_dump: bool | None = None

    def check(self, record: Record) -> None:
        if self.report_id is None and self.source != "kernelPower41":
            raise InvalidEvent("missing_field", "data.reportId", "required unless source is kernelPower41")
        if self.crash_boot_id >= record.ext.os.boot_id:
            violated("crashBootId", "crashBootId not below ext.os.bootId")


def _check_process_create_time(created: datetime | None, record: Record) -> None:
    if created is not None and created > record.time:
        violated("processCreateTime", "processCreateTime after the event time")


class AppCrash(EventData):
    """One WER-handled application crash report."""

    EVENT_NAME = "Fleet.Fault.AppCrash"

    report_id: Guid
    app_name: AppName
    app_version: AppVersion
    mod_name: Name64
    mod_version: Annotated[str, L(24, 1)]
    exception_code: Hex8
    exception_offset: Hex8or16
    is_fatal: bool
    process_architecture: ProcessArchitecture
    app_publisher: Str256 | None = None
    friendly_app_name: Str256 | None = None
    package_full_name: Str256 | None = None
    process_create_time: UtcTime | None = None
    app_session_guid: Guid | None = None

    def check(self, record: Record) -> None:
        _check_process_create_time(self.process_create_time, record)


class AppHang(EventData):
    """One application hang report."""

    EVENT_NAME = "Fleet.Fault.AppHang"

    report_id: Guid
    app_name: AppName
    app_version: AppVersion
    is_fatal: bool
    process_architecture: ProcessArchitecture
    app_publisher: Str256 | None = None
    waiting_on_app_name: AppName | None = None
    hang_duration_ms: Annotated[int, R(0, 86_400_000)] | None = None
    process_create_time: UtcTime | None = None

    def check(self, record: Record) -> None:
        _check_process_create_time(self.process_create_time, record)
