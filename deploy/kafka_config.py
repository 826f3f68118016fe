"""The local broker's configuration, as pure functions: its ``server.properties``, its log4j2
config, cluster ids, and the replication a cluster of N brokers gets (deploy/kafka.py uses them)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path


def _cluster_id() -> str:
    # as Kafka's Uuid.randomUuid(): never one starting with "-", which the storage tool's
    # argument parser would take for an option (1 in 64 random ids)
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def min_insync_for(replication: int) -> int:
    """2 from 3 replicas on: one broker may be down and an acknowledged write still has two copies."""
    return 2 if replication >= 3 else 1


def replication_for(brokers: int, factor: int = 0, min_insync: int = 0) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of ``brokers``; 0 derives each."""
    rf = factor or min(3, brokers)
    if not 1 <= rf <= brokers:
        raise ValueError(f"replication factor {rf} needs at least {rf} brokers; the cluster has {brokers}")
    isr = min_insync or min_insync_for(rf)
    if not 1 <= isr <= rf:
        raise ValueError(f"min.insync.replicas {isr} must be between 1 and the replication factor {rf}")
    return rf, isr


def server_properties(
    data_dir: Path,
    port: int,
    controller_port: int,
    partitions: int,
    *,
    node_id: int = 1,
    voters: str = "",
    replication: int = 1,
) -> str:
    """One node's ``server.properties``; ``voters`` "" is this node alone (a one-node quorum),
    ``replication`` the internal topics' replicas (and the default of auto-created topics)."""
    listeners = f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"
    internal_rf, internal_isr = str(replication), str(min_insync_for(replication))
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters or f"{node_id}@127.0.0.1:{controller_port}",
        "listeners": listeners,
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir / "logs"),
        "num.partitions": str(partitions),
        # internal topics: one replica on a single node, three (min ISR 2) in a cluster; the
        # offsets topic's min ISR has no broker setting (deploy/kafka_cluster.py sets it on the topic)
        "offsets.topic.replication.factor": internal_rf,
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": internal_rf,
        "transaction.state.log.min.isr": internal_isr,
        "share.coordinator.state.topic.replication.factor": internal_rf,
        "share.coordinator.state.topic.min.isr": internal_isr,
        # tests and the demo start consumers right away; don't wait 3 s for more members
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
        "log.segment.bytes": str(256 * 1024 * 1024),
    }
    if replication > 1:
        # a topic auto-created by a client gets the cluster's replicas too (ours are created
        # explicitly, each with its min.insync.replicas: create_topics)
        props["default.replication.factor"] = internal_rf
        # 10 transaction coordinators' partitions, not 50: x3 replicas, every one loaded at each
        # start and restart of a node, on a box that runs the whole cluster
        props["transaction.state.log.num.partitions"] = "10"
    return "".join(f"{k}={v}\n" for k, v in props.items())


LOG4J2 = """\
Configuration:
  status: warn
  Appenders:
    RollingFile:
      name: server
      fileName: "${sys:kafka.logs.dir}/server.log"
      filePattern: "${sys:kafka.logs.dir}/server.log.%i"
      PatternLayout: {pattern: "[%d] %p %m (%c)%n"}
      SizeBasedTriggeringPolicy: {size: 50MB}
      DefaultRolloverStrategy: {max: 2}
  Loggers:
    Root:
      level: info
      AppenderRef: [{ref: server}]
"""
