"""Peer (native ceiling of the ingest path): ClickHouse's Kafka table engine inside chdb.

``ENGINE = Kafka`` (``JSONAsString``, one consumer, 1 s flush) + a materialized view extracting
name, hour, model, core boot ms and app version into a MergeTree table; the aggregation is
then one query (``quantiles(0.5, 0.9)`` per hour and model, ``count()`` per hour and app
version). Seconds: first rows visible -> all rows visible (the engine's start-up and the first
flush are not timed; when one block holds the whole topic, from the view's creation), plus the
aggregation query.

chdb 4.4 raises ``Shutdown was called (LOGICAL_ERROR)`` from ``CREATE TABLE ... ENGINE = Kafka``
although the table is created and consumes; the error is ignored when the table exists.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import chdb

from bench.peer_common import BOOT, CRASH, parse_args, write_result


def main() -> None:
    args = parse_args(__doc__)
    conn = chdb.connect(tempfile.mkdtemp(prefix="chdb-kafka-"))  # type: ignore[no-untyped-call]  # chdb: no annotations
    cur = conn.cursor()

    def q(sql: str) -> list[Any]:
        cur.execute(sql)
        return list(cur.fetchall())

    q("CREATE DATABASE IF NOT EXISTS peer")
    q(
        "CREATE TABLE peer.events (name LowCardinality(String), hour DateTime, model LowCardinality(String), "
        "core_boot_ms UInt32, app_version LowCardinality(String)) ENGINE = MergeTree ORDER BY (name, hour)"
    )
    try:
        q(
            "CREATE TABLE peer.queue (raw String) ENGINE = Kafka SETTINGS "
            f"kafka_broker_list = '{args.bootstrap}', kafka_topic_list = '{args.topic}', "
            f"kafka_group_name = '{args.group}', kafka_format = 'JSONAsString', kafka_num_consumers = 1, "
            "kafka_max_block_size = 65536, kafka_flush_interval_ms = 1000"
        )
    except Exception as exc:  # chdb 4.4: see the module docstring
        if not q("SELECT count() FROM system.tables WHERE database = 'peer' AND name = 'queue'")[0][0]:
            raise RuntimeError("the Kafka engine table was not created") from exc
    q(
        "CREATE MATERIALIZED VIEW peer.mv TO peer.events AS SELECT "
        "JSONExtractString(raw, 'name') AS name, "
        "toStartOfHour(parseDateTime64BestEffort(JSONExtractString(raw, 'time'), 3)) AS hour, "
        "concat(JSONExtractString(raw, 'ext', 'protocol', 'devMake'), '|', "
        "JSONExtractString(raw, 'ext', 'protocol', 'devModel')) AS model, "
        "JSONExtractUInt(raw, 'data', 'coreBootMs') AS core_boot_ms, "
        "JSONExtractString(raw, 'data', 'appVersion') AS app_version FROM peer.queue"
    )
    created = time.perf_counter()
    first_t, first_n = 0.0, 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        n = int(q("SELECT count() FROM peer.events")[0][0])
        now = time.perf_counter()
        if n and not first_t:
            first_t, first_n = now, n
        if n >= args.events:
            break
        time.sleep(0.05)
    t0 = time.perf_counter()
    boots = q(
        f"SELECT hour, model, quantiles(0.5, 0.9)(core_boot_ms) FROM peer.events WHERE name = '{BOOT}' "
        "GROUP BY hour, model"
    )
    crashes = q(f"SELECT hour, app_version, count() FROM peer.events WHERE name = '{CRASH}' GROUP BY ALL")
    query_s = time.perf_counter() - t0
    ingest_s = time.perf_counter() - first_t - query_s
    if n == first_n:  # one block held everything: time it from the view's creation instead
        first_n, ingest_s = 0, time.perf_counter() - created - query_s
    write_result(
        args.out, n - first_n, ingest_s + query_s, len(boots) + len(crashes),
        query_s=query_s, first_batch=first_n,
    )  # fmt: skip
    time.sleep(3600)  # the runner stops this process


if __name__ == "__main__":
    main()
