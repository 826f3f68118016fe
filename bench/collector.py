"""Collector throughput: records/s accepted (Kafka-acknowledged), median of several runs.

    python -m bench.collector [--bootstrap HOST:PORT] [--records 60000] [--clients 2]
                                     [--connections 8] [--batch 500] [--runs 3] [--gzip]

The collector runs in this process (a real HTTP port, a real broker: ``--bootstrap``, default
``$FLEETPULSE_KAFKA_BOOTSTRAP`` or 127.0.0.1:19092, on a fresh topic). Client processes pre-build
NDJSON bodies from ``schemas`` examples with distinct devices and seqs (no duplicates), then post
them over several keep-alive connections each. Prints per-run and median records/s.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing as mp
import os
import statistics
import time
import uuid
from multiprocessing.synchronize import Event as MpEvent

import aiohttp
import orjson

from deploy.kafka import create_topics, free_port
from fleetpulse.settings import DEMO_API_KEY, load_settings
from ingest.harness import CollectorThread
from ingest.records import event_names, fresh_record


def build_bodies(
    run: int, client: int, records: int, batch: int, compress: bool, level: int = 1
) -> list[bytes]:
    names = event_names()
    lines = []
    for j in range(records):
        device = (run * 100 + client) * 100_000 + j // 100
        lines.append(orjson.dumps(fresh_record(names[j % len(names)], device=device, seq=j % 100 + 1)))
    bodies = [b"\n".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]
    return [gzip.compress(b, level) for b in bodies] if compress else bodies


async def post_all(url: str, bodies: list[bytes], connections: int, compress: bool) -> int:
    headers = {"Content-Type": "application/x-json-stream", "apikey": DEMO_API_KEY}
    if compress:
        headers["Content-Encoding"] = "gzip"
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:

        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    async with session.post(url + "/v1/events", data=body, headers=headers) as resp:
                        answer = await resp.json()
                        if resp.status == 200:
                            accepted += int(answer["acc"])
                            break
                        if resp.status != 503:
                            raise RuntimeError(f"collector answered {resp.status}: {answer}")
                    await asyncio.sleep(0.2)  # 503: back off and resend

        await asyncio.gather(*(worker() for _ in range(connections)))
    return accepted


def client_main(
    url: str,
    run: int,
    client: int,
    args: argparse.Namespace,
    ready: MpEvent,
    go: MpEvent,
    results: mp.Queue[tuple[int, float, float]],
) -> None:
    bodies = build_bodies(run, client, args.records // args.clients, args.batch, args.gzip, args.gzip_level)
    ready.set()
    go.wait()
    started = time.time()
    try:
        accepted = asyncio.run(post_all(url, bodies, args.connections, args.gzip))
    except Exception as exc:
        print(f"client {client}: {exc}", flush=True)
        accepted = -1
    results.put((accepted, started, time.time()))


def one_run(url: str, run: int, args: argparse.Namespace) -> float:
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    results: mp.Queue[tuple[int, float, float]] = ctx.Queue()
    readies = [ctx.Event() for _ in range(args.clients)]
    procs = [
        ctx.Process(target=client_main, args=(url, run, c, args, readies[c], go, results))
        for c in range(args.clients)
    ]
    for p in procs:
        p.start()
    for r in readies:
        r.wait()
    go.set()
    outcomes = [results.get() for _ in procs]
    for p in procs:
        p.join()
    if any(o[0] < 0 for o in outcomes):
        raise SystemExit("a client failed; see above")
    accepted = sum(o[0] for o in outcomes)
    elapsed = max(o[2] for o in outcomes) - min(o[1] for o in outcomes)
    rate = accepted / elapsed
    print(
        f"run {run + 1}: {accepted} records accepted in {elapsed:.2f} s = {rate:,.0f} records/s", flush=True
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_bootstrap = os.environ.get("FLEETPULSE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    parser.add_argument("--bootstrap", default=default_bootstrap)
    parser.add_argument("--records", type=int, default=60_000, help="records per run (all clients)")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections per client")
    parser.add_argument("--batch", type=int, default=500, help="records per request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gzip", action="store_true", help="gzip request bodies")
    parser.add_argument(
        "--gzip-level",
        type=int,
        default=1,
        help="gzip level (level 6+ on 500 records expands > 20x: refused with 413)",
    )
    args = parser.parse_args()

    topic = f"bench.events.{uuid.uuid4().hex[:8]}"
    dlq = f"bench.dlq.{uuid.uuid4().hex[:8]}"
    create_topics(args.bootstrap, {topic: 6, dlq: 1})
    settings = load_settings(
        kafka_bootstrap=args.bootstrap, collector_port=free_port(), topic_events=topic, topic_dlq=dlq
    )
    print(
        f"collector -> {args.bootstrap} topic {topic}; {args.records} records/run, "
        f"{args.clients} clients x {args.connections} connections, {args.batch}/request, "
        f"gzip={args.gzip}",
        flush=True,
    )
    with CollectorThread(settings) as url:
        rates = [one_run(url, run, args) for run in range(args.runs)]
    print(f"median: {statistics.median(rates):,.0f} records/s accepted (Kafka-acknowledged)")


if __name__ == "__main__":
    main()
