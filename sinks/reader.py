"""How the CLI reads ClickHouse: through the store's owner when one runs, else directly.

Reports and ``sql`` call :func:`open_reader` and use ``query_json(sql, params)``; they never
learn whether the rows came over loopback from the sink or from a store they opened.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any, Protocol

import orjson

from fleetpulse.runfile import read_endpoints
from fleetpulse.settings import Settings


class Reader(Protocol):
    def query_json(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class QueryError(RuntimeError):
    """ClickHouse refused the query (bad SQL, unknown table, bad parameter)."""


class RemoteReader:
    """Reads through the store owner's ``POST /v1/query``."""

    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def query_json(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body = orjson.dumps({"sql": sql, "params": params or {}})
        request = urllib.request.Request(
            f"{self.base_url}/v1/query",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                doc = orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise QueryError(orjson.loads(exc.read()).get("error", str(exc))) from exc
        columns: list[str] = doc["columns"]
        return [dict(zip(columns, row, strict=True)) for row in doc["rows"]]

    def close(self) -> None:
        """Nothing to release: each query is one HTTP request."""


def open_reader(settings: Settings) -> Reader:
    """The running stack's sink when there is one, else the store itself (which may be locked)."""
    sink_url = read_endpoints(settings.data_dir).get("sink")
    if sink_url:
        return RemoteReader(sink_url)
    from sinks.clickhouse import open_backend

    return open_backend(settings.clickhouse_url_resolved)
