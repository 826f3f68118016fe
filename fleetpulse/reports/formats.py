"""Report documents as tables, and tables as CSV or Parquet (``--format``, the console's downloads).

A report document (``shape_*``) holds one or more lists of rows; :data:`TABLES` names them per
report, the first being the one ``--format csv|parquet`` writes unless ``--table`` picks
another. Rows are flattened for flat formats: a nested object becomes ``key_field`` columns
(``likely_cause_change_name``), a list becomes its JSON text. Columns keep the document's key
order (the union over rows, first seen first); ``None`` is an empty CSV cell and a Parquet null.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

Row = dict[str, Any]
FORMATS = ("table", "json", "csv", "parquet")

#: report -> the document keys holding its tables, the default first.
TABLES: dict[str, tuple[str, ...]] = {
    "startup": ("metrics",),
    "models": ("models",),
    "devices": ("devices",),
    "restarts": ("categories", "top_bug_checks"),
    "apps": ("apps",),
    "regressions": ("regressions",),
    "device": ("timeline", "apps", "metrics"),
    "insights": ("insights", "history"),
    "startup-processes": ("processes", "publishers"),
    "resource": ("models", "devices_worst", "daily"),
    "battery": ("models", "os_builds", "apps", "devices_worst"),
    "wfa": ("metrics", "models", "devices_not_ready"),
    "anomalies": ("anomalies",),
}


def table_rows(doc: Row, report: str, table: str | None = None) -> list[Row]:
    """The rows of ``table`` (default: the report's first) of a report document, flattened."""
    names = TABLES[report]
    name = table or names[0]
    if name not in names:
        raise ValueError(f"report {report!r} has no table {name!r} (tables: {', '.join(names)})")
    return [flatten(r) for r in doc[name]]


def flatten(row: Row, prefix: str = "") -> Row:
    """One level of columns: nested objects prefixed by their key, lists as JSON text."""
    out: Row = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}_"))
        elif isinstance(value, list | tuple):
            out[name] = json.dumps(value, default=str)
        else:
            out[name] = value
    return out


def columns(rows: Iterable[Row]) -> list[str]:
    """Every key of ``rows``, in first-seen order."""
    seen: dict[str, None] = {}
    for r in rows:
        seen.update(dict.fromkeys(r))
    return list(seen)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def to_csv(rows: Sequence[Row], cols: Sequence[str] | None = None) -> str:
    """RFC 4180 CSV with a header line (``\\r\\n`` line ends, as the RFC and spreadsheets want)."""
    cols = list(cols or columns(rows))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(cols)
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def to_parquet(rows: Sequence[Row], cols: Sequence[str] | None = None) -> bytes:
    """One Parquet file (pyarrow infers each column's type; all-null columns become strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = list(cols or columns(rows))
    arrays = {}
    for c in cols:
        values = [_parquet_value(r.get(c)) for r in rows]
        try:
            kind = None if any(v is not None for v in values) else pa.string()
            arrays[c] = pa.array(values, type=kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds in one column: keep them as text
            arrays[c] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays) if cols else pa.table({}), buf)
    return buf.getvalue()


def _parquet_value(value: Any) -> Any:
    # numbers stay numbers; anything else a client may send (datetimes as text, decimals) as text
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
