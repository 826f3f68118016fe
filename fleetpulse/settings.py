"""The one frozen settings object of a fleetpulse process.

Built once in ``main()`` (or a test) with :func:`load_settings` and passed down; no other
module reads the environment. Every field can be set as ``FLEETPULSE_<FIELD NAME>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.insights.config import InsightsConfig

IKEY_RE = re.compile(r"^o:[0-9a-f]{32}$")

DEMO_API_KEY = "demo-key-contoso"
DEMO_IKEY = "o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f"


class Tenant(BaseModel):
    """A tenant bound to an API key: its name and the iKeys its agents may send."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    ikeys: tuple[str, ...]

    @field_validator("ikeys")
    @classmethod
    def _ikeys_well_formed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ikey in value:
            if not IKEY_RE.match(ikey):
                raise ValueError(f"iKey {ikey!r} is not 'o:' + 32 lower-case hex")
        return value


class AnalystToken(BaseModel):
    """What an analyst token grants: one tenant, one role (fleetpulse/access.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    tenant: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    role: Literal["reader", "admin"] = "reader"


def _demo_tenants() -> dict[str, Tenant]:
    return {DEMO_API_KEY: Tenant(name="contoso", ikeys=(DEMO_IKEY,))}


class Settings(BaseSettings):
    """Everything a fleetpulse process may be told, validated and frozen."""

    model_config = SettingsConfigDict(env_prefix="FLEETPULSE_", frozen=True, extra="forbid")

    # -- where the local stack keeps everything
    data_dir: Path = Path(".fleetpulse")

    # -- Kafka
    kafka_bootstrap: str = ""  # empty: `fleetpulse up` starts the local broker
    kafka_version: str = "4.1.1"
    kafka_heap_mb: int = Field(default=512, ge=128)
    topic_events: str = "telemetry.events.v1"
    topic_dlq: str = "telemetry.dlq.v1"
    topic_aggregates: str = "telemetry.aggregates.v1"
    topic_regressions: str = "telemetry.regressions.v1"
    partitions_events: int = Field(default=6, ge=1)
    partitions_dlq: int = Field(default=2, ge=1)
    partitions_aggregates: int = Field(default=6, ge=1)
    partitions_regressions: int = Field(default=1, ge=1)

    # -- ClickHouse: chdb://DIR (embedded) or clickhouse://user:pass@host:9000/db (server)
    clickhouse_url: str = ""
    clickhouse_database: str = "fleetpulse"
    raw_ttl_days: int = Field(default=400, ge=1)
    aggregate_ttl_days: int = Field(default=800, ge=1)

    # -- HTTP ports (0 picks a free port)
    collector_host: str = "127.0.0.1"
    collector_port: int = Field(default=8080, ge=0, le=65535)
    processor_metrics_port: int = Field(default=8081, ge=0, le=65535)
    sink_port: int = Field(default=8082, ge=0, le=65535)

    # -- tenants: {"<api key>": {"name": "contoso", "ikeys": ["o:<32 hex>"]}}
    tenants: dict[str, Tenant] = Field(default_factory=_demo_tenants)

    log_level: str = "INFO"

    # -- collector (ingest/): limits, dedup window, producer queue and backpressure
    collector_max_body_bytes: int = Field(default=3 * 1024 * 1024, ge=1024)  # compressed, as sent
    collector_max_decoded_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)  # after decompression
    collector_max_expansion: int = Field(default=20, ge=1)  # decoded <= this x compressed size
    collector_max_records: int = Field(default=500, ge=1)  # records per request
    collector_max_record_bytes: int = Field(default=64 * 1024, ge=256)  # one NDJSON line
    collector_dlq_max_value_bytes: int = Field(default=64 * 1024, ge=256)  # raw line kept in the DLQ
    collector_dedup_max_entries: int = Field(default=2_000_000, ge=1)  # identities remembered
    collector_dedup_window_s: float = Field(default=24 * 3600.0, gt=0)  # and for at most this long
    collector_dedup_warm_s: float = Field(default=300.0, ge=0)  # start-up: remember the topic's last N s
    collector_queue_max_messages: int = Field(default=200_000, ge=1)  # librdkafka local queue
    collector_queue_max_kbytes: int = Field(default=256 * 1024, ge=1)  # librdkafka local queue
    collector_inflight_high_water: float = Field(default=0.8, gt=0, le=1)  # 503 above this share
    collector_linger_ms: int = Field(default=10, ge=0)
    collector_batch_bytes: int = Field(default=1_000_000, ge=1)
    collector_delivery_timeout_ms: int = Field(default=30_000, ge=1000)  # librdkafka message.timeout.ms
    collector_retry_after_s: int = Field(default=5, ge=1)  # Retry-After on 503
    collector_health_interval_s: float = Field(default=5.0, gt=0)  # metadata probe period
    collector_health_max_age_s: float = Field(default=15.0, gt=0)  # probe older than this: unhealthy
    collector_shutdown_timeout_s: float = Field(default=20.0, gt=0)  # drain + flush deadline

    # -- sink (sinks/): Kafka -> ClickHouse writer, epochs, backoff, shutdown
    sink_group_id: str = "fleetpulse-sink"
    sink_epoch_max_rows: int = Field(default=50_000, ge=1)  # rows (= messages) per epoch
    sink_epoch_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)  # message bytes per epoch
    sink_epoch_max_s: float = Field(default=1.0, gt=0)  # close an epoch this long after its first message
    sink_consume_batch: int = Field(default=5_000, ge=1)  # messages per consume() call
    sink_retry_initial_s: float = Field(default=0.5, gt=0)  # first backoff after a failed insert
    sink_retry_max_s: float = Field(default=30.0, gt=0)  # backoff ceiling
    sink_shutdown_timeout_s: float = Field(default=20.0, gt=0)  # SIGTERM: flush + commit deadline
    sink_sketch_alpha: float = Field(default=0.005, gt=0, lt=1)  # = the processors' DDSketch alpha
    # fault injection (tests only): os._exit(137) after an epoch's inserts, before its commit
    sink_fault_crash_after_insert: bool = False

    # -- faults (tests and the soak only, never in production; docs/reliability.md, sinks/faults.py)
    sink_fault_outage_after_s: float = Field(default=0.0, ge=0)  # outage opens this long after start
    sink_fault_outage_s: float = Field(default=0.0, ge=0)  # and lasts this long (0: no outage)

    # -- processors (processors/): faust workers, windows, regression detection
    processor_app_id: str = "fleetpulse-processors"
    # all: one process does both stages (the local stack); aggregates: stage 1 only, scale freely;
    # regressions: stage 2 only, exactly one worker (a tenant's days need every device-daily partition)
    processor_role: Literal["all", "aggregates", "regressions"] = "all"
    processor_batch_max: int = Field(default=20_000, ge=1)  # events per take_events batch
    processor_batch_s: float = Field(default=2.0, gt=0)  # or this long, whichever first
    processor_producer_linger_ms: int = Field(default=50, ge=0)  # fill produce requests
    # a killed worker's partitions wait this long before a restarted or other worker gets them
    processor_session_timeout_s: float = Field(default=60.0, ge=6.0)
    processor_max_lateness_h: float = Field(default=96.0, gt=0)  # late events accepted this long
    processor_window_grace_h: float = Field(default=1.0, ge=0)  # hour windows kept lateness + grace
    processor_day_retention_days: int = Field(default=30, ge=2)  # daily cells / device days kept
    topic_device_daily: str = "telemetry.device-daily.v1"  # internal: stage 1 -> stage 2
    topic_baselines: str = "telemetry.baselines.v1"  # compacted: named baselines
    regression_metrics: tuple[str, ...] = (
        "core_boot_ms", "gp_boot_ms", "core_logon_ms", "gp_logon_ms", "total_logon_ms",
    )  # fmt: skip
    regression_scopes: tuple[str, ...] = ("fleet", "model", "os_build")
    regression_current_days: int = Field(default=5, ge=1)
    regression_trailing_days: int = Field(default=14, ge=2)
    regression_threshold: float = Field(default=0.10, gt=0)
    regression_alpha: float = Field(default=0.01, gt=0, lt=1)
    regression_fdr: float = Field(default=0.05, gt=0, lt=1)  # Benjamini-Hochberg level per evaluation
    regression_min_devices: int = Field(default=5, ge=2)
    regression_min_crashes: int = Field(default=5, ge=1)  # app versions: crashes in the current period
    regression_recover_after: int = Field(default=2, ge=1)  # evaluations back within the threshold

    # -- security (docs/security.md): TLS, per-key rate limits, sink DLQ limit, analyst reads
    collector_tls_cert_file: Path | None = None  # PEM certificate chain; with the key file: serve https
    collector_tls_key_file: Path | None = None  # PEM private key of that certificate
    collector_rate_records_per_s: float = Field(default=100_000.0, ge=0)  # per API key; 0: no limit
    collector_rate_requests_per_s: float = Field(default=2_000.0, ge=0)  # per API key; 0: no limit
    collector_rate_burst_s: float = Field(default=2.0, gt=0)  # bucket size = rate x this many seconds
    sink_dlq_max_invalid_ratio: float = Field(default=0.05, ge=0, le=1)  # per partition, bad / seen
    sink_dlq_max_consecutive: int = Field(default=100, ge=0)  # per partition, bad in a row
    sink_dlq_min_messages: int = Field(default=1_000, ge=1)  # the ratio applies from this many seen
    read_max_execution_time_s: float = Field(default=60.0, gt=0)  # analyst queries (sql, reports)

    # -- read access (fleetpulse/access.py, docs/security.md): analyst tokens and the CLI's own token
    # {"<token or sha256:<64 hex>>": {"name": "alice", "tenant": "contoso", "role": "reader"}}
    analyst_tokens: dict[str, AnalystToken] = Field(default_factory=dict)
    token: SecretStr = SecretStr("")  # the CLI's credential; empty: the operator token in data_dir

    # -- replay (ingest/replay.py, docs/security.md "Replaying the DLQ")
    replay_group_id: str = "fleetpulse-replay-dlq"  # consumer group of `fleetpulse replay-dlq`
    replay_batch: int = Field(default=500, ge=1)  # DLQ records per consume / flush / commit
    replay_dedup_warm_s: float = Field(default=24 * 3600.0, ge=0)  # dedup: the events topic's last N s
    replay_dedup_warm_timeout_s: float = Field(default=300.0, gt=0)  # warm-up deadline (then partial)

    # -- issue 17: the analysts' web console (fleetpulse/console/, docs/console.md)
    console_host: str = "127.0.0.1"  # loopback by default: the console shows every figure of a tenant
    console_port: int = Field(default=8083, ge=0, le=65535)  # 0 picks a free port
    console_sink_url: str = ""  # the store owner's read API; empty: the running stack's sink (DATA_DIR)
    console_session_hours: float = Field(default=12.0, gt=0)  # a sign-in lasts this long
    console_cache_s: float = Field(default=15.0, ge=0)  # a page's figures are reused this long (0: never)
    console_read_timeout_s: float = Field(default=60.0, gt=0)  # one read through the store owner

    # -- issue 19: Kafka cluster (deploy/kafka_cluster.py, docs/operations.md "The Kafka cluster")
    kafka_brokers: int = Field(default=1, ge=1, le=9)  # nodes `fleetpulse up` starts; 1: one broker
    kafka_replication_factor: int = Field(default=0, ge=0)  # topics' replicas; 0: min(3, brokers)
    kafka_min_insync_replicas: int = Field(default=0, ge=0)  # 0: 2 from 3 replicas on, else 1

    # -- issue 18: Endpoint analytics insights (processors/insights/config.py, docs/analytics.md §9-15)
    # FLEETPULSE_INSIGHTS='{"battery": {"replace_below_pct": 50}}': a partial object keeps the defaults
    insights: InsightsConfig = Field(default_factory=InsightsConfig)

    @field_validator("tenants")
    @classmethod
    def _hashed_keys_well_formed(cls, value: dict[str, Tenant]) -> dict[str, Tenant]:
        """A key ``sha256:<64 hex>`` is a pre-hashed API key (ingest/auth.py); any other is the key."""
        for key in value:
            if key.startswith("sha256:") and not re.fullmatch(r"sha256:[0-9a-fA-F]{64}", key):
                raise ValueError("a 'sha256:' tenant key must be followed by 64 hex digits")
        return value

    @property
    def clickhouse_url_resolved(self) -> str:
        """The ClickHouse URL, defaulting to an embedded store under ``data_dir``."""
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    def topic_partitions(self) -> dict[str, int]:
        """Every topic the pipeline uses, with its partition count."""
        return {
            self.topic_events: self.partitions_events,
            self.topic_dlq: self.partitions_dlq,
            self.topic_aggregates: self.partitions_aggregates,
            self.topic_regressions: self.partitions_regressions,
        }


def load_settings(**overrides: object) -> Settings:
    """Read the environment (``FLEETPULSE_*``) once; keyword overrides win (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings accepts any field
