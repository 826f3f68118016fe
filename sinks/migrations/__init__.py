"""ClickHouse DDL as code: numbered migrations, applied in order, each at most once.

Each ``mNNNN_<name>.py`` has ``NAME`` and ``up(ctx) -> list[str]`` (statements built from the
settings via :class:`MigrationContext`). :func:`migrate` records applied ids in
``<database>.schema_migrations``; statements use ``IF NOT EXISTS`` so a migration interrupted
half-way is simply re-run. The same migrations run on both backends (standard ClickHouse SQL).
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
from dataclasses import dataclass
from types import ModuleType

from fleetpulse.settings import Settings
from sinks.clickhouse.base import Backend
from sinks.migrations.context import MigrationContext

__all__ = ["Migration", "MigrationContext", "discover", "migrate"]

_MODULE_RE = re.compile(r"^m(\d{4})_([a-z0-9_]+)$")


@dataclass(frozen=True, slots=True)
class Migration:
    id: int
    name: str
    module: ModuleType

    def statements(self, ctx: MigrationContext) -> list[str]:
        result: list[str] = self.module.up(ctx)
        return result


def discover() -> list[Migration]:
    """Every migration module of this package, ordered by number (repeats rejected).

    Numbers may leave gaps: parallel branches are each assigned their own numbers, so a branch
    can hold ``m0011`` before ``m0005`` has merged; each migration is applied once, by id.
    """
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        match = _MODULE_RE.match(info.name)
        if match:
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(Migration(int(match.group(1)), match.group(2), module))
    found.sort(key=lambda m: m.id)
    ids = [m.id for m in found]
    if len(set(ids)) != len(ids) or (ids and ids[0] < 1):
        raise RuntimeError(f"migration numbers must be unique and >= 1, found {ids}")
    return found


def migrate(backend: Backend, settings: Settings) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied (``"0001_raw_events"``)."""
    ctx = MigrationContext.from_settings(settings)
    db = ctx.database
    backend.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    backend.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(id UInt32, name String, applied_at DateTime64(3, 'UTC')) "
        "ENGINE = ReplacingMergeTree(applied_at) ORDER BY id"
    )
    done = {row[0] for row in backend.query(f"SELECT id FROM {db}.schema_migrations")}
    applied: list[str] = []
    for migration in discover():
        if migration.id in done:
            continue
        for statement in migration.statements(ctx):
            backend.execute(statement)
        backend.insert(
            f"{db}.schema_migrations",
            ["id", "name", "applied_at"],
            [(migration.id, migration.name, dt.datetime.now(dt.UTC))],
        )
        applied.append(f"{migration.id:04d}_{migration.name}")
    # analysts write `FROM boot_events`: the owner's session reads our database by default
    backend.execute(f"USE {db}")
    return applied
