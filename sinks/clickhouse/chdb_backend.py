"""Embedded ClickHouse: chdb (the ClickHouse engine in-process), data in one local directory.

One process at a time may own a directory (:class:`~sinks.clickhouse.lock.DirectoryLock`), and
chdb itself serves one directory per process. Parameters go to the engine as ClickHouse query
parameters (``Session.query(sql, params=…)``: ``{name:Type}`` placeholders, values parsed by
the engine with the declared type). Inserts send the batch as one ``JSONCompactColumns``
document (orjson) through ``Session.send_insert``: the engine parses it natively, ~350k
boot rows/s on one core (``python -m bench.insert``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from chdb import session as chdb_session

from sinks.clickhouse.base import (
    ClickHouseError,
    Columnar,
    Params,
    Rows,
    SelectBackend,
    check_dedup_token,
    check_identifier,
    encode_param,
    insert_data,
)
from sinks.clickhouse.chtypes import converter
from sinks.clickhouse.lock import DirectoryLock

# Session-wide settings: UTC everywhere, JSON output the converters in chtypes expect.
_SESSION_SETTINGS = (
    "SET session_timezone = 'UTC'",
    "SET output_format_json_quote_64bit_integers = 0",
    "SET output_format_json_quote_decimals = 0",
    "SET output_format_json_quote_denormals = 1",
    "SET output_format_json_named_tuples_as_objects = 0",
)
# chdb ships no annotations: its Session is handled as ``Any`` behind this one typed name.
_open_session: Callable[[str], Any] = chdb_session.Session
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


class ChdbBackend(SelectBackend):
    """The embedded backend; see the module docstring. ``url`` is ``chdb://<absolute dir>``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).resolve()
        self.url = f"chdb://{self.directory}"
        self._guard = threading.Lock()
        self._lock = DirectoryLock(self.directory)
        self._lock.acquire()
        try:
            self._session: Any = _open_session(str(self.directory))
        except RuntimeError as exc:
            self._lock.release()
            raise ClickHouseError(
                f"cannot open embedded ClickHouse at {self.directory}: {exc} "
                "(chdb serves one directory per process)"
            ) from exc
        try:
            for statement in _SESSION_SETTINGS:
                self._session.query(statement)
        except BaseException:
            self.close()
            raise

    # -- Backend ---------------------------------------------------------------------------------

    def execute(self, sql: str, params: Params | None = None) -> None:
        self._run(sql, params, "CSV")

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Rows | Columnar,
        *,
        dedup_token: str | None = None,
    ) -> None:
        data = insert_data(table, columns, rows)
        if data is None:
            return
        payload = orjson.dumps([c if isinstance(c, list) else list(c) for c in data], option=_ORJSON_OPTIONS)
        settings = ["date_time_input_format = 'best_effort'", "input_format_json_named_tuples_as_objects = 0"]
        if dedup_token is not None:
            settings.append(f"insert_deduplication_token = '{check_dedup_token(dedup_token)}'")
        statement = f"INSERT INTO {table} ({', '.join(columns)}) SETTINGS {', '.join(settings)}"
        with self._guard:
            session = self._require()
            try:
                inserter = session.send_insert(statement, "JSONCompactColumns")
                with inserter:
                    inserter.append(payload)
                    inserter.finish()
            except RuntimeError as exc:
                raise ClickHouseError(f"insert into {table} failed: {exc}") from exc

    def close(self) -> None:
        with self._guard:
            session, self._session = self._session, None
            if session is not None:
                session.close()
            self._lock.release()

    # -- helpers ---------------------------------------------------------------------------------

    def _require(self) -> Any:
        if self._session is None:
            raise ClickHouseError(f"{self.url} is closed")
        return self._session

    def _run(
        self, sql: str, params: Params | None, fmt: str, settings: Mapping[str, str] | None = None
    ) -> Any:
        bound = {name: encode_param(value) for name, value in (params or {}).items()}
        with self._guard:
            session = self._require()
            try:
                # per-query settings: chdb takes none with a query, so SET them for this one
                # statement and back to DEFAULT, all under the guard (no other statement between)
                for name, literal in (settings or {}).items():
                    session.query(f"SET {check_identifier(name)} = {literal}")
                try:
                    return session.query(sql, fmt, params=bound or None)
                finally:
                    for name in settings or {}:
                        session.query(f"SET {name} = DEFAULT")
            except RuntimeError as exc:
                raise ClickHouseError(str(exc)) from exc

    def _select(
        self, sql: str, params: Params | None, settings: Mapping[str, str] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        result = self._run(sql, params, "JSONCompact", settings)
        raw = result.bytes() if hasattr(result, "bytes") else result
        if not raw:
            return [], []
        document = orjson.loads(raw)
        meta = document["meta"]
        names = [column["name"] for column in meta]
        convert = [converter(column["type"]) for column in meta]
        rows = [tuple(c(v) for c, v in zip(convert, row, strict=True)) for row in document["data"]]
        return names, rows
