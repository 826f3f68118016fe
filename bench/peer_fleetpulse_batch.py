"""Not a peer: fleetpulse's pure core behind a confluent-kafka batch consumer, without faust.

The same work as :mod:`bench.peer_fleetpulse` (decode, keep boots and crashes, census,
:func:`processors.aggregate.aggregate`, :func:`processors.partials.merge_into`) on batches from
``Consumer.consume(5000, 1 s)``: what the processor would do if its consumer loop fetched
batches instead of faust's per-message stream (see docs/benchmark.md, "what would move it").
"""

from __future__ import annotations

import time

import orjson
from confluent_kafka import Consumer

from bench.peer_common import model_of, parse_args, write_result
from bench.peer_fleetpulse import SAME_AGGREGATION, WANTED
from processors.aggregate import CrashKey, aggregate
from processors.device_state import DeviceCensus
from processors.partials import Partials, merge_into


def main() -> None:
    args = parse_args(__doc__)
    consumer = Consumer(
        {"bootstrap.servers": args.bootstrap, "group.id": args.group, "auto.offset.reset": "earliest",
         "enable.auto.commit": True, "fetch.max.bytes": 64 * 1024 * 1024}
    )  # fmt: skip
    consumer.subscribe([args.topic])
    total = Partials()
    census: dict[str, DeviceCensus] = {}
    crash: dict[CrashKey, int] = {}
    seen, started = 0, 0.0
    while seen < args.events:
        msgs = consumer.consume(5000, 1.0)
        if not msgs:
            continue
        if not seen:
            started = time.perf_counter()
        decoded = (orjson.loads(m.value()) for m in msgs if m.error() is None)
        events = [ev for ev in decoded if ev["name"] in WANTED]
        for ev in events:
            dev = ev["ext"]["device"]["localId"]
            if dev not in census:
                census[dev] = DeviceCensus(model=model_of(ev))
        part, crash = aggregate(events, census, crash, SAME_AGGREGATION)
        merge_into(total, part, consume=True)
        seen += len(msgs)
    for st in total.metrics.values():
        st.sketch.quantiles((0.5, 0.9))
    write_result(args.out, seen, time.perf_counter() - started, len(total.metrics) + len(total.apps))
    consumer.close()


if __name__ == "__main__":
    main()
