"""fleetpulse's processor path for the comparison: the batched pure core inside a faust agent.

``stream.take(5000, within=1 s)`` -> ``orjson.loads`` each, keep boots and crashes (what the
compared aggregation reads; the worker aggregates every type) -> census from the envelope ->
:func:`processors.aggregate.aggregate` (hour windows, model scope; DDSketch per cell, app
reliability per app version) -> :func:`processors.partials.merge_into` the running partials.
This is the shape of the fleetpulse worker's stage 1 without its device-state and changelog
steps (the worker itself is measured instead once ``fleetpulse process`` exists).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import faust
import orjson

from bench.peer_common import BOOT, CRASH, model_of, parse_args, write_result
from processors.aggregate import AggregateConfig, CrashKey, aggregate
from processors.device_state import DeviceCensus
from processors.partials import Partials, merge_into

WANTED = frozenset((BOOT, CRASH))  # the events the compared aggregation reads
SAME_AGGREGATION = AggregateConfig(windows=("hour",), scopes=("model",), counter_device_scope=False)


def main() -> None:
    args = parse_args(__doc__)
    app = faust.App(
        args.group, broker=f"kafka://{args.bootstrap}", value_serializer="raw", key_serializer="raw",
        store="memory://", web_enabled=False, autodiscover=False, consumer_auto_offset_reset="earliest",
        datadir=tempfile.mkdtemp(prefix="faust-peer-"),
    )  # fmt: skip
    topic = app.topic(args.topic, value_type=bytes, key_type=bytes)
    total = Partials()
    census: dict[str, DeviceCensus] = {}
    crash: dict[CrashKey, int] = {}
    seen: list[float] = [0, 0.0]

    @app.agent(topic)
    async def batched(stream: Any) -> AsyncIterator[None]:
        nonlocal crash
        async for values in stream.take(5000, within=1.0):
            if seen[0] == 0:
                seen[1] = time.perf_counter()
            events = [ev for ev in map(orjson.loads, values) if ev["name"] in WANTED]
            for ev in events:
                dev = ev["ext"]["device"]["localId"]
                if dev not in census:
                    census[dev] = DeviceCensus(model=model_of(ev))
            part, crash = aggregate(events, census, crash, SAME_AGGREGATION)
            merge_into(total, part, consume=True)
            seen[0] += len(values)
            if seen[0] >= args.events:
                for st in total.metrics.values():
                    st.sketch.quantiles((0.5, 0.9))
                groups = len(total.metrics) + len(total.apps)
                write_result(args.out, int(seen[0]), time.perf_counter() - seen[1], groups)
            yield None

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
