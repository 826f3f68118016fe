"""Turn ClickHouse ``JSONCompact`` values into Python values, driven by the column's type name.

The embedded backend reads results as ``JSONCompact`` (with 64-bit integers unquoted and
``nan``/``inf`` quoted); this module gives them the types the native driver returns:
``datetime`` (UTC, aware), ``date``, ``dict`` for ``Map``, ``tuple`` for ``Tuple``, ``Decimal``,
``UUID``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Converter = Callable[[Any], Any]

_WRAPPERS = ("Nullable", "LowCardinality", "SimpleAggregateFunction")


def split_args(inner: str) -> list[str]:
    """Split the top-level, comma-separated arguments of a type: ``"String, Map(A, B)"``."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(inner):
        if ch == "'" and (i == 0 or inner[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    tail = inner[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def _head_args(type_name: str) -> tuple[str, list[str]]:
    type_name = type_name.strip()
    if "(" not in type_name or not type_name.endswith(")"):
        return type_name, []
    head, _, rest = type_name.partition("(")
    return head.strip(), split_args(rest[:-1])


def _identity(value: Any) -> Any:
    return value


def _float(value: Any) -> Any:
    if value is None or isinstance(value, float):
        return value
    return float(value)  # "nan", "inf", "-inf" or an int-valued number


def _datetime(value: Any) -> Any:
    if value is None:
        return None
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _date(value: Any) -> Any:
    return None if value is None else dt.date.fromisoformat(value)


def _decimal(value: Any) -> Any:
    return None if value is None else decimal.Decimal(str(value))


def _uuid(value: Any) -> Any:
    return None if value is None else uuid.UUID(value)


def _int(value: Any) -> Any:
    return None if value is None else int(value)


@lru_cache(maxsize=512)
def converter(type_name: str) -> Converter:
    """The function turning a JSON value of ``type_name`` into its Python value."""
    head, args = _head_args(type_name)
    if head in _WRAPPERS:
        return converter(args[-1])
    if head.startswith(("Int", "UInt")):
        return _int
    if head.startswith(("Float", "BFloat")):
        return _float
    if head.startswith("DateTime"):
        return _datetime  # the session time zone is UTC, so zone-less values are UTC too
    if head.startswith("Date"):
        return _date
    if head.startswith("Decimal"):
        return _decimal
    if head == "UUID":
        return _uuid
    if head == "Array":
        item = converter(args[0])
        return lambda v: None if v is None else [item(x) for x in v]
    if head == "Tuple":
        items = [converter(_strip_field_name(a)) for a in args]
        return lambda v: None if v is None else tuple(c(x) for c, x in zip(items, v, strict=True))
    if head == "Map":
        key, val = converter(args[0]), converter(args[1])
        return lambda v: None if v is None else {key(k): val(x) for k, x in v.items()}
    return _identity


def _strip_field_name(arg: str) -> str:
    """``"change_id String"`` (a named tuple field) → ``"String"``."""
    first, _, rest = arg.partition(" ")
    if rest and "(" not in first and first[:1].islower():
        return rest
    return arg
