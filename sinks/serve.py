"""Reads over loopback for the process that owns the ClickHouse store.

An embedded (chdb) store can be open in one process only; that process (the sink) serves
``POST /v1/query`` so the CLI's ``sql`` and reports can read while it writes. Queries run on one
worker thread, one at a time, with parameters bound by ClickHouse, never pasted into SQL.

``POST /v1/query``  body ``{"sql": "...", "params": {"name": value}, "tenant": "name"}`` ->
``{"columns": [...], "rows": [[...], ...]}``, or 400 ``{"error": "..."}``. With ``tenant`` (a
configured tenant name) the read is scoped to it by ClickHouse (sinks/scope.py: one SELECT over the
tenant tables, ``additional_table_filters``); without it the read is unscoped: the server listens
on loopback only and trusts the local host (docs/security.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from sinks.clickhouse import Backend
from sinks.scope import ScopeError, check_tenant_name, scoped_query_json

BACKEND_KEY = web.AppKey("backend", Backend)
EXECUTOR_KEY = web.AppKey("executor", ThreadPoolExecutor)
REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)
HealthCheck = Callable[[], bool]
HEALTH_KEY: web.AppKey[HealthCheck] = web.AppKey("health")


@dataclass(frozen=True)
class ScopePolicy:
    """What the server knows to scope reads: the configured tenant names and the database."""

    tenant_names: frozenset[str] = frozenset()
    database: str = "fleetpulse"
    max_execution_time_s: float = 60.0


@dataclass(frozen=True)
class ReadScope:
    tenant: str
    database: str
    max_execution_time_s: float


SCOPE_KEY = web.AppKey("scope", ScopePolicy)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def run_query(
    backend: Backend, sql: str, params: dict[str, Any], scope: ReadScope | None = None
) -> dict[str, Any]:
    """Run one read and shape it as columns + rows (the wire form of ``/v1/query``)."""
    if scope is None:
        rows = backend.query_json(sql, params)
    else:
        rows = scoped_query_json(
            backend, sql, params, tenant=scope.tenant, database=scope.database,
            max_execution_time_s=scope.max_execution_time_s,
        )  # fmt: skip
    columns = list(rows[0]) if rows else []
    return {"columns": columns, "rows": [list(r.values()) for r in rows]}


async def _query(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await request.read())
        sql, params, tenant = body["sql"], body.get("params") or {}, body.get("tenant")
        if not isinstance(sql, str) or not isinstance(params, dict):
            raise TypeError("sql must be a string and params an object")
        scope = None
        if tenant is not None:
            if not isinstance(tenant, str):
                raise TypeError("tenant must be a string")
            policy = request.app[SCOPE_KEY]
            check_tenant_name(tenant, policy.tenant_names)
            scope = ReadScope(tenant, policy.database, policy.max_execution_time_s)
    except (orjson.JSONDecodeError, KeyError, TypeError, ScopeError) as exc:
        return web.Response(
            status=400, body=_dumps({"error": f"bad request: {exc}"}), content_type="application/json"
        )
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(
            request.app[EXECUTOR_KEY], run_query, request.app[BACKEND_KEY], sql, params, scope
        )
    except Exception as exc:  # a bad query is the client's error, never the server's end
        return web.Response(status=400, body=_dumps({"error": str(exc)}), content_type="application/json")
    return web.Response(body=_dumps(result), content_type="application/json")


async def _healthz(request: web.Request) -> web.Response:
    if not request.app[HEALTH_KEY]():
        return web.Response(status=503, text="not ready\n")
    return web.Response(text="ok\n")


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[REGISTRY_KEY]), content_type="text/plain")


def make_read_app(
    backend: Backend,
    registry: CollectorRegistry,
    executor: ThreadPoolExecutor,
    health: Callable[[], bool] | None = None,
    scope: ScopePolicy | None = None,
) -> web.Application:
    """``health``: what ``/healthz`` answers 200 for (default: always, the store being open);
    ``scope``: the tenants a request's ``tenant`` may name (default: none, scoped reads refused)."""
    app = web.Application(client_max_size=1024 * 1024)
    app[SCOPE_KEY] = scope or ScopePolicy()
    app[HEALTH_KEY] = health or (lambda: True)
    app[BACKEND_KEY] = backend
    app[EXECUTOR_KEY] = executor
    app[REGISTRY_KEY] = registry
    app.router.add_post("/v1/query", _query)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app
