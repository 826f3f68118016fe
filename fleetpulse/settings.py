"""The one frozen settings object of a fleetpulse process.

Built once in ``main()`` (or a test) with :func:`load_settings` and passed down; no other
module reads the environment. Every field can be set as ``FLEETPULSE_<FIELD NAME>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
