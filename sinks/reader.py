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
from sinks.clickhouse.base import Backend
from sinks.scope import ScopeError, check_tenant_name, scoped_query_json


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

    def query_json(
        self, sql: str, params: dict[str, Any] | None = None, *, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        """``tenant``: the server scopes the read to it (sinks/scope.py)."""
        doc: dict[str, Any] = {"sql": sql, "params": params or {}}
        if tenant is not None:
            doc["tenant"] = tenant
        body = orjson.dumps(doc)
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


class ScopedReader:
    """Every read as one tenant: through the read server (which scopes it), or scoped here."""

    def __init__(self, inner: RemoteReader | Backend, tenant: str, settings: Settings) -> None:
        self.inner = inner
        self.tenant = tenant
        self.database = settings.clickhouse_database
        self.max_execution_time_s = settings.read_max_execution_time_s

    def query_json(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if isinstance(self.inner, RemoteReader):
            return self.inner.query_json(sql, params, tenant=self.tenant)
        try:
            return scoped_query_json(
                self.inner, sql, params, tenant=self.tenant, database=self.database,
                max_execution_time_s=self.max_execution_time_s,
            )  # fmt: skip
        except ScopeError as exc:
            raise QueryError(str(exc)) from exc

    def close(self) -> None:
        self.inner.close()


def open_reader(settings: Settings, tenant: str | None = None) -> Reader:
    """The running stack's sink when there is one, else the store itself (which may be locked).

    With ``tenant`` (a configured tenant name) every read is scoped to that tenant by ClickHouse.
    """
    if tenant is not None:
        check_tenant_name(tenant, {t.name for t in settings.tenants.values()})
    sink_url = read_endpoints(settings.data_dir).get("sink")
    inner: RemoteReader | Backend
    if sink_url:
        inner = RemoteReader(sink_url)
    else:
        from sinks.clickhouse import open_backend

        inner = open_backend(settings.clickhouse_url_resolved)
        from sinks.migrations import migrate

        migrate(inner, settings)  # idempotent; also makes our database the session's default
    return inner if tenant is None else ScopedReader(inner, tenant, settings)
