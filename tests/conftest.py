"""Session fixtures: one real Kafka broker for the whole run.

Order of preference: an external broker (``FLEETPULSE_KAFKA_BOOTSTRAP``), testcontainers'
Kafka where a Docker engine answers, else the project's own launcher (jars from Maven Central).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.kafka import LocalKafka, create_topics


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]  # testcontainers' dependency, untyped

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bootstrap address of a real Kafka broker shared by the session."""
    external = os.environ.get("FLEETPULSE_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = LocalKafka(data_dir=tmp_path_factory.mktemp("kafka"), heap_mb=512)
    broker.start()
    print(f"\n[kafka] local broker {broker.bootstrap} started in {broker.startup_s:.1f}s")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
        print(f"\n[kafka] local broker stopped in {broker.shutdown_s:.1f}s")


@pytest.fixture(scope="session")
def clickhouse_server_url() -> Iterator[str]:
    """A real ClickHouse server: ``FLEETPULSE_TEST_CLICKHOUSE_URL``, or testcontainers' where a
    Docker engine answers; otherwise the test is skipped with the reason (no fake stands in)."""
    external = os.environ.get("FLEETPULSE_TEST_CLICKHOUSE_URL")
    if external:
        yield external
        return
    if not _docker_answers():
        pytest.skip("no ClickHouse server: set FLEETPULSE_TEST_CLICKHOUSE_URL or provide a Docker engine")
    from testcontainers.community.clickhouse import ClickHouseContainer

    with ClickHouseContainer("clickhouse/clickhouse-server:25.8", port=9000) as container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(9000)
        yield f"clickhouse://{container.username}:{container.password}@{host}:{port}/default"


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Callable[..., str]:
    """A factory creating uniquely named topics: ``new_topic(partitions) -> name``."""

    def make(partitions: int = 3, prefix: str = "t") -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        create_topics(kafka_bootstrap, {name: partitions})
        return name

    return make


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "fleetpulse-data"
