"""Reads of the processors' results, merged across source partitions (see docs/tables.md).

The ``aggregates`` table holds one row per (cell, source partition) and version; the
``aggregates_merged`` view (migration 0002) reads it with ``FINAL`` and merges the partitions:
counts, sums and devices add up, sketch buckets merge with ``sumMap``, p50/p90/p99 come from the
merged buckets. :func:`aggregates_merged` filters that view with bound parameters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

MERGED_COLUMNS = (
    "tenant, window_kind, window_start, scope_type, scope, metric, count, sum, mean, min, max, "
    "devices, zero_count, source_partitions, p50, p90, p99"
)


class Queryable(Protocol):
    def query_json(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


def aggregates_merged(
    reader: Queryable,
    *,
    tenant: str,
    metric: str,
    window_kind: str = "day",
    scope_type: str | None = None,
    scope: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    database: str = "fleetpulse",
) -> list[dict[str, Any]]:
    """One dict per (window, scope) of ``metric``: merged count, sum, mean, devices, p50/p90/p99."""
    where = ["tenant = {tenant:String}", "metric = {metric:String}", "window_kind = {window_kind:String}"]
    params: dict[str, Any] = {"tenant": tenant, "metric": metric, "window_kind": window_kind}
    if scope_type is not None:
        where.append("scope_type = {scope_type:String}")
        params["scope_type"] = scope_type
    if scope is not None:
        where.append("scope = {scope:String}")
        params["scope"] = scope
    if start is not None:
        where.append("window_start >= {start:DateTime}")
        params["start"] = start
    if end is not None:
        where.append("window_start < {end:DateTime}")
        params["end"] = end
    sql = (
        f"SELECT {MERGED_COLUMNS} FROM {database}.aggregates_merged WHERE {' AND '.join(where)}"
        " ORDER BY window_start, scope_type, scope"
    )
    return reader.query_json(sql, params)
