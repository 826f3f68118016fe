"""decode step, processor results: aggregates and regressions messages -> ``(table, row)``.

``telemetry.aggregates.v1`` carries three kinds (``metric`` -> ``aggregates``, ``app`` ->
``app_reliability``, ``counter`` -> ``counters``); ``telemetry.regressions.v1`` -> ``regressions``.
Pure and deterministic like :mod:`sinks.rows`; each row's ReplacingMergeTree version comes from
the message (``version``; for regressions ``closed_at`` else ``detected_at``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import orjson

from sinks.rows import BadMessage, Row, parse_time

AGGREGATE_COLUMNS: Final = (
    "tenant", "metric", "scope_type", "scope", "window_kind", "window_start", "source_partition",
    "version", "count", "sum", "min_value", "max_value", "sketch", "zero_count", "devices",
    "p50", "p90", "p99",
)  # fmt: skip
APP_COLUMNS: Final = (
    "tenant", "window_kind", "window_start", "scope_type", "app", "app_version", "scope",
    "source_partition", "version", "active_devices", "usage_ms", "crashes", "crashes_counted",
    "hangs", "crash_devices",
)  # fmt: skip
COUNTER_COLUMNS: Final = (
    "tenant", "counter", "scope_type", "scope", "window_kind", "window_start", "source_partition",
    "version", "value", "devices",
)  # fmt: skip
REGRESSION_COLUMNS: Final = (
    "tenant", "regression_id", "status", "scope_type", "scope", "metric", "baseline_name",
    "baseline_value", "current_value", "change_pct", "devices_baseline", "devices_current", "test",
    "p_value", "started_at", "detected_at", "closed_at", "causes", "updated_at",
)  # fmt: skip

#: result table -> columns the sink sends
RESULT_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "aggregates": AGGREGATE_COLUMNS,
    "app_reliability": APP_COLUMNS,
    "counters": COUNTER_COLUMNS,
    "regressions": REGRESSION_COLUMNS,
}


def _load(value: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage("parse_error", str(exc)) from exc
    if not isinstance(doc, dict):
        raise BadMessage("parse_error", "not a JSON object")
    return doc


def _window(doc: dict[str, Any]) -> dt.datetime:
    return parse_time(doc["window_start"])


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _metric_row(d: dict[str, Any]) -> Row:
    buckets = {int(k): int(v) for k, v in (d.get("buckets") or {}).items()}
    return (
        d["tenant"], d["metric"], d["scope_type"], d["scope"], d["window_kind"], _window(d),
        d["source_partition"], d["version"], d["count"], float(d["sum"]), _float(d["min"]),
        _float(d["max"]), buckets, d.get("zero_count", 0), d.get("devices", 0),
        _float(d.get("p50")), _float(d.get("p90")), _float(d.get("p99")),
    )  # fmt: skip


def _app_row(d: dict[str, Any]) -> Row:
    return (
        d["tenant"], d["window_kind"], _window(d), d["scope_type"], d.get("app") or "",
        d.get("app_version") or "", d["scope"], d["source_partition"], d["version"],
        d.get("active_devices", 0), d.get("usage_ms", 0), d.get("crashes", 0),
        d.get("crashes_counted", 0), d.get("hangs", 0), d.get("crash_devices", 0),
    )  # fmt: skip


def _counter_row(d: dict[str, Any]) -> Row:
    return (
        d["tenant"], d["counter"], d["scope_type"], d["scope"], d["window_kind"], _window(d),
        d["source_partition"], d["version"], d["value"], d.get("devices", 0),
    )  # fmt: skip


_KINDS: Final = {
    "metric": ("aggregates", _metric_row),
    "app": ("app_reliability", _app_row),
    "counter": ("counters", _counter_row),
}


def rows_for_aggregates(value: bytes) -> list[tuple[str, Row]]:
    """One ``telemetry.aggregates.v1`` value -> its rows. A value is one document or a JSON array
    of documents (the processors pack every changed cell of one scope into one message)."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage("parse_error", str(exc)) from exc
    docs = doc if isinstance(doc, list) else [doc]
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise BadMessage("parse_error", "not a JSON object or a non-empty array of objects")
    return [aggregate_row(d) for d in docs]


def rows_for_aggregate(value: bytes) -> tuple[str, Row]:
    """One ``telemetry.aggregates.v1`` document -> its table and row; :class:`BadMessage` else."""
    return aggregate_row(_load(value))


def aggregate_row(doc: dict[str, Any]) -> tuple[str, Row]:
    """One aggregate document (kind metric, app or counter) -> its table and row."""
    entry = _KINDS.get(doc.get("kind"))  # type: ignore[arg-type]  # a non-str kind is just absent
    if entry is None:
        raise BadMessage("unknown_kind", repr(doc.get("kind"))[:80])
    table, build = entry
    try:
        return table, build(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadMessage("missing_field", repr(exc)) from exc


def _cause(c: dict[str, Any]) -> tuple[str, str, float, float, float]:
    return (
        str(c["change_id"]), str(c.get("change_name") or ""), float(c["prevalence_affected"]),
        float(c["prevalence_unaffected"]), float(c["lift"]),
    )  # fmt: skip


def rows_for_regression(value: bytes) -> tuple[str, Row]:
    """One ``telemetry.regressions.v1`` value -> ``("regressions", row)``; version = ``updated_at``."""
    d = _load(value)
    try:
        detected = parse_time(d["detected_at"])
        closed = parse_time(d["closed_at"]) if d.get("closed_at") else None
        row = (
            d["tenant"], d["regression_id"], d["status"], d["scope_type"], d["scope"], d["metric"],
            d.get("baseline_name") or "", float(d["baseline_value"]), float(d["current_value"]),
            float(d["change_pct"]), d.get("devices_baseline", 0), d.get("devices_current", 0),
            d.get("test") or "", _float(d.get("p_value")), parse_time(d["started_at"]), detected,
            closed, [_cause(c) for c in d.get("causes") or ()], closed or detected,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadMessage("missing_field", repr(exc)) from exc
    return "regressions", row
