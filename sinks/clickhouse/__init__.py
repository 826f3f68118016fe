"""ClickHouse behind one small interface: embedded (chdb) or server (clickhouse-driver).

``open_backend(settings.clickhouse_url_resolved)`` picks the implementation from the URL:

* ``chdb://DIR`` (or a bare path): :class:`ChdbBackend`, the engine in-process, data in ``DIR``,
  owned by one process at a time (else :class:`StoreLocked`);
* ``clickhouse://user:pass@host:9000/db`` / ``clickhouses://…``: :class:`ServerBackend`.
"""

from __future__ import annotations

from sinks.clickhouse.base import Backend, ClickHouseError, Columnar, StoreLocked, encode_param
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.server_backend import ServerBackend

__all__ = [
    "Backend",
    "ChdbBackend",
    "ClickHouseError",
    "Columnar",
    "ServerBackend",
    "StoreLocked",
    "encode_param",
    "open_backend",
]


def open_backend(url: str) -> Backend:
    """Open the backend a ClickHouse URL names (see the module docstring)."""
    if url.startswith("chdb://"):
        directory = url.removeprefix("chdb://")
        if not directory:
            raise ValueError("chdb:// URL without a directory")
        return ChdbBackend(directory)
    if url.startswith(("clickhouse://", "clickhouses://")):
        return ServerBackend(url)
    if "://" not in url and url:
        return ChdbBackend(url)
    raise ValueError(
        f"unsupported ClickHouse URL {url!r}: use chdb://DIR or clickhouse://user:pass@host:9000/db"
    )
