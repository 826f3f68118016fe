"""Constrained field types of the contract: strict ints, bounded strings, wire formats, UTC times.

Pattern failures surface as pydantic ``string_pattern_mismatch`` (mapped to ``bad_format``), range
failures as ``greater_than_equal``/``less_than_equal``/``string_too_long``… (``out_of_range``); the
few custom checks raise :class:`pydantic_core.PydanticCustomError` whose *type* is already a reason.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

from annotated_types import Interval, Len
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

INT64_MAX: Final = 2**63 - 1
UINT32_MAX: Final = 2**32 - 1

#: Shared config of every wire model: strict (no coercion), closed (unknown fields rejected),
#: immutable, camelCase on the wire and snake_case in Python.
WIRE_CONFIG: Final = ConfigDict(
    strict=True,
    extra="forbid",
    frozen=True,
    alias_generator=to_camel,
    populate_by_name=False,
    allow_inf_nan=False,
    validate_default=False,
)


def R(lo: int, hi: int) -> Interval:  # noqa: N802 - short, reads as a type
    """Range metadata: ``Annotated[int, R(1, 36)]`` is a strict int in 1 … 36."""
    return Interval(ge=lo, le=hi)


def L(max_length: int, min_length: int = 0) -> Len:  # noqa: N802
    """Length metadata: ``Annotated[str, L(64, 1)]`` is a string of 1 … 64 characters."""
    return Len(min_length, max_length)


class OneOf:
    """``Annotated[int, OneOf(0, 5, 9, 12)]``: a strict int out of a set (``out_of_range`` otherwise).

    ``Literal[0, 5, 9, 12]`` is not used for ints because pydantic lets ``True`` / ``1.0`` match ``1``.
    """

    def __init__(self, *allowed: int) -> None:
        self.allowed = frozenset(allowed)

    def _check(self, value: int) -> int:
        if value not in self.allowed:
            raise PydanticCustomError(
                "out_of_range", "must be one of {allowed}", {"allowed": sorted(self.allowed)}
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["enum"] = sorted(self.allowed)
        return out


Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
"""A JSON number (int or float, never bool) in 0 … 100."""

_HEX = "0-9A-F"
_GUID_RE: Final = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
NIL_GUID: Final = "00000000-0000-0000-0000-000000000000"

Guid = Annotated[str, StringConstraints(pattern=_GUID_RE)]
"""A GUID/UUID ``8-4-4-4-12`` hex digits, either case, no braces."""
Hex8 = Annotated[str, StringConstraints(pattern=rf"^0x[{_HEX}]{{8}}$")]
Hex16 = Annotated[str, StringConstraints(pattern=rf"^0x[{_HEX}]{{16}}$")]
Hex8or16 = Annotated[str, StringConstraints(pattern=rf"^0x([{_HEX}]{{8}}|[{_HEX}]{{16}})$")]
OsBuild = Annotated[str, StringConstraints(pattern=r"^10\.0\.[0-9]{5}\.[0-9]{1,5}$")]
OsVer = Annotated[str, StringConstraints(pattern=r"^10\.0\.[0-9]{5}\.[0-9]{1,5}(\..{1,96})?$")]
IKey = Annotated[str, StringConstraints(pattern=r"^o:[0-9a-f]{32}$")]
Epoch = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$")]
UserId = Annotated[str, StringConstraints(pattern=r"^c:[0-9A-Fa-f]{32}$")]
TzOffset = Annotated[str, StringConstraints(pattern=r"^[+-](0[0-9]|1[0-4]):[0-5][0-9]$")]
AppName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\\/:]+$")]
"""An executable file name: 1–64 chars, no ``\\``, ``/`` or ``:`` (paths are ``bad_format``)."""
AppVersion = Annotated[str, StringConstraints(min_length=1, max_length=24, pattern=r"^[0-9]+(\.[0-9]+)*$")]
"""1–24 chars of digits and dots (``24335.206.3315.1593``)."""


def _not_nil_device(value: str) -> str:
    if value[2:] == NIL_GUID:
        raise PydanticCustomError("bad_device_id", "the nil GUID is not a device id")
    return value


DeviceId = Annotated[
    str,
    StringConstraints(pattern=r"^[cs]:" + _GUID_RE[1:]),
    AfterValidator(_not_nil_device),
]
"""``s:`` or ``c:`` + a GUID (case-insensitive), not the nil GUID."""

_TIME_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TIME_PATTERN: Final = "^" + _TIME_RE.pattern + "$"


def _parse_time(value: object) -> object:
    if not isinstance(value, str):
        return value  # the strict datetime validator reports type_error
    if _TIME_RE.fullmatch(value) is None:
        raise PydanticCustomError("bad_format", "RFC 3339 UTC time ending in Z, 0-7 fractional digits")
    try:
        # Python keeps microseconds: a 7th fractional digit (100 ns) is truncated.
        return datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("bad_format", "not a calendar date/time") from None


def _parse_date(value: object) -> object:
    if not isinstance(value, str):
        return value
    if _DATE_RE.fullmatch(value) is None:
        raise PydanticCustomError("bad_format", "YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("bad_format", "not a calendar date") from None


UtcTime = Annotated[
    datetime,
    BeforeValidator(_parse_time),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": TIME_PATTERN}),
]
"""RFC 3339 UTC ``YYYY-MM-DDTHH:MM:SS[.f{1,7}]Z`` → aware :class:`datetime` (UTC)."""

Date = Annotated[
    date,
    BeforeValidator(_parse_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": "^" + _DATE_RE.pattern + "$"}),
]


def utc_now() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


# Common shorthands used by the event modules.
Str24 = Annotated[str, L(24)]
Str64 = Annotated[str, L(64)]
Str128 = Annotated[str, L(128)]
Str256 = Annotated[str, L(256)]
Name64 = Annotated[str, L(64, 1)]
"""A required, non-empty name of at most 64 characters."""
Ms1h = Annotated[int, R(0, 3_600_000)]
"""Milliseconds, 0 … 1 h."""
Count32 = Annotated[int, R(0, UINT32_MAX)]
"""A non-negative counter (≤ 2³²−1)."""
BootId = Annotated[int, R(0, UINT32_MAX)]
