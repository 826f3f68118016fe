"""The one decode entry point: bytes of one NDJSON record → :class:`Event` or :class:`InvalidEvent`.

Steps, cheapest first (each one named in ``docs/contract.md``):

1. ``size``      — > 64 KiB → ``too_large`` (before any parsing).
2. ``parse``     — orjson (rejects NaN/Infinity, trailing garbage, bad UTF-8, lone surrogate escapes,
   nesting > 1024) → ``parse_error`` / ``encoding_error`` / ``too_deep``.
3. ``shape``     — nesting depth (record ≤ 4, ``data`` ≤ 3) → ``too_deep``; ``data`` ≤ 64 keys.
4. ``ambiguity`` — duplicate keys and integers beyond int64 (orjson silently keeps the last key and turns
   huge ints into floats or u64) → ``parse_error``; C0/C1 control and bidi-override characters in any
   string → ``bad_format``. A cheap test on the raw bytes rules these out for ordinary records; only
   suspicious ones take the slow, exact path (:mod:`json` with hooks).
5. ``envelope``  — ``ext.ingest`` (``forbidden_field``), ``ver`` (``unsupported_version``), ``name``
   (``unknown_event``).
6. ``validate``  — the per-type strict pydantic model; the first error becomes the reason.
7. ``time``      — ``time`` within [received_at − 30 d, received_at + 24 h] → ``time_out_of_range``.
8. ``invariants``— the data model's cross-field checks → ``invariant_violated`` (or ``missing_field``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from pydantic import ValidationError

from schemas.envelope import Event
from schemas.errors import DECODE_REASONS, InvalidEvent
from schemas.registry import RECORDS
from schemas.types import utc_now

__all__ = ["MAX_DATA_DEPTH", "MAX_DATA_KEYS", "MAX_RECORD_BYTES", "InvalidEvent", "decode"]

MAX_RECORD_BYTES: Final = 64 * 1024
MAX_RECORD_DEPTH: Final = 4  # root object → data (≤ 3): {"data": {"arr": [{"k": 1}]}}
MAX_DATA_DEPTH: Final = 3
MAX_DATA_KEYS: Final = 64
MAX_FUTURE: Final = timedelta(hours=24)
MAX_AGE: Final = timedelta(days=30)
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

# Anything that might hide a duplicate-key or control-character problem the fast path cannot see:
# a backslash (escapes), DEL, C1 controls (U+0080–009F), bidi overrides/isolates (U+202A–202E,
# U+2066–2069), or a run of 19+ digits (a possible int beyond int64).
_SUSPECT_NON_ASCII: Final = re.compile(rb"\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
_DIGITS_TO_9: Final = bytes.maketrans(b"012345678", b"999999999")
_NINETEEN_DIGITS: Final = b"9" * 19
_BAD_CHARS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def decode(raw: bytes | str, *, received_at: datetime | None = None) -> Event:
    """Validate one record. Returns an :class:`Event`; raises only :class:`InvalidEvent`.

    ``received_at`` (aware; default now, UTC) anchors the ``time`` window: not later than
    ``received_at + 24 h``, not earlier than ``received_at − 30 days``.
    """
    data = _to_bytes(raw)
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidEvent("too_large", None, f"record of {len(data)} bytes > {MAX_RECORD_BYTES}")
    obj = _parse(data)
    _check_shape(obj)
    if not _suspect(data):
        # No escapes: every ':' outside strings is a key separator, every ':' inside strings survives
        # parsing, so the raw and re-serialized colon counts differ exactly when keys were dropped.
        if data.count(b":") != orjson.dumps(obj).count(b":"):
            raise InvalidEvent("parse_error", None, "duplicate JSON key")
    else:
        _slow_checks(data, obj)
    model = _record_model(obj)
    try:
        record = model.model_validate(obj, strict=True)
    except ValidationError as exc:
        raise _from_validation_error(exc) from None
    now = received_at if received_at is not None else utc_now()
    if not now - MAX_AGE <= record.time <= now + MAX_FUTURE:
        raise InvalidEvent(
            "time_out_of_range", "time", f"{record.time.isoformat()} vs received {now.isoformat()}"
        )
    record.data.check(record)
    return Event(record, obj)


def _suspect(data: bytes) -> bool:
    """Cheap test (no regex on plain ASCII records): could the fast checks miss something here?"""
    if b"\\" in data or b"\x7f" in data:
        return True
    if not data.isascii() and (b"\xc2" in data or b"\xe2" in data) and _SUSPECT_NON_ASCII.search(data):
        return True
    return _NINETEEN_DIGITS in data.translate(_DIGITS_TO_9)


def _to_bytes(raw: bytes | str) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        if len(raw) > MAX_RECORD_BYTES:
            raise InvalidEvent("too_large", None, f"record of {len(raw)} characters")
        try:
            return raw.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEvent("encoding_error", None, "lone surrogate in text") from None
    if isinstance(raw, bytearray | memoryview):
        return bytes(raw)
    raise InvalidEvent("type_error", None, f"expected bytes or str, got {type(raw).__name__}")


def _parse(data: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        msg = str(exc)
        if "depth limit" in msg or "recursion" in msg:
            raise InvalidEvent("too_deep", None, msg) from None
        if ("UTF-8" in msg and "BOM" not in msg) or "surrogate" in msg:
            raise InvalidEvent("encoding_error", None, msg) from None
        raise InvalidEvent("parse_error", None, msg) from None
    if not isinstance(obj, dict):
        raise InvalidEvent("type_error", None, f"record must be a JSON object, got {type(obj).__name__}")
    return obj


def _exceeds(node: dict[str, Any] | list[Any], limit: int) -> bool:
    """True when ``node`` nests deeper than ``limit`` (a flat container has depth 1)."""
    if limit < 1:
        return True
    for child in node.values() if type(node) is dict else node:
        if (type(child) is dict or type(child) is list) and _exceeds(child, limit - 1):
            return True
    return False


def _check_shape(obj: dict[str, Any]) -> None:
    body = obj.get("data")
    if _exceeds(obj, MAX_RECORD_DEPTH):
        deep_data = isinstance(body, dict | list) and _exceeds(body, MAX_DATA_DEPTH)
        raise InvalidEvent("too_deep", "data" if deep_data else None, "nesting beyond the limits")
    if type(body) is dict and len(body) > MAX_DATA_KEYS:
        raise InvalidEvent("too_large", "data", f"{len(body)} keys > {MAX_DATA_KEYS}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise InvalidEvent("parse_error", None, f"duplicate JSON key {dup!r}")
    return out


def _int64(text: str) -> int:
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidEvent("parse_error", None, "integer beyond int64")
    return value


def _slow_checks(data: bytes, obj: dict[str, Any]) -> None:
    """Exact duplicate-key / int64 / control-character checks for records the fast test can't clear."""
    # Depth is already bounded by _check_shape, so json's recursive scanner cannot overflow here.
    json.loads(data, object_pairs_hook=_no_duplicates, parse_int=_int64)
    bad = _find_bad_chars(obj, ())
    if bad is not None:
        raise InvalidEvent("bad_format", bad, "control or bidi-override character")


def _find_bad_chars(node: object, path: tuple[str, ...]) -> str | None:
    if isinstance(node, str):
        return ".".join(path) or None if _BAD_CHARS.search(node) else None
    items: Any = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        sub = (*path, str(key))
        if isinstance(key, str) and _BAD_CHARS.search(key):
            return ".".join(sub)
        found = _find_bad_chars(value, sub)
        if found is not None:
            return found
    return None


def _record_model(obj: dict[str, Any]) -> Any:
    ext = obj.get("ext")
    if isinstance(ext, dict) and "ingest" in ext:
        raise InvalidEvent("forbidden_field", "ext.ingest", "ext.ingest is stamped by the collector")
    for field in ("ver", "name"):
        if field not in obj:
            raise InvalidEvent("missing_field", field)
        if type(obj[field]) is not str:
            raise InvalidEvent("type_error", field, "must be a string")
    if obj["ver"] != "4.0":
        raise InvalidEvent("unsupported_version", "ver", "only CS 4.0 records are accepted")
    model = RECORDS.get(obj["name"])
    if model is None:
        raise InvalidEvent("unknown_event", "name", repr(obj["name"][:100]))
    return model


_TYPE_TO_REASON: Final[dict[str, str]] = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "string_pattern_mismatch": "bad_format",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "string_too_short": "out_of_range",
    "string_too_long": "out_of_range",
    "too_short": "out_of_range",
    "too_long": "out_of_range",
    "finite_number": "type_error",
}


def _from_validation_error(exc: ValidationError) -> InvalidEvent:
    err = exc.errors(include_url=False, include_context=True, include_input=True)[0]
    kind = err["type"]
    loc = tuple(str(p) for p in err["loc"])
    field = ".".join(loc) or None
    reason = kind if kind in DECODE_REASONS else _TYPE_TO_REASON.get(kind, "type_error")
    if kind == "literal_error":
        # Out-of-enum value of the right JSON type → out_of_range; wrong JSON type → type_error.
        expects_str = str(err.get("ctx", {}).get("expected", "")).startswith("'")
        reason = "out_of_range" if isinstance(err.get("input"), str) == expects_str else "type_error"
    if loc[:3] == ("ext", "device", "localId") or (loc == ("ext", "device") and kind == "missing"):
        reason = "bad_device_id"
    elif loc == ("data", "schemaVersion") and reason == "out_of_range":
        reason = "unsupported_version"
    return InvalidEvent(reason, field, err["msg"])
