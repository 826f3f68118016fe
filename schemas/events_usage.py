"""Usage and health windows: ``Fleet.App.UsageSummary``, ``Fleet.Resource.UsageSummary``,
``Fleet.Power.BatterySnapshot``, ``Fleet.Agent.Heartbeat``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas.envelope import EventData, Record, WireModel
from schemas.events_device import violated
from schemas.types import AppName, AppVersion, Count32, Guid, L, Ms1h, Name64, Percent, R, Str256, UtcTime


class AppUsageSummary(EventData):
    """Per app per aggregation window (15 min typical): focus, activity and audio time."""

    EVENT_NAME = "Fleet.App.UsageSummary"

    app_name: AppName
    app_version: AppVersion
    app_session_id: Guid
    aggregation_start_time: UtcTime
    aggregation_duration_ms: Annotated[int, R(1, 3_600_000)]
    in_focus_duration_ms: Ms1h
    user_active_duration_ms: Ms1h
    app_publisher: Str256 | None = None
    keyboard_input_sec: Annotated[int, R(0, 3600)] | None = None
    mouse_input_sec: Annotated[int, R(0, 3600)] | None = None
    audio_out_ms: Ms1h | None = None
    focus_lost_count: Annotated[int, R(0, 100_000)] | None = None

    def check(self, record: Record) -> None:
        window = self.aggregation_duration_ms
        if self.in_focus_duration_ms > window:
            violated("inFocusDurationMs", "longer than aggregationDurationMs")
        if self.user_active_duration_ms > window:
            violated("userActiveDurationMs", "longer than aggregationDurationMs")


class CpuProcess(WireModel):
    name: Name64
    cpu_percent: Percent


class ResourceUsageSummary(EventData):
    """Per device per window (60 min typical): CPU and RAM spike time."""

    EVENT_NAME = "Fleet.Resource.UsageSummary"

    window_start: UtcTime
    window_duration_ms: Annotated[int, R(60_000, 3_600_000)]
    usage_duration_ms: Ms1h
    cpu_spike_ms: Ms1h
    ram_spike_ms: Ms1h
    spike_threshold_percent: Annotated[int, R(1, 100)] = 50
    cpu_avg_percent: Percent | None = None
    cpu_p95_percent: Percent | None = None
    ram_avg_percent: Percent | None = None
    ram_peak_percent: Percent | None = None
    top_cpu_processes: Annotated[list[CpuProcess], L(10)] | None = None

    def check(self, record: Record) -> None:
        if self.usage_duration_ms > self.window_duration_ms:
            violated("usageDurationMs", "longer than windowDurationMs")
        if self.cpu_spike_ms > self.usage_duration_ms:
            violated("cpuSpikeMs", "longer than usageDurationMs")
        if self.ram_spike_ms > self.usage_duration_ms:
            violated("ramSpikeMs", "longer than usageDurationMs")


class BatterySnapshot(EventData):
    """Hourly on battery devices: capacity (health) and drain."""

    EVENT_NAME = "Fleet.Power.BatterySnapshot"

    design_capacity_mwh: Annotated[int, R(1, 500_000)] = Field(alias="designCapacityMWh")
    full_charge_capacity_mwh: Annotated[int, R(0, 600_000)] = Field(alias="fullChargeCapacityMWh")
    charge_percent: Annotated[int, R(0, 100)]
    ac_online: bool
    is_discharging: bool
    remaining_capacity_mwh: Annotated[int, R(0, 600_000)] | None = Field(
        default=None, alias="remainingCapacityMWh"
    )
    discharge_rate_mw: Annotated[int, R(0, 200_000)] | None = Field(default=None, alias="dischargeRateMW")
    cycle_count: Annotated[int, R(0, 10_000)] | None = None
    window_duration_ms: Annotated[int, R(60_000, 86_400_000)] | None = None
    energy_drained_mwh: Annotated[int, R(0, 500_000)] | None = Field(default=None, alias="energyDrainedMWh")

    def check(self, record: Record) -> None:
        if self.full_charge_capacity_mwh * 5 > self.design_capacity_mwh * 6:
            violated("fullChargeCapacityMWh", "full charge capacity above 1.2 x design")


class AgentHeartbeat(EventData):
    """Hourly: the agent's own delivery counters (deltas since the previous heartbeat)."""

    EVENT_NAME = "Fleet.Agent.Heartbeat"

    heartbeat_seq: Annotated[int, R(1, 2**63 - 1)]
    events_generated: Annotated[int, R(0, 10_000_000)]
    events_uploaded: Annotated[int, R(0, 10_000_000)]
    events_queued: Annotated[int, R(0, 10_000_000)]
    events_dropped_queue_full: Count32
    upload_attempts: Count32
    previous_heartbeat_time: UtcTime | None = None
    events_dropped_retries_exhausted: Count32 | None = None
    upload_failures4xx: Count32 | None = Field(default=None, alias="uploadFailures4xx")
    upload_failures5xx: Count32 | None = Field(default=None, alias="uploadFailures5xx")
    network_failures: Count32 | None = None
    oldest_queued_event_age_sec: Annotated[int, R(0, 2_592_000)] | None = None
