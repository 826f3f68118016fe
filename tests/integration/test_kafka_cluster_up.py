"""`fleetpulse up --brokers 3` starts a 3-node KRaft cluster, prints its bootstrap list, creates the
topics with 3 replicas and min ISR 2, and leaves nothing behind when stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from deploy.kafka import free_port
from fleetpulse.settings import load_settings
from tests.integration.test_up import _alive, _descendants

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

LINE = re.compile(
    r"kafka 4\.1\.1 \(KRaft\) listening on (127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+) "
)


def test_up_with_three_brokers_prints_the_bootstrap_list_and_replicates_the_topics(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FLEETPULSE_DATA_DIR": str(tmp_path / "data"),
        "FLEETPULSE_KAFKA_BOOTSTRAP": "",
        "FLEETPULSE_KAFKA_HEAP_MB": "384",
        "FLEETPULSE_SINK_PORT": str(free_port()),
        # the JVMs' own variable: C1 only, as the cluster fixture's (deploy/kafka_cluster.py QUICK_START_JVM)
        "JDK_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetpulse.cli", "up", "--brokers", "3", "--store-only"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "ready; Ctrl-C stops everything" in line:
            break
    output = "".join(lines)
    try:
        found = LINE.search(output)
        assert found is not None, output
        assert "(3 brokers, started in" in output
        assert "topics: replication factor 3, min.insync.replicas 2" in output
        bootstrap = found.group(1)
        children = _descendants(proc.pid)
        assert len(children) >= 4, f"expected 3 brokers and the sink under `up`, found {children}"

        admin = AdminClient({"bootstrap.servers": bootstrap})
        meta = admin.list_topics(timeout=10)
        assert sorted(meta.brokers) == [1, 2, 3]
        settings = load_settings()
        for topic in settings.topic_partitions():
            assert {len(p.replicas) for p in meta.topics[topic].partitions.values()} == {3}, topic
        for topic in (*settings.topic_partitions(), "__consumer_offsets"):
            resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
            config = next(iter(admin.describe_configs([resource]).values())).result(timeout=10)
            assert config["min.insync.replicas"].value == "2", topic
        assert {len(p.replicas) for p in meta.topics["__consumer_offsets"].partitions.values()} == {3}
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output + rest
    assert "kafka stopped in" in rest
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []
