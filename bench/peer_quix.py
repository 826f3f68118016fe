"""Peer: Quix Streams — a tumbling one-hour window with ``collect()`` per key, keys re-grouped.

Pipeline: JSON value -> keep boots and crashes -> ``{"k": "b|model" or "c|app version", "v":
core boot ms}`` -> ``group_by(k)`` (Quix's repartition through an internal topic: the raw
topic is keyed by device) -> ``tumbling_window(1 h, grace 97 h).collect().final()`` (grace =
fleetpulse's lateness + grace) -> p50/p90 (numpy) or the crash count per closed window. Window
time is the message timestamp (the event time, set when the topic was filled). State in
RocksDB with changelog topics (Quix defaults).
Done when every boot and crash has passed the window step (``--expected``).
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from typing import Any

import numpy as np
from quixstreams import Application

from bench.peer_common import BOOT, CRASH, model_of, parse_args, write_result


def main() -> None:
    args = parse_args(__doc__)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        loglevel="WARNING",
        state_dir=tempfile.mkdtemp(prefix="quix-state-"),
    )
    topic = app.topic(args.topic, value_deserializer="json")
    seen: list[float] = [0, 0.0, 0]

    def first(_value: Any) -> None:
        if seen[0] == 0:
            seen[1] = time.perf_counter()
        seen[0] += 1

    def keyed(ev: dict[str, Any]) -> dict[str, Any]:
        if ev["name"] == BOOT:
            return {"k": "b|" + model_of(ev), "v": int(ev["data"]["coreBootMs"])}
        return {"k": "c|" + str(ev["data"]["appVersion"]), "v": 0}

    def counted(_value: Any) -> None:
        seen[2] += 1
        if seen[2] == args.expected:
            write_result(args.out, int(seen[0]), time.perf_counter() - seen[1], 0)

    def summary(window: dict[str, Any]) -> dict[str, Any]:
        values = window["value"]
        if values and values[0]:
            p50, p90 = np.percentile(values, [50, 90])
            return {"start": window["start"], "p50": float(p50), "p90": float(p90)}
        return {"start": window["start"], "crashes": len(values)}

    sdf = app.dataframe(topic)
    sdf = sdf.update(first)
    sdf = sdf.filter(lambda ev: ev["name"] in (BOOT, CRASH))
    sdf = sdf.apply(keyed)
    sdf = sdf.group_by(lambda v: v["k"], name="k")
    sdf = sdf.update(counted)
    sdf = sdf.apply(lambda v: v["v"])
    windows = sdf.tumbling_window(timedelta(hours=1), grace_ms=timedelta(hours=97)).collect().final()
    windows.apply(summary)
    app.run()


if __name__ == "__main__":
    main()
