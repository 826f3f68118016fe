"""Hostile input against a real collector (real HTTP port) and a real Kafka broker.

Every bad line rides in a request that also carries good records: the answer names each bad
line's reason, the good records reach the events topic exactly once, the DLQ keeps the raw bytes
with reason headers, and the collector keeps serving.
"""

from __future__ import annotations

import gzip
import os
import resource
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer

from deploy.kafka import free_port
from fleetpulse.settings import DEMO_API_KEY, DEMO_IKEY, Settings, Tenant, load_settings
from ingest.harness import CollectorThread
from ingest.records import fresh_record

pytestmark = pytest.mark.kafka

OTHER_KEY = "key-fabrikam"
OTHER_IKEY = "o:" + "ab" * 16
NDJSON = "application/x-json-stream"


# -- helpers -----------------------------------------------------------------------------------


def post(
    url: str,
    body: bytes,
    *,
    apikey: str | None = DEMO_API_KEY,
    encoding: str | None = None,
    content_type: str = NDJSON,
) -> tuple[int, dict[str, str], Any]:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    headers = {"Content-Type": content_type}
    if apikey is not None:
        headers["apikey"] = apikey
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    try:
        conn.request("POST", "/v1/events", body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, dict(resp.getheaders()), orjson.loads(payload) if payload else None
    finally:
        conn.close()


def get(url: str, path: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url + path, timeout=30) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def consume(
    bootstrap: str, topic: str, expected: int, idle_s: float = 3.0, timeout_s: float = 60.0
) -> list[Any]:
    """Everything on ``topic``: waits for ``expected`` messages, then ``idle_s`` more for extras."""
    import time

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                if len(out) >= expected and time.monotonic() - last > idle_s:
                    break
                continue
            assert msg.error() is None, msg.error()
            out.append(msg)
            last = time.monotonic()
    finally:
        consumer.close()
    return out


def identity(value: bytes) -> tuple[str, str, int]:
    record = orjson.loads(value)
    sdk = record["ext"]["sdk"]
    return record["ext"]["device"]["localId"].lower(), sdk["epoch"], sdk["seq"]


def rec(name: str, device: int, seq: int, **kw: Any) -> dict[str, Any]:
    return fresh_record(name, device=device, seq=seq, **kw)


def line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def collector_settings(kafka_bootstrap: str, new_topic: Callable[..., str]) -> Settings:
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        collector_port=free_port(),
        topic_events=new_topic(3, "events"),
        topic_dlq=new_topic(1, "dlq"),
        tenants={
            DEMO_API_KEY: Tenant(name="contoso", ikeys=(DEMO_IKEY,)),
            OTHER_KEY: Tenant(name="fabrikam", ikeys=(OTHER_IKEY,)),
        },
    )


@pytest.fixture
def collector(collector_settings: Settings) -> Iterator[str]:
    with CollectorThread(collector_settings) as url:
        yield url


# -- per-record hostile input ------------------------------------------------------------------


def test_every_bad_record_gets_its_reason_and_good_records_land_once(
    collector: str, collector_settings: Settings, kafka_bootstrap: str
) -> None:
    good_a = rec("Fleet.Boot.Performance", 1, 1)
    good_b = rec("Fleet.Fault.AppCrash", 2, 1)
    good_c = rec("Fleet.Logon.Performance", 3, 1)
    good_d = rec("Fleet.Census.Device", 4, 7)
    same_report = rec("Fleet.Fault.AppCrash", 2, 2)
    same_report["data"]["reportId"] = good_b["data"]["reportId"]
    future = rec("Fleet.Boot.Performance", 5, 1)
    future["time"] = "2099-01-01T00:00:00.000Z"
    foreign = rec("Fleet.Boot.Performance", 6, 1, ikey=OTHER_IKEY)
    spoofed = rec("Fleet.Boot.Performance", 7, 1)
    spoofed["ext"]["ingest"] = {"time": "2020-01-01T00:00:00Z", "clientIp": "10.0.0.1", "tenant": "x"}
    big = rec("Fleet.Inventory.AppAdd", 8, 1)
    big["data"]["displayName"] = os.urandom(100_000).hex()  # incompressible: stays under 20x
    boot = line(rec("Fleet.Boot.Performance", 9, 1))
    crash = line(rec("Fleet.Fault.AppCrash", 10, 1))

    lines: list[tuple[bytes, str | None]] = [
        (line(good_a), None),
        (b'{"ver":"4.0","data":' + b"[" * 10_000 + b"]" * 10_000 + b"}", "too_deep"),
        (line(good_b), None),
        (boot.replace(b'"Windows"', b'"Win\xffdows"', 1), "encoding_error"),
        (crash.replace(b'"appName":"', b'"appName":"\\ud800', 1), "encoding_error"),
        (boot.replace(b'{"ver":"4.0"', b'{"ver":"4.0","ver":"4.0"', 1), "parse_error"),
        (line(big), "too_large"),
        (line(future), "time_out_of_range"),
        (line(good_a), None),  # replayed (device, epoch, seq): acknowledged, not forwarded
        (line(same_report), None),  # replayed crash reportId under a new seq: same
        (line(foreign), "tenant_mismatch"),
        (line(spoofed), "forbidden_field"),
        (boot + b" trailing", "parse_error"),
        (boot.replace(b'"gpBootMs":0', b'"gpBootMs":NaN', 1), "parse_error"),
        (line(good_c), None),
        (b"", None),  # blank lines are skipped, but keep their number
        (line(good_d), None),
    ]
    body = b"\n".join(raw for raw, _ in lines) + b"\n"
    status, _, answer = post(collector, gzip.compress(body), encoding="gzip")

    expected_errors = [{"line": i, "reason": reason} for i, (_, reason) in enumerate(lines) if reason]
    assert status == 200, answer
    assert answer == {"acc": 6, "rej": len(expected_errors), "errors": expected_errors}

    # a second request replays A and B and adds one new record
    good_e = rec("Fleet.Agent.Heartbeat", 11, 3)
    status, _, answer = post(collector, b"\n".join([line(good_a), line(good_e), line(good_b)]))
    assert (status, answer) == (200, {"acc": 3, "rej": 0, "errors": []})

    events = consume(kafka_bootstrap, collector_settings.topic_events, expected=5)
    got = sorted(identity(m.value()) for m in events)
    want = sorted(identity(line(r)) for r in (good_a, good_b, good_c, good_d, good_e))
    assert got == want  # each good record exactly once
    for m in events:
        record = orjson.loads(m.value())
        assert m.key() == record["ext"]["device"]["localId"].lower().encode()
        ingest = record["ext"]["ingest"]
        assert ingest["tenant"] == "contoso"
        assert ingest["clientIp"] == "127.0.0.1"
        assert ingest["time"].endswith("Z")

    dlq = consume(kafka_bootstrap, collector_settings.topic_dlq, expected=len(expected_errors))
    assert len(dlq) == len(expected_errors)
    cap = collector_settings.collector_dlq_max_value_bytes
    for m in dlq:
        headers = {k: v.decode() for k, v in m.headers()}
        index = int(headers["line"])
        raw, reason = lines[index]
        assert headers["reason"] == reason
        assert headers["tenant"] == "contoso"
        assert headers["received_at"].endswith("Z")
        assert m.value() == raw[:cap]
        assert headers["truncated"] == ("1" if len(raw) > cap else "0")
        assert int(headers["size"]) == len(raw)
    assert {k: v.decode() for k, v in dlq[0].headers()}.keys() >= {
        "reason",
        "field",
        "tenant",
        "line",
        "received_at",
    }

    _, metrics = get(collector, "/metrics")
    text = metrics.decode()
    assert "fleetpulse_collector_records_duplicate_total 4.0" in text
    assert 'fleetpulse_collector_records_rejected_total{reason="encoding_error"} 2.0' in text
    assert "fleetpulse_collector_records_accepted_total 5.0" in text


# -- request-level hostile input ---------------------------------------------------------------


def _bomb(encoding: str, prefix: bytes, zeros: int) -> bytes:
    """``prefix`` then ``zeros`` zero bytes, compressed as a stream (never held in memory)."""
    obj = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else -15)
    parts = [obj.compress(prefix)]
    chunk = bytes(1 << 20)
    for _ in range(zeros >> 20):
        parts.append(obj.compress(chunk))
    parts.append(obj.flush())
    return b"".join(parts)


def test_request_level_refusals_keep_the_collector_serving(
    collector: str, collector_settings: Settings, kafka_bootstrap: str
) -> None:
    seq = iter(range(1, 10_000))

    def good_line() -> bytes:
        return line(rec("Fleet.Boot.Performance", 100, next(seq)))

    def good_request_works() -> tuple[str, str, int]:
        record = good_line()
        status, _, answer = post(collector, record)
        assert (status, answer) == (200, {"acc": 1, "rej": 0, "errors": []})
        return identity(record)

    delivered = []
    refused: list[bytes] = []

    # gzip / deflate bombs: 1 GiB of zeros after a good record -> 413 fast, memory stays bounded
    rss_before = peak_rss_mb()
    for encoding in ("gzip", "deflate"):
        head = good_line() + b"\n"
        refused.append(head)
        bomb = _bomb(encoding, head, 1 << 30)
        assert len(bomb) < collector_settings.collector_max_body_bytes
        status, _, answer = post(collector, bomb, encoding=encoding)
        assert status == 413, answer
        assert answer["error"] == "decoded_too_large"
        delivered.append(good_request_works())
    assert peak_rss_mb() - rss_before < 200

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"apikey": "no-such-key"}, 401, "unknown_apikey"),
        ({"apikey": None}, 401, "missing_apikey"),
        ({"encoding": "br"}, 415, "unsupported_encoding"),
        ({"content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"content_type": "application/json"}, 415, "unsupported_media_type"),
    ]
    for kwargs, want_status, want_error in cases:
        body = good_line()
        refused.append(body)
        status, _, answer = post(collector, body, **kwargs)
        assert (status, answer["error"]) == (want_status, want_error)
        delivered.append(good_request_works())

    # 501 records -> 413
    many = [good_line() for _ in range(collector_settings.collector_max_records + 1)]
    refused.extend(many)
    status, _, answer = post(collector, b"\n".join(many))
    assert (status, answer["error"]) == (413, "too_many_records")
    delivered.append(good_request_works())

    # a 5 MB record: as a plain body it breaks the 3 MiB body cap (413); gzip'd it fits the body
    # and the decoded caps, and is refused alone as too_large while its neighbour is accepted
    huge = rec("Fleet.Inventory.AppAdd", 101, 1)
    huge["data"]["displayName"] = os.urandom(2_500_000).hex()
    neighbour = good_line()
    refused.append(neighbour)
    status, _, answer = post(collector, neighbour + b"\n" + line(huge))
    assert (status, answer["error"]) == (413, "body_too_large")
    neighbour = good_line()
    status, _, answer = post(collector, gzip.compress(neighbour + b"\n" + line(huge)), encoding="gzip")
    assert (status, answer) == (200, {"acc": 1, "rej": 1, "errors": [{"line": 1, "reason": "too_large"}]})
    delivered.append(identity(neighbour))
    delivered.append(good_request_works())

    # broken framing: truncated gzip, empty body -> 400
    status, _, answer = post(collector, gzip.compress(good_line())[:-12], encoding="gzip")
    assert (status, answer["error"]) == (400, "bad_compression")
    status, _, answer = post(collector, b"\n\n")
    assert (status, answer["error"]) == (400, "empty_body")
    delivered.append(good_request_works())

    status, body = get(collector, "/healthz")
    assert status == 200, body
    events = consume(kafka_bootstrap, collector_settings.topic_events, expected=len(delivered))
    assert sorted(identity(m.value()) for m in events) == sorted(delivered)
