"""Hypothesis over real HTTP: hostile bodies never crash the collector; answers stay in contract."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy.kafka import free_port
from fleetpulse.settings import DEMO_API_KEY, load_settings
from ingest.harness import CollectorThread
from schemas import ALL_REASONS
from schemas.fuzz import HOSTILE, seeds

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def collector(kafka_bootstrap: str) -> Iterator[str]:
    from deploy.kafka import create_topics

    events, dlq = f"fz-ev.{free_port()}", f"fz-dlq.{free_port()}"
    create_topics(kafka_bootstrap, {events: 1, dlq: 1})
    s = load_settings(kafka_bootstrap=kafka_bootstrap, collector_port=free_port(), topic_events=events,
                      topic_dlq=dlq)  # fmt: skip
    with CollectorThread(s) as url:
        yield url


_line = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda b, i, t: b[:i] + t + b[i:],
        st.sampled_from(seeds()),
        st.integers(0, 2000),
        st.sampled_from(HOSTILE),
    ),
    st.builds(lambda b, i: b[:i], st.sampled_from(seeds()), st.integers(0, 2000)),
    st.sampled_from(seeds()),
)


def _post(url: str, body: bytes) -> tuple[int, object]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        headers = {"Content-Type": "application/x-json-stream", "apikey": DEMO_API_KEY}
        conn.request("POST", "/v1/events", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, orjson.loads(resp.read())
    finally:
        conn.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=8))
def test_hostile_bodies_over_http(collector: str, lines: list[bytes]) -> None:
    payload = b"\n".join(lines)
    status, body = _post(collector, payload)
    assert status in (200, 400, 413), body
    assert isinstance(body, dict)
    if status == 200:
        assert body["acc"] + body["rej"] <= len(payload.split(b"\n"))
        assert all(e["reason"] in ALL_REASONS for e in body["errors"])


def test_collector_still_healthy_after(collector: str, new_topic: Callable[..., str]) -> None:
    status, _ = _post(collector, seeds()[0])
    assert status == 200
