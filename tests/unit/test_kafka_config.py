"""The local broker's generated configuration (deploy/kafka_config.py, the pure part of deploy/kafka.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from deploy.kafka_config import _cluster_id, replication_for, server_properties


def test_cluster_ids_are_16_byte_uuids_never_starting_with_a_dash() -> None:
    for _ in range(5000):
        cluster_id = _cluster_id()
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_server_properties_are_kraft_single_node_on_loopback(tmp_path: Path) -> None:
    props = dict(line.split("=", 1) for line in server_properties(tmp_path, 19092, 19093, 6).splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["num.partitions"] == "6"
    assert props["log.dirs"] == str(tmp_path / "logs")


def test_one_node_config_is_unchanged_by_the_cluster_options(tmp_path: Path) -> None:
    """N=1 behaves as before: the cluster options' defaults give the single-node file byte for byte."""
    default = server_properties(tmp_path, 19092, 19093, 6)
    explicit = server_properties(tmp_path, 19092, 19093, 6, node_id=1, voters="", replication=1)
    assert default == explicit
    props = dict(line.split("=", 1) for line in default.splitlines())
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert "default.replication.factor" not in props
    assert "transaction.state.log.num.partitions" not in props


def test_a_cluster_node_names_every_voter_and_replicates_internal_topics_three_times(tmp_path: Path) -> None:
    voters = "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    text = server_properties(tmp_path, 9202, 9102, 6, node_id=2, voters=voters, replication=3)
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == voters
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9202,CONTROLLER://127.0.0.1:9102"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9202"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
        "default.replication.factor",
    ):
        assert props[key] == "3", key
    assert props["transaction.state.log.min.isr"] == props["share.coordinator.state.topic.min.isr"] == "2"


@pytest.mark.parametrize(
    ("brokers", "factor", "min_insync", "expected"),
    [
        (1, 0, 0, (1, 1)),
        (2, 0, 0, (2, 1)),
        (3, 0, 0, (3, 2)),
        (5, 0, 0, (3, 2)),
        (5, 5, 0, (5, 2)),
        (3, 1, 0, (1, 1)),
        (3, 3, 3, (3, 3)),
    ],
)
def test_replication_is_derived_from_the_broker_count_unless_given(
    brokers: int, factor: int, min_insync: int, expected: tuple[int, int]
) -> None:
    assert replication_for(brokers, factor, min_insync) == expected


@pytest.mark.parametrize(("brokers", "factor", "min_insync"), [(1, 3, 0), (3, 3, 4), (3, 4, 0)])
def test_impossible_replication_is_refused_with_the_reason(
    brokers: int, factor: int, min_insync: int
) -> None:
    with pytest.raises(ValueError, match=r"replication factor|min\.insync\.replicas"):
        replication_for(brokers, factor, min_insync)
