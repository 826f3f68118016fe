"""Collector security on a real port and a real broker: hashed keys, per-key rate limits, TLS."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from deploy.kafka import free_port
from fleetpulse.settings import DEMO_API_KEY, DEMO_IKEY, Settings, Tenant, load_settings
from ingest.auth import KeyRing, hashed_form, key_digest
from ingest.harness import CollectorThread
from ingest.ratelimit import RateLimiter, TokenBucket, retry_after
from ingest.records import fresh_record

NDJSON = "application/x-json-stream"
SECRET_KEY = "k-3q2VYbq0t2cW1oCq0dC8mKq9uA6pQf1"  # configured by hash only


# -- units: key ring, token bucket -------------------------------------------------------------


def test_key_ring_plaintext_and_hashed_keys() -> None:
    contoso = Tenant(name="contoso", ikeys=(DEMO_IKEY,))
    fabrikam = Tenant(name="fabrikam", ikeys=("o:" + "ab" * 16,))
    ring = KeyRing({DEMO_API_KEY: contoso, hashed_form(SECRET_KEY): fabrikam})
    assert ring.lookup(DEMO_API_KEY) == contoso
    assert ring.lookup(SECRET_KEY) == fabrikam
    assert ring.lookup(hashed_form(SECRET_KEY)) is None  # the digest is not a key
    assert ring.lookup("") is None
    assert ring.lookup(DEMO_API_KEY + " ") is None
    assert ring.lookup("\udcff") is None  # lone surrogate: hashed, not crashed
    # the ring holds digests only: no plaintext key among its values
    held = repr(vars(ring))
    assert DEMO_API_KEY not in held
    assert SECRET_KEY not in held
    assert key_digest(SECRET_KEY).hex() in hashed_form(SECRET_KEY)


def test_settings_accept_hashed_keys_and_refuse_malformed_ones() -> None:
    t = Tenant(name="x", ikeys=(DEMO_IKEY,))
    assert load_settings(tenants={hashed_form("abc"): t}).tenants
    with pytest.raises(ValueError, match="64 hex"):
        load_settings(tenants={"sha256:abc": t})
    # the TENANTS environment format of design.md keeps working
    env = {DEMO_API_KEY: {"name": "contoso", "ikeys": [DEMO_IKEY]}}
    assert Settings.model_validate({"tenants": env}).tenants[DEMO_API_KEY].name == "contoso"


def test_token_bucket_refills_and_answers_the_wait() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10.0, capacity=20.0, clock=lambda: now[0])
    assert bucket.take(20) == 0.0
    assert bucket.take(1) == pytest.approx(0.1)
    now[0] = 0.5
    assert bucket.take(5) == 0.0  # 5 tokens refilled
    assert bucket.take(1) == pytest.approx(0.1)
    now[0] = 100.0
    assert bucket.take(50) == 0.0  # larger than the bucket: granted when full, leaves a debt
    assert bucket.take(1) == pytest.approx(3.1)
    assert retry_after(0.01) == 1
    assert retry_after(3.1) == 4


def test_rate_limiter_is_per_key_and_zero_disables() -> None:
    now = [0.0]
    limiter = RateLimiter(requests_per_s=1, records_per_s=0, burst_s=2, clock=lambda: now[0])
    assert limiter.take_request("a") == 0
    assert limiter.take_request("a") == 0
    assert limiter.take_request("a") > 0
    assert limiter.take_request("b") == 0  # another key has its own bucket
    assert limiter.take_records("a", 10**9) == 0  # records unlimited


# -- over HTTP -----------------------------------------------------------------------------------


def _post(
    url: str, lines: list[dict[str, Any]], apikey: str, context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str], Any]:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=30, context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    body = b"\n".join(orjson.dumps(line) for line in lines)
    try:
        conn.request("POST", "/v1/events", body=body, headers={"Content-Type": NDJSON, "apikey": apikey})
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, dict(resp.getheaders()), orjson.loads(payload) if payload else None
    finally:
        conn.close()


def _settings(kafka_bootstrap: str, new_topic: Callable[..., str], **extra: Any) -> Settings:
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        collector_port=free_port(),
        topic_events=new_topic(1, "events"),
        topic_dlq=new_topic(1, "dlq"),
        tenants={hashed_form(SECRET_KEY): Tenant(name="contoso", ikeys=(DEMO_IKEY,))},
        **extra,
    )


def _records(n: int, first_seq: int) -> list[dict[str, Any]]:
    return [fresh_record("Fleet.Boot.Performance", device=7, seq=first_seq + i) for i in range(n)]


@pytest.mark.kafka
def test_hashed_key_authenticates_and_rate_limits_answer_429(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    settings = _settings(
        kafka_bootstrap,
        new_topic,
        collector_rate_requests_per_s=1.0,
        collector_rate_records_per_s=5.0,
        collector_rate_burst_s=2.0,
    )
    with CollectorThread(settings) as url:
        status, _, body = _post(url, _records(1, 1), SECRET_KEY)
        assert (status, body["acc"]) == (200, 1)
        status, _, body = _post(url, _records(1, 2), hashed_form(SECRET_KEY))  # the digest is no key
        assert (status, body["error"]) == (401, "unknown_apikey")
        # records bucket: 10 tokens (5/s x 2 s), 1 used; 20 more records are over it
        status, headers, body = _post(url, _records(20, 3), SECRET_KEY)
        assert (status, body) == (429, {"error": "rate_limited", "detail": "records"})
        assert int(headers["Retry-After"]) >= 1
        # requests bucket: 2 tokens, both used by now -> the next request is refused as a request
        status, headers, body = _post(url, _records(1, 3), SECRET_KEY)
        assert (status, body["detail"]) == (429, "requests")
        assert headers["Retry-After"] == "1"
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
            page = resp.read().decode()
    assert 'fleetpulse_collector_rate_limited_total{limit="records"} 1.0' in page
    assert 'fleetpulse_collector_rate_limited_total{limit="requests"} 1.0' in page
    assert 'fleetpulse_collector_requests_total{code="429"} 2.0' in page


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.kafka
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_tls_serves_https_and_refuses_plain_http(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    settings = _settings(kafka_bootstrap, new_topic, collector_tls_cert_file=cert, collector_tls_key_file=key)
    with CollectorThread(settings) as url:
        assert url.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(cert))
        status, _, body = _post(url, _records(2, 1), SECRET_KEY, context=trusted)
        assert (status, body["acc"]) == (200, 2)
        # an untrusted client refuses the certificate
        with pytest.raises(ssl.SSLCertVerificationError):
            _post(url, _records(1, 3), SECRET_KEY, context=ssl.create_default_context())
        # TLS 1.1 and older are refused by the server
        old = ssl.create_default_context(cafile=str(cert))
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _post(url, _records(1, 3), SECRET_KEY, context=old)
        # plain http on the TLS port gets no HTTP answer
        plain = url.replace("https://", "http://")
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            _post(plain, _records(1, 3), SECRET_KEY)
