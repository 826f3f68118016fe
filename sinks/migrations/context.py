"""What a migration may read: names and retention, taken from the settings once."""

from __future__ import annotations

from dataclasses import dataclass

from fleetpulse.settings import Settings
from sinks.clickhouse.base import check_identifier


@dataclass(frozen=True, slots=True)
class MigrationContext:
    """The inputs of every ``up(ctx)``; DDL is built from these and nothing else."""

    database: str
    raw_ttl_days: int
    aggregate_ttl_days: int
    sketch_alpha: float = 0.005  # the processors' DDSketch alpha: bucket k stands for 2*gamma^k/(gamma+1)

    def __post_init__(self) -> None:
        check_identifier(self.database)
        if "." in self.database:
            raise ValueError(f"database name {self.database!r} must not contain '.'")

    @classmethod
    def from_settings(cls, settings: Settings) -> MigrationContext:
        return cls(
            settings.clickhouse_database,
            settings.raw_ttl_days,
            settings.aggregate_ttl_days,
            settings.sink_sketch_alpha,
        )
