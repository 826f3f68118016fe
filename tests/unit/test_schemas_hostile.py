"""Hostile input classes: never a crash, always one InvalidEvent with a specific reason."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import DECODE_REASONS, InvalidEvent, decode
from schemas.examples import EXAMPLES_RECEIVED_AT, load_examples

EXAMPLES = load_examples()
BOOT_LINE = orjson.dumps(EXAMPLES["Fleet.Boot.Performance"])


def reason_of(raw: bytes | str) -> tuple[str, str | None]:
    with pytest.raises(InvalidEvent) as err:
        decode(raw, received_at=EXAMPLES_RECEIVED_AT)
    return err.value.reason, err.value.field


def with_data(extra: str) -> bytes:
    """The boot example with ``extra`` spliced in as the first member of ``data``."""
    return BOOT_LINE.replace(b'"data":{', b'"data":{' + extra.encode() + b",", 1)


def test_ten_thousand_deep_json_is_refused_quickly() -> None:
    for deep in (b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000):
        start = time.perf_counter()
        assert reason_of(deep)[0] == "too_deep"
        assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("depth", [5, 50, 1000])
def test_deep_data_is_too_deep(depth: int) -> None:
    value = "[" * depth + "]" * depth
    assert reason_of(with_data(f'"x":{value}')) == ("too_deep", "data")


def test_deep_envelope_is_too_deep() -> None:
    line = BOOT_LINE.replace(b'"ver":"4.0"', b'"ver":[[[[[["4.0"]]]]]]', 1)
    assert reason_of(line)[0] == "too_deep"


def test_data_with_more_than_64_keys_is_too_large() -> None:
    extra = ",".join(f'"k{i}":1' for i in range(70))
    assert reason_of(with_data(extra)) == ("too_large", "data")


@pytest.mark.parametrize(
    "raw",
    [
        BOOT_LINE.replace(b"Dell Inc.", b"Dell \xff Inc."),
        BOOT_LINE.replace(b"Dell Inc.", b"Dell \xc0\xaf Inc."),  # overlong encoding of '/'
        BOOT_LINE.replace(b"Dell Inc.", b"Dell \xed\xa0\x80 Inc."),  # UTF-8-encoded surrogate
        BOOT_LINE.replace(b"Dell Inc.", b"Dell \\ud800 Inc."),  # lone surrogate escape
        BOOT_LINE.replace(b"Dell Inc.", b"Dell \\udc00\\ud800 Inc."),
        BOOT_LINE.decode().replace("Dell Inc.", "Dell \ud800 Inc."),  # str with a lone surrogate
    ],
)
def test_encoding_errors(raw: bytes | str) -> None:
    assert reason_of(raw)[0] == "encoding_error"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        BOOT_LINE + b" trailing",
        BOOT_LINE + b"\n{}",
        BOOT_LINE[:-1],
        b"\xef\xbb\xbf" + BOOT_LINE,  # BOM
        with_data('"totalBootMs":NaN'),
        with_data('"totalBootMs":Infinity'),
        with_data('"totalBootMs":-Infinity'),
        with_data('"totalBootMs":1e400'),
        with_data(f'"totalBootMs":{2**63}'),
        with_data(f'"totalBootMs":{2**64}'),
        with_data(f'"totalBootMs":{-(2**63) - 1}'),
        with_data(f'"totalBootMs":{10**30}'),
        with_data('"bootId":1'),  # duplicate key: bootId appears later too
        BOOT_LINE.replace(b'{"ver":"4.0",', b'{"ver":"4.0","ver":"4.0",', 1),
        BOOT_LINE.replace(b'"seq":18231', b'"seq":1,"seq":18231', 1),
        with_data('"b\\u006fotId":1'),  # escaped duplicate key
        with_data('"x\\u003a":"a\\u003a","x\\u003a":"b"'),  # escaped colons hiding a duplicate
        b'{"ver":"4.0","name":"Fleet.Boot.Performance\n"}',  # raw newline inside a string
        b'{"a":"\x01"}',  # raw control character inside a string
    ],
)
def test_parse_errors(raw: bytes) -> None:
    assert reason_of(raw)[0] == "parse_error"


def test_int64_boundaries_are_not_parse_errors() -> None:
    assert reason_of(with_data(f'"x":{2**63 - 1}'))[0] == "unknown_field"
    assert reason_of(with_data(f'"x":{-(2**63)}'))[0] == "unknown_field"


def test_duplicate_keys_with_colons_in_strings_are_caught() -> None:
    line = BOOT_LINE.replace(b'"iKey":', b'"iKey":"o:00000000000000000000000000000000","iKey":', 1)
    assert reason_of(line)[0] == "parse_error"


@pytest.mark.parametrize("size", [64 * 1024 + 1, 5 * 1024 * 1024])
def test_oversized_record_is_too_large(size: int) -> None:
    padding = "x" * (size - len(BOOT_LINE) + len("Dell Inc."))
    line = BOOT_LINE.replace(b"Dell Inc.", padding.encode(), 1)
    assert len(line) > 64 * 1024
    assert reason_of(line) == ("too_large", None)
    assert reason_of(line.decode()) == ("too_large", None)


@pytest.mark.parametrize(
    ("char", "where"),
    [
        ("\\u0000", "data.appName"),
        ("\\n", "data.appName"),
        ("\\t", "data.appName"),
        ("\\u001b", "data.appName"),
        ("\x7f", "data.appName"),
        ("\u0085", "data.appName"),  # C1 NEL
        ("\u202e", "data.appName"),  # RIGHT-TO-LEFT OVERRIDE
        ("\u2066", "data.appName"),  # LEFT-TO-RIGHT ISOLATE
        ("\\u202E", "data.appName"),
    ],
)
def test_control_and_bidi_characters_in_names(char: str, where: str) -> None:
    line = orjson.dumps(EXAMPLES["Fleet.Fault.AppCrash"]).replace(
        b"ms-teams.exe", f"ms-te{char}ams.exe".encode(), 1
    )
    assert reason_of(line) == ("bad_format", where)


def test_control_character_in_a_nested_string() -> None:
    line = BOOT_LINE.replace(b"mfehidk.sys", b"mfe\\u0007hidk.sys")
    assert reason_of(line) == ("bad_format", "data.slowComponents.0.name")


def test_escapes_that_are_harmless_still_decode() -> None:
    line = BOOT_LINE.replace(b"Dell Inc.", b'Dell \\u0049nc. \\"quoted\\" \\\\ \\/')
    event = decode(line, received_at=EXAMPLES_RECEIVED_AT)
    assert event.ext.protocol is not None
    assert event.ext.protocol.dev_make == 'Dell Inc. "quoted" \\ /'


@pytest.mark.parametrize("raw", [b"[]", b"1", b'"x"', b"null", b"true"])
def test_non_object_records(raw: bytes) -> None:
    assert reason_of(raw)[0] == "type_error"


@pytest.mark.parametrize("raw", [bytearray(BOOT_LINE), memoryview(BOOT_LINE)])
def test_bytes_like_input(raw: Any) -> None:
    assert decode(raw, received_at=EXAMPLES_RECEIVED_AT).name == "Fleet.Boot.Performance"


def test_non_bytes_input_is_type_error() -> None:
    assert reason_of(12345)[0] == "type_error"  # type: ignore[arg-type]  # deliberately wrong


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_invalid_event(raw: bytes) -> None:
    with contextlib.suppress(InvalidEvent):
        decode(raw, received_at=EXAMPLES_RECEIVED_AT)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(sorted(EXAMPLES)),
    st.sampled_from(["", "data", "ext", "ext.os", "ext.sdk", "ext.device"]),
    st.text(min_size=1, max_size=12),
    json_values,
)
def test_arbitrary_member_only_raises_invalid_event(name: str, where: str, key: str, value: object) -> None:
    record: dict[str, Any] = orjson.loads(orjson.dumps(EXAMPLES[name]))
    node: Any = record
    for part in filter(None, where.split(".")):
        node = node[part]
    node[key] = value
    try:
        raw = orjson.dumps(record)
    except TypeError:  # e.g. ints beyond 64 bit
        raw = repr(record).encode()
    try:
        decode(raw, received_at=EXAMPLES_RECEIVED_AT)
    except InvalidEvent as exc:
        reason: str | None = exc.reason
    else:
        reason = None
    assert reason is None or reason in DECODE_REASONS


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(sorted(EXAMPLES)),
    st.integers(min_value=0, max_value=2000),
    st.binary(min_size=1, max_size=4),
)
def test_corrupted_examples_only_raise_invalid_event(name: str, pos: int, junk: bytes) -> None:
    line = orjson.dumps(EXAMPLES[name])
    pos %= len(line)
    with contextlib.suppress(InvalidEvent):
        decode(line[:pos] + junk + line[pos + len(junk) :], received_at=EXAMPLES_RECEIVED_AT)
