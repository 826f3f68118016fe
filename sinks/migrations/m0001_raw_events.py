"""Raw events: one MergeTree table per event family, envelope + typed ``data`` + Kafka origin.

Column names are the ``data`` field names in snake_case (``totalBootMs`` → ``total_boot_ms``),
as the pydantic models in ``schemas/`` name them. ``Nullable`` exactly where the contract says
optional. Tables dedupe repeated inserts by ``insert_deduplication_token`` (window of 1000
blocks), which the sink derives from topic-partition-offset ranges.

:data:`FAMILIES` is the current raw schema the sink writes: a fresh store is created with it;
columns added later reach existing stores through their own migration (m0011: the census's
work-from-anywhere fields and the startup processes' ``version``), in the same positions.
"""

from __future__ import annotations

from sinks.migrations.context import MigrationContext

NAME = "raw_events"

DT = "DateTime64(3, 'UTC')"
TIME = f"{DT} CODEC(Delta, ZSTD(1))"
OPT_TIME = f"Nullable({DT}) CODEC(ZSTD(1))"
LC = "LowCardinality(String)"
OPT_LC = "LowCardinality(Nullable(String))"
MS = "UInt32 CODEC(T64, ZSTD(1))"
OPT_MS = "Nullable(UInt32) CODEC(T64, ZSTD(1))"
STR = "String CODEC(ZSTD(1))"
OPT_STR = "Nullable(String) CODEC(ZSTD(1))"

ENVELOPE: tuple[tuple[str, str], ...] = (
    ("tenant", LC),
    ("ikey", LC),
    ("device_id", "String CODEC(ZSTD(3))"),
    ("event_time", f"{DT} CODEC(Delta, ZSTD(1))"),
    ("received_at", f"{DT} CODEC(Delta, ZSTD(1))"),
    ("epoch", "String CODEC(ZSTD(3))"),
    ("seq", "UInt64 CODEC(DoubleDelta, ZSTD(1))"),
    ("boot_id", "UInt32 CODEC(DoubleDelta, ZSTD(1))"),
    ("os_ver", LC),
    ("sdk_ver", LC),
    ("dev_make", LC),
    ("dev_model", LC),
)

ORIGIN: tuple[tuple[str, str], ...] = (
    ("kafka_partition", "UInt16 CODEC(T64, ZSTD(1))"),
    ("kafka_offset", "UInt64 CODEC(Delta, ZSTD(1))"),
    ("inserted_at", f"{DT} DEFAULT now64(3) CODEC(DoubleDelta, ZSTD(1))"),
)

# table -> (event name, data columns)
FAMILIES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "boot_events": (
        "Fleet.Boot.Performance",
        (
            ("boot_start_time", TIME),
            ("is_reboot_after_update", "Bool"),
            ("total_boot_ms", MS),
            ("core_boot_ms", MS),
            ("boot_kind", OPT_LC),
            ("main_path_ms", OPT_MS),
            ("post_boot_ms", OPT_MS),
            ("gp_boot_ms", OPT_MS),
            ("update_ms", OPT_MS),
            ("os_loader_ms", OPT_MS),
            ("kernel_init_ms", OPT_MS),
            ("driver_init_ms", OPT_MS),
            ("smss_init_ms", OPT_MS),
            ("critical_services_init_ms", OPT_MS),
            ("user_logon_wait_ms", OPT_MS),
            ("user_profile_processing_ms", OPT_MS),
            ("explorer_init_ms", OPT_MS),
            ("num_startup_apps", "Nullable(UInt16)"),
            (
                "slow_components",
                "Array(Tuple(kind LowCardinality(String), name String, version String, "
                "total_ms UInt32, degradation_ms UInt32)) CODEC(ZSTD(1))",
            ),
        ),
    ),
    "logon_events": (
        "Fleet.Logon.Performance",
        (
            ("user_id", "String CODEC(ZSTD(1))"),
            ("logon_id", "UUID"),
            ("logon_start_time", TIME),
            ("user_type", LC),
            ("is_first_logon_after_boot", "Bool"),
            ("is_first_logon_for_user", "Bool"),
            ("is_after_feature_update", "Bool"),
            ("core_logon_ms", MS),
            ("desktop_shown_ms", MS),
            ("gp_logon_ms", OPT_MS),
            ("responsive_desktop_ms", OPT_MS),
            ("total_logon_ms", OPT_MS),
            ("profile_load_ms", OPT_MS),
            (
                "top_startup_processes",
                "Array(Tuple(name String, publisher String, cpu_percent Float32, version String))"
                " CODEC(ZSTD(1))",
            ),
        ),
    ),
    "power_transitions": (
        "Fleet.Power.Transition",
        (
            ("previous_boot_id", "UInt32 CODEC(DoubleDelta, ZSTD(1))"),
            ("category", LC),
            ("is_abnormal", "Bool"),
            ("shutdown_start_time", OPT_TIME),
            ("shutdown_ms", OPT_MS),
            ("previous_boot_uptime_ms", "Nullable(UInt64) CODEC(ZSTD(1))"),
            ("power_button_time", OPT_TIME),
        ),
    ),
    "stop_errors": (
        "Fleet.Fault.StopError",
        (
            ("source", LC),
            ("crash_boot_id", "UInt32 CODEC(DoubleDelta, ZSTD(1))"),
            ("bug_check_code", LC),
            ("bug_check_parameter1", STR),
            ("bug_check_parameter2", STR),
            ("bug_check_parameter3", STR),
            ("bug_check_parameter4", STR),
            ("report_id", "Nullable(UUID)"),
            ("crash_time", OPT_TIME),
            ("faulting_module", OPT_LC),
            ("fault_bucket", OPT_STR),
            ("is_valid_dump", "Nullable(Bool)"),
        ),
    ),
    "app_crashes": (
        "Fleet.Fault.AppCrash",
        (
            ("report_id", "UUID"),
            ("app_name", LC),
            ("app_version", LC),
            ("mod_name", LC),
            ("mod_version", LC),
            ("exception_code", LC),
            ("exception_offset", STR),
            ("is_fatal", "Bool"),
            ("process_architecture", "UInt8"),
            ("app_publisher", OPT_LC),
            ("friendly_app_name", OPT_LC),
            ("package_full_name", OPT_LC),
            ("process_create_time", OPT_TIME),
            ("app_session_guid", "Nullable(UUID)"),
        ),
    ),
    "app_hangs": (
        "Fleet.Fault.AppHang",
        (
            ("report_id", "UUID"),
            ("app_name", LC),
            ("app_version", LC),
            ("is_fatal", "Bool"),
            ("process_architecture", "UInt8"),
            ("app_publisher", OPT_LC),
            ("waiting_on_app_name", OPT_LC),
            ("hang_duration_ms", OPT_MS),
            ("process_create_time", OPT_TIME),
        ),
    ),
    "app_usage": (
        "Fleet.App.UsageSummary",
        (
            ("app_name", LC),
            ("app_version", LC),
            ("app_session_id", "UUID"),
            ("aggregation_start_time", TIME),
            ("aggregation_duration_ms", MS),
            ("in_focus_duration_ms", MS),
            ("user_active_duration_ms", MS),
            ("app_publisher", OPT_LC),
            ("keyboard_input_sec", OPT_MS),
            ("mouse_input_sec", OPT_MS),
            ("audio_out_ms", OPT_MS),
            ("focus_lost_count", OPT_MS),
        ),
    ),
    "resource_usage": (
        "Fleet.Resource.UsageSummary",
        (
            ("window_start", TIME),
            ("window_duration_ms", MS),
            ("usage_duration_ms", MS),
            ("cpu_spike_ms", MS),
            ("ram_spike_ms", MS),
            ("spike_threshold_percent", "Nullable(UInt8)"),
            ("cpu_avg_percent", "Nullable(Float32) CODEC(ZSTD(1))"),
            ("cpu_p95_percent", "Nullable(Float32) CODEC(ZSTD(1))"),
            ("ram_avg_percent", "Nullable(Float32) CODEC(ZSTD(1))"),
            ("ram_peak_percent", "Nullable(Float32) CODEC(ZSTD(1))"),
            ("top_cpu_processes", "Array(Tuple(name String, cpu_percent Float32)) CODEC(ZSTD(1))"),
        ),
    ),
    "battery_snapshots": (
        "Fleet.Power.BatterySnapshot",
        (
            ("design_capacity_mwh", "UInt32 CODEC(ZSTD(1))"),
            ("full_charge_capacity_mwh", "UInt32 CODEC(ZSTD(1))"),
            ("charge_percent", "UInt8"),
            ("ac_online", "Bool"),
            ("is_discharging", "Bool"),
            ("remaining_capacity_mwh", "Nullable(UInt32) CODEC(ZSTD(1))"),
            ("discharge_rate_mw", "Nullable(Int32) CODEC(ZSTD(1))"),
            ("cycle_count", "Nullable(UInt32) CODEC(ZSTD(1))"),
            ("window_duration_ms", OPT_MS),
            ("energy_drained_mwh", "Nullable(UInt32) CODEC(ZSTD(1))"),
        ),
    ),
    "census": (
        "Fleet.Census.Device",
        (
            ("oem_manufacturer_name", LC),
            ("oem_model_number", LC),
            ("oem_model_sku", OPT_LC),
            ("chassis_type", "Nullable(UInt8)"),
            ("firmware_type", OPT_LC),
            ("firmware_version", OPT_LC),
            ("os_edition", LC),
            ("os_build", LC),
            ("processor_model", LC),
            ("processor_physical_cores", "UInt16"),
            ("processor_logical_cores", "UInt16"),
            ("total_physical_ram_mb", "UInt32 CODEC(ZSTD(1))"),
            ("primary_disk_total_capacity_mb", "UInt32 CODEC(ZSTD(1))"),
            ("primary_disk_media_type", LC),
            ("tpm_version_major", "UInt8"),
            ("has_battery", "Bool"),
            ("secure_boot_enabled", "Nullable(Bool)"),
            ("machine_type", OPT_LC),
            ("battery_design_capacity_mwh", "Nullable(UInt32) CODEC(ZSTD(1))"),
            ("battery_full_charge_capacity_mwh", "Nullable(UInt32) CODEC(ZSTD(1))"),
            ("battery_cycle_count", "Nullable(UInt32) CODEC(ZSTD(1))"),
            # work-from-anywhere fields; m0011 adds them (and startup process versions) to older stores
            ("join_type", OPT_LC),
            ("management_type", OPT_LC),
            ("autopilot_profile", OPT_LC),
            ("is_cloud_pc", "Nullable(Bool)"),
        ),
    ),
    "inventory": (
        "Fleet.Inventory.AppAdd",
        (
            ("app_name", LC),
            ("app_version", LC),
            ("source", LC),
            ("app_publisher", OPT_LC),
            ("display_name", OPT_LC),
            ("package_full_name", OPT_LC),
            ("install_date", "Nullable(Date)"),
        ),
    ),
    "config_changes": (
        "Fleet.Config.Change",
        (
            ("change_type", LC),
            ("change_id", LC),
            ("change_name", LC),
            ("applied_time", TIME),
            ("from_version", OPT_LC),
            ("to_version", OPT_LC),
            ("deployment_id", OPT_LC),
        ),
    ),
    "heartbeats": (
        "Fleet.Agent.Heartbeat",
        (
            ("heartbeat_seq", "UInt64 CODEC(DoubleDelta, ZSTD(1))"),
            ("events_generated", "UInt64 CODEC(T64, ZSTD(1))"),
            ("events_uploaded", "UInt64 CODEC(T64, ZSTD(1))"),
            ("events_queued", "UInt64 CODEC(T64, ZSTD(1))"),
            ("events_dropped_queue_full", "UInt64 CODEC(T64, ZSTD(1))"),
            ("upload_attempts", "UInt64 CODEC(T64, ZSTD(1))"),
            ("previous_heartbeat_time", OPT_TIME),
            ("events_dropped_retries_exhausted", "Nullable(UInt64)"),
            ("upload_failures_4xx", "Nullable(UInt64)"),
            ("upload_failures_5xx", "Nullable(UInt64)"),
            ("network_failures", "Nullable(UInt64)"),
            ("oldest_queued_event_age_sec", "Nullable(UInt64)"),
        ),
    ),
}


def create_table(ctx: MigrationContext, table: str, columns: tuple[tuple[str, str], ...]) -> str:
    body = ",\n    ".join(f"{name} {ddl}" for name, ddl in (*ENVELOPE, *columns, *ORIGIN))
    return (
        f"CREATE TABLE IF NOT EXISTS {ctx.database}.{table}\n(\n    {body}\n)\n"
        "ENGINE = MergeTree\n"
        "PARTITION BY toYYYYMM(event_time)\n"
        "ORDER BY (tenant, device_id, event_time, epoch, seq)\n"
        f"TTL toDateTime(event_time) + INTERVAL {ctx.raw_ttl_days} DAY\n"
        "SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1"
    )


def up(ctx: MigrationContext) -> list[str]:
    return [create_table(ctx, table, columns) for table, (_event, columns) in FAMILIES.items()]
