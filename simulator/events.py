"""Builders of the ``data`` bodies of every event type, exactly as the wire contract names them.

Each builder takes already-drawn values (or a :class:`Rand`) and returns a plain dict; the
envelope is added by :mod:`simulator.timeline` once the device's events are ordered.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from simulator.catalog import BACKGROUND_PROCESSES, BOOT_PROFILE, BUGCHECKS, App, Model
from simulator.rand import Rand, fmt_time

Data = dict[str, Any]
AddFn = Callable[[int, str, Data], None]
_PROC_PAIRS = list(itertools.permutations(BACKGROUND_PROCESSES, 2))
_PROC_TRIPLES = list(itertools.permutations(BACKGROUND_PROCESSES, 3))

CENSUS = "Fleet.Census.Device"
APP_ADD = "Fleet.Inventory.AppAdd"
CONFIG = "Fleet.Config.Change"
BOOT = "Fleet.Boot.Performance"
LOGON = "Fleet.Logon.Performance"
TRANSITION = "Fleet.Power.Transition"
STOP = "Fleet.Fault.StopError"
CRASH = "Fleet.Fault.AppCrash"
HANG = "Fleet.Fault.AppHang"
APP_USAGE = "Fleet.App.UsageSummary"
RESOURCE = "Fleet.Resource.UsageSummary"
BATTERY = "Fleet.Power.BatterySnapshot"
HEARTBEAT = "Fleet.Agent.Heartbeat"
EVENT_TYPES: tuple[str, ...] = (
    CENSUS,
    APP_ADD,
    CONFIG,
    BOOT,
    LOGON,
    TRANSITION,
    STOP,
    CRASH,
    HANG,
    APP_USAGE,
    RESOURCE,
    BATTERY,
    HEARTBEAT,
)


def census(
    m: Model, os_ver: str, edition: str, ram_mb: int, disk_mb: int, health: float, cycles: int
) -> Data:
    d: Data = {
        "schemaVersion": 1,
        "oemManufacturerName": m.manufacturer,
        "oemModelNumber": m.name,
        "oemModelSku": m.sku,
        "chassisType": m.chassis,
        "firmwareType": "UEFI",
        "firmwareVersion": m.firmware,
        "osEdition": edition,
        "osBuild": os_ver,
        "processorModel": m.cpu,
        "processorPhysicalCores": m.cores,
        "processorLogicalCores": m.cores * 2 if m.cores <= 6 else m.cores + 2,
        "totalPhysicalRamMB": ram_mb,
        "primaryDiskTotalCapacityMB": disk_mb,
        "primaryDiskMediaType": m.disk,
        "tpmVersionMajor": 2,
        "secureBootEnabled": True,
        "machineType": "physical",
        "hasBattery": m.has_battery,
    }
    if m.has_battery:
        d["batteryDesignCapacityMWh"] = m.battery_mwh
        d["batteryFullChargeCapacityMWh"] = int(m.battery_mwh * health)
        d["batteryCycleCount"] = cycles
    return d


def app_add(app: App, version: str, install_date: str) -> Data:
    return {
        "schemaVersion": 1,
        "appName": app.name,
        "appVersion": version,
        "source": app.source,
        "appPublisher": app.publisher,
        "displayName": app.display,
        "installDate": install_date,
    }


def config_change(
    change_type: str,
    change_id: str,
    name: str,
    applied_ms: int,
    from_version: str | None = None,
    to_version: str | None = None,
    deployment_id: str | None = None,
) -> Data:
    d: Data = {
        "schemaVersion": 1,
        "changeType": change_type,
        "changeId": change_id,
        "changeName": name,
        "appliedTime": fmt_time(applied_ms),
    }
    if from_version is not None:
        d["fromVersion"] = from_version
    if to_version is not None:
        d["toVersion"] = to_version
    if deployment_id is not None:
        d["deploymentId"] = deployment_id
    return d


def boot(
    r: Rand,
    m: Model,
    boot_id: int,
    start_ms: int,
    domain: bool,
    update: bool,
    fast: bool,
    mult_core: float,
    mult_gp: float,
    level: tuple[float, float] = (0.0, 1.0),
) -> tuple[Data, int, int]:
    """A boot record; returns (data, time to the sign-in screen in ms, total boot ms).

    ``level``: the device's own share of the core / GP boot time (see :meth:`Rand.lognorm`)."""
    prof = BOOT_PROFILE[m.disk]
    core = r.lognorm(prof["core"][0] * m.boot_mult, prof["core"][1] * m.boot_mult, 3000, 300_000, level)
    core = min(int(core * (0.6 if fast else 1.0) * mult_core), 1_800_000)
    gp = int(r.lognorm(*prof["gp"], 200, 120_000, level) * mult_gp) if domain else 0
    upd = r.lognorm(*prof["update"], 5000, 900_000) if update else 0
    wait = min(int(r.expovariate(1 / 20_000)), 1_500_000)
    profile_ms = r.lognorm(1500, 6000, 200, 60_000)
    explorer = r.lognorm(1200, 4000, 200, 30_000)
    main = core + gp + upd + wait + profile_ms + explorer
    post = r.lognorm(*prof["post"], 1000, 300_000)
    if main + post > 3_600_000:  # keep the record in range under extreme injected factors
        wait = max(wait - (main + post - 3_600_000), 0)
        main = core + gp + upd + wait + profile_ms + explorer
    total = main + post
    loader = int(core * r.uniform(0.05, 0.12))
    kernel = int(core * r.uniform(0.15, 0.3))
    driver = int(core * r.uniform(0.15, 0.3))
    d: Data = {
        "schemaVersion": 1,
        "bootId": boot_id,
        "bootStartTime": fmt_time(start_ms),
        "bootKind": "fastStartup" if fast else "full",
        "isRebootAfterUpdate": update,
        "totalBootMs": total,
        "mainPathMs": main,
        "postBootMs": post,
        "coreBootMs": core,
        "gpBootMs": gp,
        "updateMs": upd,
        "osLoaderMs": loader,
        "kernelInitMs": kernel,
        "driverInitMs": driver,
        "smssInitMs": int(core * r.uniform(0.05, 0.15)),
        "criticalServicesInitMs": int(core * r.uniform(0.1, 0.2)),
        "userLogonWaitMs": wait,
        "userProfileProcessingMs": profile_ms,
        "explorerInitMs": explorer,
        "numStartupApps": r.ri(5, 40),
    }
    if r.random() < 0.15:
        slow = min(r.lognorm(4000, 12000, 500, 60_000), core)
        d["slowComponents"] = [
            {
                "kind": "driver",
                "name": m.stop_module,
                "version": "10.0.22621.1",
                "totalMs": slow,
                "degradationMs": int(slow * 0.7),
            }
        ]
    return d, core + gp + upd + wait, total


def logon(
    r: Rand,
    m: Model,
    boot_id: int,
    start_ms: int,
    domain: bool,
    first_user: bool,
    mult_core: float,
    level: tuple[float, float] = (0.0, 1.0),
) -> tuple[Data, int]:
    """A sign-in record; returns (data, total sign-in ms); ``level`` as for :func:`boot`."""
    prof = BOOT_PROFILE[m.disk]
    first = r.uniform(3, 10) if first_user else 1
    core = int(r.lognorm(*prof["coreLogon"], 500, 300_000, level) * first * mult_core)
    gp = r.lognorm(*prof["gpLogon"], 1000, 600_000, level) // 1000 * 1000 if domain else 0
    responsive = r.lognorm(*prof["responsive"], 500, 600_000, level)
    desktop = core + gp
    top = _PROC_TRIPLES[int(r.random() * len(_PROC_TRIPLES))]
    d: Data = {
        "schemaVersion": 1,
        "logonId": r.guid(),
        "bootId": boot_id,
        "logonStartTime": fmt_time(start_ms),
        "userType": "ad" if domain else "entra",
        "isFirstLogonAfterBoot": True,
        "isFirstLogonForUser": first_user,
        "isAfterFeatureUpdate": False,
        "coreLogonMs": core,
        "gpLogonMs": gp,
        "desktopShownMs": desktop,
        "responsiveDesktopMs": responsive,
        "totalLogonMs": desktop + responsive,
        "profileLoadMs": int(core * r.uniform(0.1, 0.5)),
        "topStartupProcesses": [
            {"name": n, "publisher": p, "cpuPercent": round(r.uniform(1, 30), 1)} for n, p in top
        ],
    }
    return d, desktop + responsive


def transition(r: Rand, prev_boot: int, boot_id: int, category: str, end_ms: int, prev_boot_ms: int) -> Data:
    d: Data = {
        "schemaVersion": 1,
        "previousBootId": prev_boot,
        "bootId": boot_id,
        "category": category,
        "isAbnormal": category in ("blueScreen", "longPowerButtonPress", "unknown"),
    }
    if end_ms > 0 and category not in ("blueScreen", "unknown", "bootError"):
        d["shutdownStartTime"] = fmt_time(end_ms)
        d["shutdownMs"] = r.lognorm(9000, 30000, 1500, 600_000)
        if prev_boot_ms > 0:
            d["previousBootUptimeMs"] = max(end_ms - prev_boot_ms, 0)
    if category == "longPowerButtonPress" and end_ms > 0:
        d["powerButtonTime"] = fmt_time(end_ms)
    return d


def stop_error(r: Rand, m: Model, crash_boot: int, crash_ms: int) -> Data:
    source = "werOsCrash" if r.random() < 0.7 else "kernelPower41"
    code = BUGCHECKS[r.zipf_index(len(BUGCHECKS))]
    d: Data = {
        "schemaVersion": 1,
        "source": source,
        "crashBootId": crash_boot,
        "bugCheckCode": code,
        "bugCheckParameter1": r.hex_upper(16),
        "bugCheckParameter2": r.hex_upper(16),
        "bugCheckParameter3": r.hex_upper(16),
        "bugCheckParameter4": r.hex_upper(16),
    }
    if crash_ms > 0:
        d["crashTime"] = fmt_time(crash_ms)
    if source != "kernelPower41":
        d["reportId"] = r.guid()
        d["faultingModule"] = m.stop_module
        d["faultBucket"] = f"{code}_{m.stop_module}!Unknown"
        d["isValidDump"] = True
    return d


def app_crash(r: Rand, app: App, version: str, proc_ms: int) -> Data:
    mod, mod_ver, code = app.modules[r.zipf_index(len(app.modules))]
    return {
        "schemaVersion": 1,
        "reportId": r.guid(),
        "appName": app.name,
        "appVersion": version,
        "modName": mod,
        "modVersion": mod_ver,
        "exceptionCode": code,
        "exceptionOffset": r.hex_upper(16),
        "isFatal": True,
        "processArchitecture": 9,
        "appPublisher": app.publisher,
        "friendlyAppName": app.display,
        "processCreateTime": fmt_time(proc_ms),
        "appSessionGuid": r.guid(),
    }


def app_hang(r: Rand, app: App, version: str, proc_ms: int) -> Data:
    return {
        "schemaVersion": 1,
        "reportId": r.guid(),
        "appName": app.name,
        "appVersion": version,
        "isFatal": r.random() < 0.6,
        "processArchitecture": 9,
        "appPublisher": app.publisher,
        "hangDurationMs": r.lognorm(8000, 40000, 5000, 600_000),
        "processCreateTime": fmt_time(proc_ms),
    }


def app_usage(r: Rand, app: App, version: str, session_id: str, start_ms: int) -> Data:
    window = 900_000
    focus = int(window * min(max(r.gauss(app.focus_share, 0.2), 0.0), 1.0))
    active = int(focus * r.uniform(0.3, 0.9))
    d: Data = {
        "schemaVersion": 1,
        "appName": app.name,
        "appVersion": version,
        "appSessionId": session_id,
        "aggregationStartTime": fmt_time(start_ms),
        "aggregationDurationMs": window,
        "inFocusDurationMs": focus,
        "userActiveDurationMs": active,
        "appPublisher": app.publisher,
        "keyboardInputSec": int(active / 1000 * r.uniform(0.05, 0.3)),
        "mouseInputSec": int(active / 1000 * r.uniform(0.1, 0.4)),
        "focusLostCount": r.ri(0, 20),
    }
    d["audioOutMs"] = int(window * r.uniform(0.3, 1.0)) if app.audio and r.random() < 0.5 else 0
    return d


def _share(r: Rand, median: float, p90: float) -> float:
    """A log-normal share of time in [0, 1]; ``lognorm`` draws integers, so in parts per million
    (spike shares were truncated to 0 or 1 before: no window had a partial spike)."""
    return r.lognorm(median * 1e6, p90 * 1e6, 0.0, 1e6) / 1e6


def resource(r: Rand, window_start_ms: int, ram_mb: int, hdd: bool) -> Data:
    window = 3_600_000
    usage = int(window * r.uniform(0.6, 1.0))
    cpu_spike = int(usage * _share(r, 0.10 if hdd else 0.05, 0.35 if hdd else 0.2))
    ram_med, ram_p90 = (0.6, 0.95) if ram_mb <= 8192 else (0.2, 0.6)
    ram_spike = int(usage * _share(r, ram_med, ram_p90))
    cpu_avg = round(r.uniform(4, 30), 1)
    ram_avg = round(r.uniform(35, 85) if ram_mb <= 8192 else r.uniform(25, 60), 1)
    top = _PROC_PAIRS[int(r.random() * len(_PROC_PAIRS))]
    return {
        "schemaVersion": 1,
        "windowStart": fmt_time(window_start_ms),
        "windowDurationMs": window,
        "usageDurationMs": usage,
        "cpuSpikeMs": cpu_spike,
        "ramSpikeMs": ram_spike,
        "spikeThresholdPercent": 50,
        "cpuAvgPercent": cpu_avg,
        "cpuP95Percent": round(min(cpu_avg * r.uniform(1.5, 4.0), 100.0), 1),
        "ramAvgPercent": ram_avg,
        "ramPeakPercent": round(min(ram_avg * r.uniform(1.05, 1.4), 100.0), 1),
        "topCpuProcesses": [{"name": n, "cpuPercent": round(r.uniform(0.5, 15), 1)} for n, _ in top],
    }


def battery(design: int, full: int, pct: int, ac: bool, rate_mw: int, cycles: int) -> Data:
    return {
        "schemaVersion": 1,
        "designCapacityMWh": design,
        "fullChargeCapacityMWh": full,
        "remainingCapacityMWh": full * pct // 100,
        "chargePercent": pct,
        "acOnline": ac,
        "isDischarging": not ac,
        "dischargeRateMW": 0 if ac else rate_mw,
        "cycleCount": cycles,
        "windowDurationMs": 3_600_000,
        "energyDrainedMWh": 0 if ac else rate_mw,
    }


def heartbeat() -> Data:
    """A heartbeat body; counters are filled in once the device's events are ordered."""
    return {
        "schemaVersion": 1,
        "heartbeatSeq": 0,
        "eventsGenerated": 0,
        "eventsUploaded": 0,
        "eventsQueued": 0,
        "eventsDroppedQueueFull": 0,
        "uploadAttempts": 0,
    }
