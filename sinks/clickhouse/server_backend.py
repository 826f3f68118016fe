"""ClickHouse server over the native protocol (clickhouse-driver): compose stack, production.

URL: ``clickhouse://user:pass@host:9000/db`` (``clickhouses://`` for TLS; query-string options
are the driver's, e.g. ``?compression=lz4``).

Parameters are bound server-side: the client is built with ``server_side_params=True``, so the
driver sends each value in the query packet's parameter block and the server substitutes it
into the ``{name:Type}`` placeholder, parsing it with the declared type. The driver's default
(client-side ``%(name)s`` substitution into the SQL text) is never used. Every value is first
encoded by :func:`~sinks.clickhouse.base.encode_param`, the same text the embedded backend
sends, so both backends bind identically. Servers older than 22.8 lack the parameter block and
fail such queries ("substitution … is not set") rather than falling back to pasting values.

Inserts are columnar (``INSERT INTO t (cols) VALUES`` + ``columnar=True``), with
``insert_deduplication_token`` passed as a per-query setting.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.util.helpers import parse_url

from sinks.clickhouse.base import (
    _QUOTED_ESCAPES,
    ClickHouseError,
    Columnar,
    Params,
    Rows,
    SelectBackend,
    _escape,
    check_dedup_token,
    encode_param,
    insert_data,
)


class _Encoded:
    """A parameter already in ClickHouse text form.

    clickhouse-driver renders a non-``str`` parameter as ``"'%s'" % value`` for the server
    (``escape_param(for_server=True)``), i.e. as a quoted Field string whose content is our
    ``__str__``. Escaping the encoded text for that quoted string makes the server see exactly
    ``encode_param(value)``, the same bytes chdb gets.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return _escape(self.text, _QUOTED_ESCAPES)


def driver_params(params: Params | None) -> dict[str, _Encoded]:
    """The parameter dict handed to ``Client.execute`` (server-side binding)."""
    return {name: _Encoded(encode_param(value)) for name, value in (params or {}).items()}


def _normalise(value: Any) -> Any:
    """Driver results to the embedded backend's shapes: aware datetimes are UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, dict):
        return {_normalise(k): _normalise(v) for k, v in value.items()}
    return value


class ServerBackend(SelectBackend):
    """The server backend; see the module docstring."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._guard = threading.Lock()  # a driver Client is one connection: one query at a time
        host, options = parse_url(url)
        options["settings"] = {**options.get("settings", {}), "server_side_params": True}
        self._client: Client | None = Client(host, **options)  # connects lazily, on first use

    def execute(self, sql: str, params: Params | None = None) -> None:
        self._call(sql, params)

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
        settings: dict[str, Any] = {}
        if dedup_token is not None:
            settings["insert_deduplication_token"] = check_dedup_token(dedup_token)
        with self._guard:
            client = self._require()
            try:
                client.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES",
                    [list(c) for c in data],
                    columnar=True,
                    settings=settings or None,
                )
            except Exception as exc:
                raise ClickHouseError(f"insert into {table} failed: {exc}") from exc

    def close(self) -> None:
        with self._guard:
            client, self._client = self._client, None
            if client is not None:
                client.disconnect()

    def _require(self) -> Client:
        if self._client is None:
            raise ClickHouseError(f"{self.url} is closed")
        return self._client

    def _call(self, sql: str, params: Params | None, settings: Mapping[str, str] | None = None) -> Any:
        with self._guard:
            client = self._require()
            try:
                # per-query settings travel with the query packet (SQL literals, parsed by the server)
                extra = dict(settings) if settings else None
                return client.execute(sql, driver_params(params), with_column_types=True, settings=extra)
            except Exception as exc:
                raise ClickHouseError(str(exc)) from exc

    def _select(
        self, sql: str, params: Params | None, settings: Mapping[str, str] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        rows, columns = self._call(sql, params, settings)
        names = [name for name, _type in columns]
        return names, [tuple(_normalise(v) for v in row) for row in rows]
