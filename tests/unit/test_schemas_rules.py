"""Every contract rule: mutate a valid example, expect the exact reason (and field)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from schemas import InvalidEvent, decode
from schemas.examples import EXAMPLES_RECEIVED_AT, load_examples

EXAMPLES = load_examples()
DROP = object()

BOOT = "Fleet.Boot.Performance"
LOGON = "Fleet.Logon.Performance"
CENSUS = "Fleet.Census.Device"
POWER = "Fleet.Power.Transition"
STOP = "Fleet.Fault.StopError"
CRASH = "Fleet.Fault.AppCrash"
HANG = "Fleet.Fault.AppHang"
APPADD = "Fleet.Inventory.AppAdd"
CONFIG = "Fleet.Config.Change"
USAGE = "Fleet.App.UsageSummary"
RES = "Fleet.Resource.UsageSummary"
BATT = "Fleet.Power.BatterySnapshot"
HB = "Fleet.Agent.Heartbeat"


def mutated(name: str, *changes: tuple[str, Any]) -> dict[str, Any]:
    record = copy.deepcopy(EXAMPLES[name])
    for path, value in changes:
        *parents, leaf = path.split(".")
        node: Any = record
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is DROP:
            del node[leaf]
        elif isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return record


def reject(record: dict[str, Any] | bytes) -> InvalidEvent:
    line = record if isinstance(record, bytes) else orjson.dumps(record)
    with pytest.raises(InvalidEvent) as err:
        decode(line, received_at=EXAMPLES_RECEIVED_AT)
    return err.value


def accept(record: dict[str, Any]) -> None:
    decode(orjson.dumps(record), received_at=EXAMPLES_RECEIVED_AT)


# (event, [(path, value)...], reason, field)
CASES: list[tuple[str, list[tuple[str, Any]], str, str | None]] = [
    # --- envelope ---
    (BOOT, [("ver", "9.9")], "unsupported_version", "ver"),
    (BOOT, [("ver", 4.0)], "type_error", "ver"),
    (BOOT, [("ver", DROP)], "missing_field", "ver"),
    (BOOT, [("name", "Fleet.Boot.Performanse")], "unknown_event", "name"),
    (BOOT, [("name", "../../etc/passwd")], "unknown_event", "name"),
    (BOOT, [("name", "X" * 10_000)], "unknown_event", "name"),
    (BOOT, [("name", 7)], "type_error", "name"),
    (BOOT, [("name", DROP)], "missing_field", "name"),
    (BOOT, [("time", DROP)], "missing_field", "time"),
    (BOOT, [("time", "2026-03-11T07:41:43.902+00:00")], "bad_format", "time"),
    (BOOT, [("time", "2026-03-11 07:41:43Z")], "bad_format", "time"),
    (BOOT, [("time", "2026-03-11T07:41:43.12345678Z")], "bad_format", "time"),
    (BOOT, [("time", "2026-02-30T07:41:43Z")], "bad_format", "time"),
    (BOOT, [("time", "2026-03-11T07:41:43z")], "bad_format", "time"),
    (BOOT, [("time", 1773214903)], "type_error", "time"),
    (BOOT, [("time", "2099-01-01T00:00:00Z")], "time_out_of_range", "time"),
    (BOOT, [("time", "2026-03-12T14:00:01Z")], "time_out_of_range", "time"),
    (BOOT, [("time", "2026-02-09T13:59:59Z")], "time_out_of_range", "time"),
    (BOOT, [("iKey", "o:4F1C2D3E5A6B7C8D9E0F1A2B3C4D5E6F")], "bad_format", "iKey"),
    (BOOT, [("iKey", "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f")], "bad_format", "iKey"),
    (BOOT, [("iKey", "o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6")], "bad_format", "iKey"),
    (BOOT, [("iKey", DROP)], "missing_field", "iKey"),
    (BOOT, [("extra", 1)], "unknown_field", "extra"),
    (BOOT, [("ext.ingest", {"time": "2026-03-11T07:41:43Z"})], "forbidden_field", "ext.ingest"),
    (BOOT, [("ext.utc", {"eventFlags": 514})], "unknown_field", "ext.utc"),
    (BOOT, [("ext.os.locale", "en-GB")], "unknown_field", "ext.os.locale"),
    (BOOT, [("ext.device.localId", DROP)], "bad_device_id", "ext.device.localId"),
    (BOOT, [("ext.device", DROP)], "bad_device_id", "ext.device"),
    (BOOT, [("ext.device.localId", "s:00000000-0000-0000-0000-000000000000")], "bad_device_id", None),
    (BOOT, [("ext.device.localId", "x:7C1E2A90-5B3D-4F1A-9C27-3E8D5A6B1F04")], "bad_device_id", None),
    (BOOT, [("ext.device.localId", "s:jsmith")], "bad_device_id", None),
    (BOOT, [("ext.device.localId", "7C1E2A90-5B3D-4F1A-9C27-3E8D5A6B1F04")], "bad_device_id", None),
    (BOOT, [("ext.device.localId", 42)], "bad_device_id", None),
    (BOOT, [("ext.device.deviceClass", "W" * 33)], "out_of_range", "ext.device.deviceClass"),
    (BOOT, [("ext.os.name", "Linux")], "out_of_range", "ext.os.name"),
    (BOOT, [("ext.os.ver", "10.0.2263.4169")], "bad_format", "ext.os.ver"),
    (BOOT, [("ext.os.ver", "10.0.22631.4169." + "x" * 97)], "bad_format", "ext.os.ver"),
    (BOOT, [("ext.os.bootId", -1)], "out_of_range", "ext.os.bootId"),
    (BOOT, [("ext.os.bootId", 2**32)], "out_of_range", "ext.os.bootId"),
    (BOOT, [("ext.os.bootId", "212")], "type_error", "ext.os.bootId"),
    (BOOT, [("ext.sdk.ver", "v" * 65)], "out_of_range", "ext.sdk.ver"),
    (BOOT, [("ext.sdk.epoch", "")], "bad_format", "ext.sdk.epoch"),
    (BOOT, [("ext.sdk.epoch", "1" * 21)], "bad_format", "ext.sdk.epoch"),
    (BOOT, [("ext.sdk.epoch", 2291847731)], "type_error", "ext.sdk.epoch"),
    (BOOT, [("ext.sdk.seq", 0)], "out_of_range", "ext.sdk.seq"),
    (BOOT, [("ext.sdk.seq", 1.0)], "type_error", "ext.sdk.seq"),
    (BOOT, [("ext.sdk.seq", True)], "type_error", "ext.sdk.seq"),
    (BOOT, [("ext.sdk.installId", "not-a-uuid")], "bad_format", "ext.sdk.installId"),
    (BOOT, [("ext.protocol.devMake", "m" * 65)], "out_of_range", "ext.protocol.devMake"),
    (BOOT, [("ext.user.localId", "c:jsmith@contoso.com")], "bad_format", "ext.user.localId"),
    (BOOT, [("ext.user.localId", "S-1-5-21-1004336348-1177238915-682003330-512")], "bad_format", None),
    (BOOT, [("ext.loc.tz", "+15:00")], "bad_format", "ext.loc.tz"),
    (BOOT, [("ext.loc.tz", "Europe/Paris")], "bad_format", "ext.loc.tz"),
    (BOOT, [("ext", DROP)], "missing_field", "ext"),
    (BOOT, [("data", DROP)], "missing_field", "data"),
    (BOOT, [("data", [])], "type_error", "data"),
    (BOOT, [("data.schemaVersion", 2)], "unsupported_version", "data.schemaVersion"),
    (BOOT, [("data.schemaVersion", True)], "type_error", "data.schemaVersion"),
    (BOOT, [("data.schemaVersion", DROP)], "missing_field", "data.schemaVersion"),
    (BOOT, [("data.unknownThing", 1)], "unknown_field", "data.unknownThing"),
    # --- strict types ---
    (BOOT, [("data.totalBootMs", "41230")], "type_error", "data.totalBootMs"),
    (BOOT, [("data.totalBootMs", 41230.5)], "type_error", "data.totalBootMs"),
    (BOOT, [("data.totalBootMs", 41230.0)], "type_error", "data.totalBootMs"),
    (BOOT, [("data.totalBootMs", None)], "type_error", "data.totalBootMs"),
    (BOOT, [("data.isRebootAfterUpdate", "no")], "type_error", "data.isRebootAfterUpdate"),
    (BOOT, [("data.isRebootAfterUpdate", 0)], "type_error", "data.isRebootAfterUpdate"),
    (CRASH, [("data.isFatal", "yes")], "type_error", "data.isFatal"),
    (LOGON, [("data.topStartupProcesses.0.cpuPercent", True)], "type_error", None),
    (LOGON, [("data.topStartupProcesses.0.cpuPercent", "31")], "type_error", None),
    (BOOT, [("data.bootKind", 1)], "type_error", "data.bootKind"),
    # --- Fleet.Boot.Performance ---
    (BOOT, [("data.totalBootMs", -5)], "out_of_range", "data.totalBootMs"),
    (BOOT, [("data.totalBootMs", 0)], "out_of_range", "data.totalBootMs"),
    (BOOT, [("data.totalBootMs", 3_600_001)], "out_of_range", "data.totalBootMs"),
    (BOOT, [("data.coreBootMs", 1_800_001)], "out_of_range", "data.coreBootMs"),
    (BOOT, [("data.bootKind", "hibernate")], "out_of_range", "data.bootKind"),
    (BOOT, [("data.numStartupApps", 1001)], "out_of_range", "data.numStartupApps"),
    (BOOT, [("data.bootId", 213)], "invariant_violated", "data.bootId"),
    (
        BOOT,
        [("data.bootStartTime", "2026-03-11T07:41:43.9020000Z")],
        "invariant_violated",
        "data.bootStartTime",
    ),
    (BOOT, [("data.bootStartTime", "yesterday")], "bad_format", "data.bootStartTime"),
    (BOOT, [("data.postBootMs", 12822)], "invariant_violated", "data.totalBootMs"),
    (BOOT, [("data.mainPathMs", 28408)], "invariant_violated", "data.totalBootMs"),
    (BOOT, [("data.kernelInitMs", 41231)], "invariant_violated", "data.kernelInitMs"),
    (BOOT, [("data.updateMs", 20000)], "invariant_violated", "data.mainPathMs"),
    (
        BOOT,
        [
            (
                "data.slowComponents",
                [{"kind": "driver", "name": "a.sys", "totalMs": 1, "degradationMs": 1}] * 11,
            )
        ],
        "out_of_range",
        "data.slowComponents",
    ),
    (BOOT, [("data.slowComponents.0.kind", "firmware")], "out_of_range", "data.slowComponents.0.kind"),
    (BOOT, [("data.slowComponents.0.extra", 1)], "unknown_field", "data.slowComponents.0.extra"),
    (BOOT, [("data.slowComponents.0.totalMs", 50000)], "invariant_violated", "data.slowComponents.0.totalMs"),
    (BOOT, [("data.slowComponents.0.degradationMs", 9421)], "invariant_violated", None),
    (BOOT, [("data.slowComponents", {"kind": "driver"})], "type_error", "data.slowComponents"),
    # --- Fleet.Logon.Performance ---
    (LOGON, [("data.desktopShownMs", 7211)], "invariant_violated", "data.desktopShownMs"),
    (LOGON, [("data.totalLogonMs", 14052)], "invariant_violated", "data.totalLogonMs"),
    (LOGON, [("data.coreLogonMs", 3_600_001)], "out_of_range", "data.coreLogonMs"),
    (LOGON, [("data.userType", "guest")], "out_of_range", "data.userType"),
    (LOGON, [("data.logonId", "0f3c9a1e6b2d4c8ea7f12d4b6e8a0c13")], "bad_format", "data.logonId"),
    (LOGON, [("data.isFirstLogonForUser", DROP)], "missing_field", "data.isFirstLogonForUser"),
    (LOGON, [("data.topStartupProcesses.0.cpuPercent", 100.5)], "out_of_range", None),
    (LOGON, [("data.topStartupProcesses.0.version", "v" * 65)], "out_of_range", None),
    (LOGON, [("data.topStartupProcesses", [{"name": "a.exe", "cpuPercent": 1}] * 11)], "out_of_range", None),
    # --- Fleet.Power.Transition ---
    (POWER, [("data.previousBootId", 212)], "invariant_violated", "data.previousBootId"),
    (POWER, [("data.category", "crash")], "out_of_range", "data.category"),
    (POWER, [("data.isAbnormal", True)], "invariant_violated", "data.isAbnormal"),
    (POWER, [("data.category", "blueScreen")], "invariant_violated", "data.isAbnormal"),
    (POWER, [("data.category", "unknown")], "invariant_violated", "data.isAbnormal"),
    (POWER, [("data.previousBootUptimeMs", -1)], "out_of_range", "data.previousBootUptimeMs"),
    # --- Fleet.Fault.StopError ---
    (STOP, [("data.bugCheckCode", "159")], "bad_format", "data.bugCheckCode"),
    (STOP, [("data.bugCheckCode", "0x0000009f")], "bad_format", "data.bugCheckCode"),
    (STOP, [("data.bugCheckCode", "0x9F")], "bad_format", "data.bugCheckCode"),
    (STOP, [("data.bugCheckCode", 159)], "type_error", "data.bugCheckCode"),
    (STOP, [("data.bugCheckParameter4", "0x00000000")], "bad_format", "data.bugCheckParameter4"),
    (STOP, [("data.bugCheckParameter1", DROP)], "missing_field", "data.bugCheckParameter1"),
    (STOP, [("data.source", "bsod")], "out_of_range", "data.source"),
    (STOP, [("data.reportId", DROP)], "missing_field", "data.reportId"),
    (STOP, [("data.crashBootId", 1881)], "invariant_violated", "data.crashBootId"),
    (STOP, [("data.crashBootId", 1882)], "invariant_violated", "data.crashBootId"),
    (STOP, [("data.faultingModule", "m" * 65)], "out_of_range", "data.faultingModule"),
    # --- Fleet.Fault.AppCrash ---
    (CRASH, [("data.exceptionCode", "c0000005")], "bad_format", "data.exceptionCode"),
    (CRASH, [("data.exceptionCode", "0xC000005")], "bad_format", "data.exceptionCode"),
    (CRASH, [("data.exceptionOffset", "0x00000000002A41C")], "bad_format", "data.exceptionOffset"),
    (CRASH, [("data.processArchitecture", 7)], "out_of_range", "data.processArchitecture"),
    (CRASH, [("data.processArchitecture", True)], "type_error", "data.processArchitecture"),
    (CRASH, [("data.processArchitecture", 9.0)], "type_error", "data.processArchitecture"),
    (CRASH, [("data.appName", "C:\\Users\\jsmith\\teams.exe")], "bad_format", "data.appName"),
    (CRASH, [("data.appName", "/usr/bin/teams")], "bad_format", "data.appName"),
    (CRASH, [("data.appName", "a" * 65)], "out_of_range", "data.appName"),
    (CRASH, [("data.appName", "a" * 1_000_000)], "too_large", None),
    (CRASH, [("data.appName", "")], "out_of_range", "data.appName"),
    (CRASH, [("data.appVersion", "24.1-beta")], "bad_format", "data.appVersion"),
    (CRASH, [("data.appVersion", "1." * 12 + "1")], "out_of_range", "data.appVersion"),
    (CRASH, [("data.modVersion", "1" * 4096)], "out_of_range", "data.modVersion"),
    (CRASH, [("data.modName", "")], "out_of_range", "data.modName"),
    (CRASH, [("data.reportId", DROP)], "missing_field", "data.reportId"),
    (CRASH, [("data.reportId", "2e8b6f41")], "bad_format", "data.reportId"),
    (
        CRASH,
        [("data.processCreateTime", "2026-03-11T10:15:04Z")],
        "invariant_violated",
        "data.processCreateTime",
    ),
    (CRASH, [("data.appSessionGuid", "{00003A18-0001-0047-1F6B-3C2D9A91DB01}")], "bad_format", None),
    # --- Fleet.Fault.AppHang ---
    (HANG, [("data.hangDurationMs", 86_400_001)], "out_of_range", "data.hangDurationMs"),
    (
        HANG,
        [("data.processCreateTime", "2026-03-11T13:22:10Z")],
        "invariant_violated",
        "data.processCreateTime",
    ),
    (HANG, [("data.waitingOnAppName", "C:\\x.exe")], "bad_format", "data.waitingOnAppName"),
    (HANG, [("data.processArchitecture", 1)], "out_of_range", "data.processArchitecture"),
    # --- Fleet.Census.Device ---
    (CENSUS, [("data.processorLogicalCores", 8)], "invariant_violated", "data.processorLogicalCores"),
    (CENSUS, [("data.processorPhysicalCores", 0)], "out_of_range", "data.processorPhysicalCores"),
    (CENSUS, [("data.processorLogicalCores", 1025)], "out_of_range", "data.processorLogicalCores"),
    (CENSUS, [("data.totalPhysicalRamMB", 511)], "out_of_range", "data.totalPhysicalRamMB"),
    (CENSUS, [("data.totalPhysicalRamMb", 16384)], "unknown_field", "data.totalPhysicalRamMb"),
    (CENSUS, [("data.primaryDiskMediaType", "nvme")], "out_of_range", "data.primaryDiskMediaType"),
    (CENSUS, [("data.tpmVersionMajor", 3)], "out_of_range", "data.tpmVersionMajor"),
    (CENSUS, [("data.chassisType", 37)], "out_of_range", "data.chassisType"),
    (CENSUS, [("data.firmwareType", "uefi")], "out_of_range", "data.firmwareType"),
    (CENSUS, [("data.machineType", "vm")], "out_of_range", "data.machineType"),
    (CENSUS, [("data.osBuild", "10.0.22631.4169.amd64fre")], "bad_format", "data.osBuild"),
    (CENSUS, [("data.oemModelNumber", "")], "out_of_range", "data.oemModelNumber"),
    (CENSUS, [("data.processorModel", "p" * 129)], "out_of_range", "data.processorModel"),
    (CENSUS, [("data.batteryDesignCapacityMWh", DROP)], "missing_field", "data.batteryDesignCapacityMWh"),
    (CENSUS, [("data.batteryFullChargeCapacityMWh", 68401)], "invariant_violated", None),
    (CENSUS, [("data.hasBattery", DROP)], "missing_field", "data.hasBattery"),
    (CENSUS, [("data.joinType", "azureAd")], "out_of_range", "data.joinType"),
    (CENSUS, [("data.managementType", "sccm")], "out_of_range", "data.managementType"),
    (CENSUS, [("data.autopilotProfile", "yes")], "out_of_range", "data.autopilotProfile"),
    (CENSUS, [("data.isCloudPc", 0)], "type_error", "data.isCloudPc"),
    # --- Fleet.Inventory.AppAdd ---
    (APPADD, [("data.source", "Store")], "out_of_range", "data.source"),
    (APPADD, [("data.installDate", "2026-03-12")], "invariant_violated", "data.installDate"),
    (APPADD, [("data.installDate", "14/01/2026")], "bad_format", "data.installDate"),
    (APPADD, [("data.installDate", "2026-13-01")], "bad_format", "data.installDate"),
    (APPADD, [("data.appName", "ms:teams")], "bad_format", "data.appName"),
    (APPADD, [("data.appPublisher", "p" * 257)], "out_of_range", "data.appPublisher"),
    # --- Fleet.Config.Change ---
    (CONFIG, [("data.changeType", "registry")], "out_of_range", "data.changeType"),
    (CONFIG, [("data.changeId", "c" * 129)], "out_of_range", "data.changeId"),
    (CONFIG, [("data.changeName", "n" * 257)], "out_of_range", "data.changeName"),
    (CONFIG, [("data.appliedTime", "2026-03-11T07:41:23Z")], "invariant_violated", "data.appliedTime"),
    (CONFIG, [("data.toVersion", "v" * 65)], "out_of_range", "data.toVersion"),
    (CONFIG, [("data.appliedTime", DROP)], "missing_field", "data.appliedTime"),
    # --- Fleet.App.UsageSummary ---
    (USAGE, [("data.inFocusDurationMs", 900_001)], "invariant_violated", "data.inFocusDurationMs"),
    (USAGE, [("data.userActiveDurationMs", 900_001)], "invariant_violated", "data.userActiveDurationMs"),
    (USAGE, [("data.aggregationDurationMs", 0)], "out_of_range", "data.aggregationDurationMs"),
    (USAGE, [("data.aggregationDurationMs", 3_600_001)], "out_of_range", "data.aggregationDurationMs"),
    (USAGE, [("data.appSessionId", "session-1")], "bad_format", "data.appSessionId"),
    (USAGE, [("data.inFocusDurationMs", -1)], "out_of_range", "data.inFocusDurationMs"),
    # --- Fleet.Resource.UsageSummary ---
    (RES, [("data.windowDurationMs", 59_999)], "out_of_range", "data.windowDurationMs"),
    (
        RES,
        [("data.usageDurationMs", 3_600_000), ("data.windowDurationMs", 1_800_000)],
        "invariant_violated",
        "data.usageDurationMs",
    ),
    (RES, [("data.cpuSpikeMs", 3_312_001)], "invariant_violated", "data.cpuSpikeMs"),
    (RES, [("data.ramSpikeMs", 3_312_001)], "invariant_violated", "data.ramSpikeMs"),
    (RES, [("data.cpuAvgPercent", 100.01)], "out_of_range", "data.cpuAvgPercent"),
    (RES, [("data.spikeThresholdPercent", 0)], "out_of_range", "data.spikeThresholdPercent"),
    (RES, [("data.topCpuProcesses", [{"name": "a.exe", "cpuPercent": 1}] * 11)], "out_of_range", None),
    # --- Fleet.Power.BatterySnapshot ---
    (BATT, [("data.fullChargeCapacityMWh", 68401)], "invariant_violated", "data.fullChargeCapacityMWh"),
    (BATT, [("data.chargePercent", 101)], "out_of_range", "data.chargePercent"),
    (BATT, [("data.designCapacityMWh", 0)], "out_of_range", "data.designCapacityMWh"),
    (BATT, [("data.acOnline", 1)], "type_error", "data.acOnline"),
    # --- Fleet.Agent.Heartbeat ---
    (HB, [("data.heartbeatSeq", 0)], "out_of_range", "data.heartbeatSeq"),
    (HB, [("data.eventsGenerated", 10_000_001)], "out_of_range", "data.eventsGenerated"),
    (HB, [("data.eventsDroppedQueueFull", -1)], "out_of_range", "data.eventsDroppedQueueFull"),
    (HB, [("data.uploadAttempts", DROP)], "missing_field", "data.uploadAttempts"),
    (HB, [("data.oldestQueuedEventAgeSec", 2_592_001)], "out_of_range", "data.oldestQueuedEventAgeSec"),
]


@pytest.mark.parametrize(
    ("name", "changes", "reason", "field"),
    CASES,
    ids=[f"{n.split('.')[-1]}-{c[0][0]}-{r}" for n, c, r, _ in CASES],
)
def test_rule(name: str, changes: list[tuple[str, Any]], reason: str, field: str | None) -> None:
    err = reject(mutated(name, *changes))
    assert err.reason == reason, err
    if field is not None:
        assert err.field == field, err


# Boundary values and optional rules that must still be accepted.
ACCEPTED: list[tuple[str, list[tuple[str, Any]]]] = [
    (BOOT, [("time", "2026-03-11T07:41:43Z")]),
    (BOOT, [("time", "2026-03-11T07:41:43.1234567Z")]),
    (BOOT, [("time", "2026-03-12T14:00:00Z")]),  # exactly received_at + 24 h
    (BOOT, [("time", "2026-02-09T14:00:00Z"), ("data.bootStartTime", "2026-02-09T13:59:00Z")]),
    (BOOT, [("ext.device.localId", "c:7c1e2a90-5b3d-4f1a-9c27-3e8d5a6b1f04")]),
    (BOOT, [("ext.os.ver", "10.0.22631.4169." + "x" * 96)]),
    (BOOT, [("data.postBootMs", 12821)]),  # ±1
    (BOOT, [("data.mainPathMs", DROP)]),  # invariant only when both present
    (BOOT, [("ext.sdk.seq", 2**63 - 1)]),
    (LOGON, [("data.desktopShownMs", 7210), ("data.totalLogonMs", 15050)]),  # ±1000
    (LOGON, [("data.gpLogonMs", DROP)]),
    (LOGON, [("data.totalLogonMs", DROP)]),
    (POWER, [("data.category", "blueScreen"), ("data.isAbnormal", True)]),
    (POWER, [("data.category", "bootError"), ("data.isAbnormal", False)]),
    (STOP, [("data.source", "kernelPower41"), ("data.reportId", DROP)]),
    (STOP, [("data.crashBootId", 1880)]),
    (
        CENSUS,
        [
            ("data.hasBattery", False),
            ("data.batteryDesignCapacityMWh", DROP),
            ("data.batteryFullChargeCapacityMWh", DROP),
        ],
    ),
    (CENSUS, [("data.batteryFullChargeCapacityMWh", 68400)]),  # exactly 1.2 x design
    (CENSUS, [("data.oemModelSku", None)]),
    (BATT, [("data.fullChargeCapacityMWh", 68400)]),
    (CRASH, [("data.exceptionOffset", "0x002A41C7")]),
    (CRASH, [("data.processArchitecture", 12)]),
    (CRASH, [("data.processCreateTime", "2026-03-11T10:15:03.9120000Z")]),
    (CRASH, [("data.appName", "Teams Ünicode名.exe")]),
    (CONFIG, [("data.appliedTime", "2026-03-11T07:41:22.5120000Z")]),
    (USAGE, [("data.inFocusDurationMs", 900_000), ("data.userActiveDurationMs", 900_000)]),
    (RES, [("data.cpuAvgPercent", 14), ("data.spikeThresholdPercent", DROP)]),
]


@pytest.mark.parametrize(("name", "changes"), ACCEPTED)
def test_boundary_accepted(name: str, changes: list[tuple[str, Any]]) -> None:
    accept(mutated(name, *changes))
