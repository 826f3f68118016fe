"""Peer: a straightforward faust agent, one event at a time (``async for event in stream``).

Per event: ``orjson.loads``, then a boot appends its core boot time to a list per (hour, model)
and a crash adds one per (hour, app version); percentiles (numpy) when the stream is done.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from typing import Any

import faust
import numpy as np
import orjson

from bench.peer_common import BOOT, CRASH, model_of, parse_args, write_result


def main() -> None:
    args = parse_args(__doc__)
    app = faust.App(
        args.group, broker=f"kafka://{args.bootstrap}", value_serializer="raw", key_serializer="raw",
        store="memory://", web_enabled=False, autodiscover=False, consumer_auto_offset_reset="earliest",
        datadir=tempfile.mkdtemp(prefix="faust-peer-"),
    )  # fmt: skip
    topic = app.topic(args.topic, value_type=bytes, key_type=bytes)
    boots: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    crashes: defaultdict[tuple[str, str], int] = defaultdict(int)
    seen: list[float] = [0, 0.0]

    @app.agent(topic)
    async def naive(stream: Any) -> None:
        async for value in stream:
            if seen[0] == 0:
                seen[1] = time.perf_counter()
            ev: dict[str, Any] = orjson.loads(value)
            name = ev["name"]
            if name == BOOT:
                boots[(ev["time"][:13], model_of(ev))].append(int(ev["data"]["coreBootMs"]))
            elif name == CRASH:
                crashes[(ev["time"][:13], str(ev["data"]["appVersion"]))] += 1
            seen[0] += 1
            if seen[0] == args.events:
                for values in boots.values():
                    np.percentile(values, [50, 90])
                write_result(args.out, int(seen[0]), time.perf_counter() - seen[1], len(boots) + len(crashes))

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
