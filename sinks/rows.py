"""decode step, raw events: one ``telemetry.events.v1`` message -> ``(table, row)``.

Pure and deterministic: the row is built from the message bytes and its Kafka position only
(``received_at`` is the collector's ``ext.ingest.time``; ``inserted_at`` is a column DEFAULT and
never sent), so replaying the same offsets rebuilds the same rows — the epoch/dedup proof in
docs/sink.md relies on it. Columns are the migration's (:data:`RAW_COLUMNS`); wire keys come from
the ``schemas`` models' camelCase aliases, so the mapping lives in one place.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Final

import orjson
from pydantic.alias_generators import to_camel

from schemas import DATA_BY_NAME
from sinks.migrations.m0001_raw_events import ENVELOPE, FAMILIES

Row = tuple[Any, ...]
Getter = Callable[[dict[str, Any]], Any]


class BadMessage(ValueError):  # noqa: N818 - a typed outcome, like schemas.InvalidEvent
    """A message the sink cannot turn into a row; ``reason`` is a stable word for metrics."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


ORIGIN_COLUMNS: Final = ("kafka_partition", "kafka_offset")
ENVELOPE_COLUMNS: Final = tuple(name for name, _ in ENVELOPE)
#: index of ``received_at`` in every raw row (event-to-queryable latency reads it)
RECEIVED_AT_INDEX: Final = ENVELOPE_COLUMNS.index("received_at")


def parse_time(text: Any) -> dt.datetime:
    """RFC 3339 ``…Z`` (0-7 fractional digits) -> aware UTC datetime."""
    if not isinstance(text, str):
        raise BadMessage("type_error", f"time {text!r} is not a string")
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadMessage("bad_format", f"time {text!r}") from exc


def _opt_time(value: Any) -> dt.datetime | None:
    return None if value is None else parse_time(value)


def _opt_date(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


_TUPLE_FIELDS = re.compile(r"(?:^|, )([a-z_0-9]+) (\w+)")


def _tuples(ddl: str) -> Callable[[Any], list[tuple[Any, ...]]]:
    """``Array(Tuple(a T, b U…))`` <- a list of objects keyed in camelCase; absent strings -> ''."""
    fields = _TUPLE_FIELDS.findall(ddl.removeprefix("Array(Tuple("))
    keys = [to_camel(name) for name, _ in fields]
    defaults = ["" if kind in ("String", "LowCardinality") else 0 for _, kind in fields]

    def convert(items: Any) -> list[tuple[Any, ...]]:
        if not items:
            return []
        return [
            tuple(d if (v := item.get(k)) is None else v for k, d in zip(keys, defaults, strict=True))
            for item in items
        ]

    return convert


def _converter(ddl: str) -> Callable[[Any], Any] | None:
    if ddl.startswith("Array(Tuple("):
        return _tuples(ddl)
    if ddl.startswith(("DateTime64", "Nullable(DateTime64")):
        return _opt_time
    if ddl.startswith("Nullable(Date)"):
        return _opt_date
    return None


def _wire_keys(event_name: str) -> dict[str, str]:
    """column name -> ``data`` wire key, matched on the model's field names (``_`` ignored)."""
    fields = DATA_BY_NAME[event_name].model_fields
    by_norm = {name.replace("_", ""): field.alias or to_camel(name) for name, field in fields.items()}
    return by_norm


def _data_getter(event_name: str, column: str, ddl: str) -> Getter:
    required = not ddl.startswith(("Nullable", "LowCardinality(Nullable", "Array"))
    convert = _converter(ddl)
    if column == "user_id":  # logon: the envelope's salted user hash, '' when absent
        return lambda rec: rec["ext"].get("user", {}).get("localId") or ""
    key = _wire_keys(event_name)[column.replace("_", "")]

    def get(rec: dict[str, Any]) -> Any:
        value = rec["data"].get(key)
        if value is None and required:
            raise BadMessage("missing_field", f"data.{key}")
        return value if convert is None else convert(value)

    return get


#: table -> every column the sink sends (envelope, data, origin), in insert order
RAW_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    table: (*ENVELOPE_COLUMNS, *(c for c, _ in cols), *ORIGIN_COLUMNS)
    for table, (_, cols) in FAMILIES.items()
}
#: event name -> table
TABLE_BY_NAME: Final[dict[str, str]] = {name: table for table, (name, _) in FAMILIES.items()}
_DATA_GETTERS: Final[dict[str, tuple[str, list[Getter]]]] = {
    name: (table, [_data_getter(name, c, ddl) for c, ddl in cols]) for table, (name, cols) in FAMILIES.items()
}


def envelope_values(rec: dict[str, Any]) -> list[Any]:
    """The envelope columns, in :data:`ENVELOPE_COLUMNS` order."""
    ext = rec["ext"]
    ingest = ext["ingest"]
    sdk = ext["sdk"]
    proto = ext.get("protocol") or {}
    return [
        ingest["tenant"],
        rec["iKey"],
        ext["device"]["localId"].lower(),
        parse_time(rec["time"]),
        parse_time(ingest["time"]),
        sdk["epoch"],
        sdk["seq"],
        ext["os"]["bootId"],
        ext["os"]["ver"],
        sdk["ver"],
        proto.get("devMake") or "",
        proto.get("devModel") or "",
    ]


def rows_for_event(value: bytes, partition: int, offset: int) -> tuple[str, Row]:
    """An accepted event (with ``ext.ingest``) -> its raw table and row; :class:`BadMessage` else."""
    try:
        rec = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage("parse_error", str(exc)) from exc
    if not isinstance(rec, dict):
        raise BadMessage("parse_error", "not a JSON object")
    entry = _DATA_GETTERS.get(rec.get("name"))  # type: ignore[arg-type]  # a non-str name is just absent
    if entry is None:
        raise BadMessage("unknown_event", repr(rec.get("name"))[:80])
    table, getters = entry
    try:
        values = envelope_values(rec)
        values.extend(get(rec) for get in getters)
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadMessage("missing_field", repr(exc)) from exc
    values.append(partition)
    values.append(offset)
    return table, tuple(values)
