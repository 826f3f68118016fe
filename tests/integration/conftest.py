"""ClickHouse fixtures: a fresh embedded store (chdb) per test module, migrated.

chdb serves one directory per process, so a module's store is closed (and its lock released)
before the next module opens its own; tests in a module share it and use their own tables or
tenants where they need isolation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetpulse.settings import Settings, load_settings
from sinks.clickhouse import Backend, open_backend
from sinks.migrations import migrate


@pytest.fixture(scope="module")
def clickhouse_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("clickhouse")
    return load_settings(
        data_dir=data_dir, clickhouse_url=f"chdb://{data_dir / 'store'}", clickhouse_database="fleetpulse"
    )


@pytest.fixture(scope="module")
def clickhouse(clickhouse_settings: Settings) -> Iterator[Backend]:
    """An embedded ClickHouse with every migration applied; closed at the end of the module."""
    backend = open_backend(clickhouse_settings.clickhouse_url_resolved)
    try:
        migrate(backend, clickhouse_settings)
        yield backend
    finally:
        backend.close()
