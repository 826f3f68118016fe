"""The local broker's generated configuration (pure parts of deploy/kafka.py)."""

from __future__ import annotations

import base64
from pathlib import Path

from deploy.kafka import _cluster_id, server_properties


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
