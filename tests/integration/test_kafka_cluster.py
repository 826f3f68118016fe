"""A real 3-broker cluster: replication of every topic, and broker kills through the real stack.

Replication: the pipeline's topics and Kafka's internal ones (offsets, transaction state) have 3
replicas and ``min.insync.replicas`` 2.

Broker kills (docs/reliability.md fault 8; the runs live in tests/integration/cluster_harness.py):
HTTP in (the simulator posting to the collector), ClickHouse out (the sink's embedded store),
Kafka topics in between; nothing looks inside the processor, so the test holds for any processor
that keeps the stack's contract.

* undisturbed (module fixture): the fleet through a stack on the cluster, no fault -> every
  aggregate cell, merged across source partitions.
* disturbed (in the suite, with a CPU hog): the same fleet under a steady load; ``kill -9`` of the
  broker leading the events topic's partitions, restart; ``kill -9`` of the broker coordinating
  the processor's transactions, restart -> every acknowledged event once in the raw tables, every
  aggregate cell equal to the undisturbed run's, and no transaction left half: after the
  processor's clean stop no output or changelog partition has an open transaction (last stable
  offset == high watermark) and Kafka's own ``find-hanging`` finds none.
* opt-in: ``FLEETPULSE_KAFKA_CLUSTER_QUIET=1`` the same without the hog;
  ``FLEETPULSE_KAFKA_CLUSTER_SOAK=1`` a third kill, a node down 75 s (past faust's transaction
  timeout).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import ConfigResource

from bench.kafka_cluster import bench as bench_kafka
from deploy.kafka import create_topics
from deploy.kafka_cluster import LocalKafkaCluster
from tests.faults.harness import FaultStack, Load, Watch, assert_exact, reconcile
from tests.integration.cluster_harness import (
    FLEET,
    KILLS,
    PACE,
    SOAK_KILLS,
    Cells,
    check,
    disturbed_run,
    snapshot,
)

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.e2e]


def test_every_topic_has_three_replicas_and_min_insync_two(kafka_cluster: LocalKafkaCluster) -> None:
    admin = kafka_cluster.admin()
    create_topics(kafka_cluster.bootstrap, {"replicated.events": 3})
    producer = Producer(
        {"bootstrap.servers": kafka_cluster.bootstrap, "transactional.id": "replicated-probe"}
    )
    producer.init_transactions(60)  # the transaction state topic exists from the first one
    producer.begin_transaction()
    producer.produce("replicated.events", key=b"k", value=b"v")
    producer.commit_transaction(60)
    meta = admin.list_topics(timeout=10)
    assert sorted(meta.brokers) == [1, 2, 3]
    for topic in ("replicated.events", "__consumer_offsets", "__transaction_state"):
        assert {len(p.replicas) for p in meta.topics[topic].partitions.values()} == {3}, topic
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        config = next(iter(admin.describe_configs([resource]).values())).result(timeout=10)
        assert config["min.insync.replicas"].value == "2", topic


@pytest.fixture(scope="module")
def undisturbed(kafka_cluster: LocalKafkaCluster, tmp_path_factory: pytest.TempPathFactory) -> Cells:
    """Every aggregate cell of the fleet through a stack on the cluster, with no fault."""
    root = tmp_path_factory.mktemp("undisturbed")
    with FaultStack(root, with_processor=True, cluster=kafka_cluster) as stack:
        load = Load(stack.collector_url, FLEET, rate=PACE).start()
        load.release()
        with Watch(stack, load) as watch:
            report = reconcile(stack, "undisturbed (3 brokers)", load, watch)
        report.record(root / "faults.json")
        assert_exact(report)
        assert report.aggregates_checked > 0
        return snapshot(stack)


@pytest.mark.parametrize(
    "hog",
    [
        pytest.param(True, id="cpu-hog"),
        pytest.param(
            False,
            id="quiet",
            marks=pytest.mark.skipif(
                os.environ.get("FLEETPULSE_KAFKA_CLUSTER_QUIET") != "1",
                reason="opt-in: FLEETPULSE_KAFKA_CLUSTER_QUIET=1 (the suite runs the CPU-hog variant)",
            ),
        ),
    ],
)
def test_killing_the_events_leader_then_the_transaction_coordinator_loses_and_doubles_nothing(
    kafka_cluster: LocalKafkaCluster, undisturbed: Cells, tmp_path: Path, hog: bool
) -> None:
    report, got = disturbed_run(kafka_cluster, tmp_path, KILLS, PACE, hog)
    report.extra["cells_compared"] = sum(len(c) for c in undisturbed.values())
    report.record(tmp_path / "faults.json", tmp_path.parent / "faults.json")
    check(report, got, undisturbed)


@pytest.mark.skipif(
    os.environ.get("FLEETPULSE_KAFKA_CLUSTER_SOAK") != "1",
    reason="opt-in: FLEETPULSE_KAFKA_CLUSTER_SOAK=1 (~8 min)",
)
def test_soak_a_node_down_past_the_transaction_timeout(
    kafka_cluster: LocalKafkaCluster, undisturbed: Cells, tmp_path: Path
) -> None:
    """The suite's two kills, then the node holding most of the processor's own partitions down
    75 s, paced at 8 events/s, with the hog."""
    report, got = disturbed_run(kafka_cluster, tmp_path, SOAK_KILLS, 8.0, hog=True)
    report.extra["cells_compared"] = sum(len(c) for c in undisturbed.values())
    report.record(tmp_path / "faults.json", tmp_path.parent / "faults.json")
    check(report, got, undisturbed)


def test_the_kafka_capacity_bench_runs_on_the_cluster(kafka_cluster: LocalKafkaCluster) -> None:
    """A tiny run of ``python -m bench.kafka_cluster`` (its figures are measured by the command,
    never here): every case ran, and three replicas hold three times one replica's bytes."""
    runs, summary = bench_kafka(kafka_cluster, events=2_000, rounds=1, many_partitions=0, say=lambda _: None)
    assert [r.case for r in runs] == ["rf1", "rf3"]
    assert all(r.events == 2_000 and r.produce_events_s > 0 and r.consume_events_s > 0 for r in runs)
    assert 2.9 <= summary["rf3_over_rf1"]["disk_bytes_per_event"]["median"] <= 3.1
