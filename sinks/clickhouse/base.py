"""The one small ClickHouse interface both backends implement, and what they share.

A :class:`Backend` runs SQL with server-side bound parameters (``{name:Type}`` placeholders; a
value never becomes SQL text), reads results as typed tuples or JSON-ready dicts, and inserts
batches in one statement, optionally under an ``insert_deduplication_token``.

Values a caller hands to :meth:`Backend.insert` are plain Python: ``int``, ``float``, ``str``,
``bool``, ``None``, ``datetime`` (aware, or naive meaning UTC), ``date``, ``dict`` for ``Map``,
``list`` for ``Array`` and ``tuple`` for ``Tuple``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

Params = Mapping[str, Any]
Rows = Sequence[Sequence[Any]]

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,512}$")


class ClickHouseError(RuntimeError):
    """A statement failed in ClickHouse (the engine's message is kept verbatim)."""


class StoreLocked(ClickHouseError):  # noqa: N818 - the name other modules and the docs use
    """An embedded store directory is owned by another process (or another backend here)."""

    def __init__(self, directory: str, owner_pid: int | None, owner_cmd: str) -> None:
        self.directory = directory
        self.owner_pid = owner_pid
        self.owner_cmd = owner_cmd
        who = f"pid {owner_pid}" if owner_pid is not None else "an unknown process"
        super().__init__(
            f"embedded ClickHouse store {directory} is owned by {who} ({owner_cmd or 'command unknown'}); "
            "only one process may open a chdb directory: stop that process, read through it, "
            "or point FLEETPULSE_CLICKHOUSE_URL at a ClickHouse server"
        )


@dataclass(frozen=True, slots=True)
class Columnar:
    """Insert data as one sequence per column, in the order of the ``columns`` argument.

    Column-major data skips a transpose and is the fastest input on both backends.
    """

    columns: Sequence[Sequence[Any]]

    def __post_init__(self) -> None:
        lengths = {len(c) for c in self.columns}
        if len(lengths) > 1:
            raise ValueError(f"columnar insert with columns of different lengths {sorted(lengths)}")

    @property
    def num_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0


@runtime_checkable
class Backend(Protocol):
    """ClickHouse as fleetpulse uses it: statements, reads, batch inserts.

    Lifecycle: built by :func:`sinks.clickhouse.open_backend`; every method may be called from
    any thread until :meth:`close`; after ``close`` every call raises :class:`ClickHouseError`.
    """

    url: str

    def execute(self, sql: str, params: Params | None = None) -> None:
        """Run a statement (DDL, ``INSERT … SELECT``, ``OPTIMIZE``…) and discard any result."""
        ...

    def query(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        """Run a ``SELECT`` and return its rows as tuples of Python values."""
        ...

    def query_json(
        self, sql: str, params: Params | None = None, *, settings: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Run a ``SELECT`` and return one dict per row, keyed by column name, JSON-serialisable.

        ``settings``: ClickHouse settings for this query only (name -> SQL literal), e.g. the
        ``additional_table_filters`` of a tenant-scoped read (sinks/scope.py).
        """
        ...

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Rows | Columnar,
        *,
        dedup_token: str | None = None,
    ) -> None:
        """Insert ``rows`` (row-major) or a :class:`Columnar` batch into ``table`` in one statement.

        With ``dedup_token`` the insert is idempotent: a repeat with the same token inside the
        table's ``non_replicated_deduplication_window`` stores nothing.
        """
        ...

    def close(self) -> None:
        """Release the connection (and, embedded, the directory lock). Idempotent."""
        ...


# -- validation shared by both backends ------------------------------------------------------------


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain (optionally ``db.``-qualified) identifier, else raise."""
    if not _IDENT_RE.match(name):
        raise ValueError(f"not a plain ClickHouse identifier: {name!r}")
    return name


def check_dedup_token(token: str) -> str:
    """Tokens go into a ``SETTINGS`` clause, which takes no bound parameters: allow a safe alphabet."""
    if not _TOKEN_RE.match(token):
        raise ValueError(f"dedup token {token!r} must match {_TOKEN_RE.pattern}")
    return token


# -- parameter values in ClickHouse's text ("escaped") form ---------------------------------------

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0", "\b": "\\b", "\f": "\\f"}
_QUOTED_ESCAPES = {**_ESCAPES, "'": "\\'"}


def _escape(text: str, table: Mapping[str, str]) -> str:
    return "".join(table.get(ch, ch) for ch in text)


def _format_datetime(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")


def _literal(value: Any) -> str:
    """A value inside a composite parameter (array element, tuple field, map key/value).

    Composites are read in ClickHouse's literal syntax (``['a\\'b', 'c']``); only the strings
    inside them are quoted and backslash-escaped, the composite as a whole is not escaped again.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return _number(value)
    if isinstance(value, str):
        return "'" + _escape(value, _QUOTED_ESCAPES) + "'"
    if isinstance(value, dt.datetime):
        return "'" + _format_datetime(value) + "'"
    if isinstance(value, dt.date | uuid.UUID):
        return "'" + str(value) + "'"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | set | frozenset):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    raise TypeError(f"cannot bind a {type(value).__name__} as a ClickHouse query parameter")


def _number(value: int | float | decimal.Decimal) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


def encode_param(value: Any) -> str:
    """Encode one parameter value as the text ClickHouse parses for ``{name:Type}``.

    This is the form of the HTTP interface's ``param_<name>`` (TSV-escaped; ``\\N`` is NULL);
    the engine parses it with the placeholder's declared type, so the value is data whatever it
    contains.
    """
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return _number(value)
    if isinstance(value, str):
        return _escape(value, _ESCAPES)
    if isinstance(value, dt.datetime):
        return _format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping | list | set | frozenset | tuple):
        return _literal(value)
    raise TypeError(f"cannot bind a {type(value).__name__} as a ClickHouse query parameter")


# -- results -------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Turn a result value into something ``json.dumps`` takes (datetimes as ISO 8601 strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def to_columns(columns: Sequence[str], rows: Rows | Columnar) -> list[Sequence[Any]]:
    """Column-major view of an insert batch, checked against ``columns``."""
    if isinstance(rows, Columnar):
        data = list(rows.columns)
    else:
        data = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in columns]
    if len(data) != len(columns):
        raise ValueError(f"insert names {len(columns)} columns but the batch has {len(data)}")
    return data


class SelectBackend:
    """What both backends share: rows and dict rows from one ``_select``, and insert checks.

    Subclasses provide ``_select(sql, params, settings) -> (column names, rows)``.
    """

    def _select(
        self, sql: str, params: Params | None, settings: Mapping[str, str] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        raise NotImplementedError

    def query(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        _, rows = self._select(sql, params)
        return rows

    def query_json(
        self, sql: str, params: Params | None = None, *, settings: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        names, rows = self._select(sql, params, settings)
        return [{n: jsonable(v) for n, v in zip(names, row, strict=True)} for row in rows]


def insert_data(table: str, columns: Sequence[str], rows: Rows | Columnar) -> list[Sequence[Any]] | None:
    """Checked identifiers and the data as columns; ``None`` when there is nothing to insert."""
    check_identifier(table)
    for column in columns:
        check_identifier(column)
    data = to_columns(columns, rows)
    return data if data and len(data[0]) else None
