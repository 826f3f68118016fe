"""Tenant-scoped reads: ClickHouse itself restricts every fleetpulse table to one tenant.

A scoped read (``fleetpulse sql``, every report, ``POST /v1/query`` with a ``tenant``) runs with
the query setting ``additional_table_filters`` = ``{'<db>.<table>': "tenant = '<name>'"}`` for
every table and view of the database that has a ``tenant`` column. The engine adds the filter to
every read of those tables wherever they appear: subqueries, CTEs, joins, ``UNION``, ``IN``,
scalar subqueries, and the tables inside views (``aggregates_merged``). The analyst's SQL text is
never edited. The tenant name is checked against ``^[A-Za-z0-9_.-]+$`` (and, by callers, the
configured names) before it becomes part of the setting, so it cannot break out of the literal.

A filter can only be escaped by not reading a filtered table, or by changing the setting. Both
are refused before the query runs, by ClickHouse's own parser and analyzer (:func:`check_query`):

* one statement only (no ``;`` except a trailing one: chdb runs multi-statement text);
* the statement is a ``SELECT`` / ``WITH … SELECT`` (``EXPLAIN AST`` top node), with no
  ``SETTINGS`` clause anywhere, no ``FORMAT`` and no ``INTO OUTFILE``;
* every table it reads (``EXPLAIN QUERY TREE``) is one of the filtered tables (or
  ``system.one``, the table of a ``SELECT`` without ``FROM``); no table functions (``merge()``,
  ``remote()``, ``file()``, ``url()``, ``view()``…), no dictionaries or ``joinGet``.

The checks run with the filters already set, so whatever the analyzer evaluates while explaining
(scalar subqueries) is scoped too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from sinks.clickhouse.base import check_identifier

TENANT_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TABLE_NAME = re.compile(r"\btable_name: ([^,\s]+)")
_FUNCTION_NAME = re.compile(r"function_name: (\w+)")
_REFUSED_FUNCTIONS = re.compile(r"^(dict\w*|joinGet\w*|getSubcolumn)$", re.IGNORECASE)
ALWAYS_ALLOWED = frozenset({"system.one"})


class ScopeError(ValueError):
    """The query or the tenant is refused before anything ran; the message says why."""


class SettingsQueryable(Protocol):
    def query_json(
        self, sql: str, params: Mapping[str, Any] | None = None, *, settings: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]: ...


def check_tenant_name(name: str, known: Collection[str] | None = None) -> str:
    """``name`` if it matches the safe pattern (and is among ``known`` when given), else ScopeError."""
    if not TENANT_NAME_RE.match(name):
        raise ScopeError(f"tenant name {name!r} must match {TENANT_NAME_RE.pattern}")
    if known is not None and name not in known:
        raise ScopeError(f"unknown tenant {name!r} (configured: {', '.join(sorted(known)) or 'none'})")
    return name


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tenant_tables(backend: SettingsQueryable, database: str) -> list[str]:
    """``db.table`` for every table and view of ``database`` with a ``tenant`` column."""
    rows = backend.query_json(
        "SELECT DISTINCT table FROM system.columns WHERE database = {db:String} AND name = 'tenant' "
        "ORDER BY table",
        {"db": database},
    )
    return [f"{check_identifier(database)}.{check_identifier(r['table'])}" for r in rows]


def scope_settings(tenant: str, tables: Collection[str], max_execution_time_s: float) -> dict[str, str]:
    """The per-query settings of a scoped read (name -> SQL literal)."""
    check_tenant_name(tenant)
    condition = f"tenant = {_quote(tenant)}"
    filters = ", ".join(f"{_quote(t)}: {_quote(condition)}" for t in sorted(tables))
    return {
        "additional_table_filters": "{" + filters + "}",
        "max_execution_time": repr(float(max_execution_time_s)),
    }


def single_statement(sql: str) -> str:
    """The query without one trailing ``;``; ScopeError if any other ``;`` is left."""
    text = sql.strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    if ";" in text:
        raise ScopeError("one statement only: ';' is refused in a scoped query (use char(59) in strings)")
    if not text:
        raise ScopeError("empty query")
    return text


def _lines(rows: list[dict[str, Any]]) -> list[str]:
    return [str(next(iter(r.values()))) for r in rows]


def check_query(
    backend: SettingsQueryable,
    sql: str,
    params: Mapping[str, Any],
    settings: Mapping[str, str],
    allowed: Collection[str],
) -> None:
    """Refuse anything but one plain SELECT over the filtered tables (see the module docstring)."""
    ast = _lines(backend.query_json(f"EXPLAIN AST {sql}", params, settings=settings))
    if not ast or not ast[0].startswith("SelectWithUnionQuery (children 1)"):
        raise ScopeError("only one SELECT (or WITH … SELECT) is allowed, without FORMAT or INTO OUTFILE")
    for line in ast[1:]:
        node = line.strip().split(" ", 1)[0]
        if node == "Set":
            raise ScopeError("SETTINGS clauses are refused in a scoped query")
        if node == "SelectWithUnionQuery" and not line.strip().startswith(
            "SelectWithUnionQuery (children 1)"
        ):
            raise ScopeError("FORMAT, INTO OUTFILE and SETTINGS are refused in a scoped query")
    tree = _lines(backend.query_json(f"EXPLAIN QUERY TREE {sql}", params, settings=settings))
    for line in tree:
        stripped = line.strip()
        if stripped.startswith("TABLE_FUNCTION"):
            raise ScopeError("table functions (merge, remote, file, url, view, …) are refused")
        if stripped.startswith("TABLE id:"):
            match = _TABLE_NAME.search(stripped)
            name = match.group(1) if match else stripped
            if name not in allowed and name not in ALWAYS_ALLOWED:
                raise ScopeError(f"table {name} is not readable in a scoped query")
        for function in _FUNCTION_NAME.findall(line):
            if _REFUSED_FUNCTIONS.match(function):
                raise ScopeError(f"function {function} is refused in a scoped query")


def scoped_query_json(
    backend: SettingsQueryable,
    sql: str,
    params: Mapping[str, Any] | None,
    *,
    tenant: str,
    database: str,
    max_execution_time_s: float = 60.0,
) -> list[dict[str, Any]]:
    """Run ``sql`` as ``tenant``: checked, then executed with the tenant's table filters."""
    check_tenant_name(tenant)
    text = single_statement(sql)
    tables = tenant_tables(backend, database)
    if not tables:
        raise ScopeError(f"database {database!r} has no tenant tables (not migrated?)")
    settings = scope_settings(tenant, tables, max_execution_time_s)
    bound = dict(params or {})
    check_query(backend, text, bound, settings, tables)
    return backend.query_json(text, bound, settings=settings)
