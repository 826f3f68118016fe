"""Offered load over HTTP: post NDJSON bodies to the collector at a paced rate (or flat out).

``offer(session, url, bodies, rate, connections)`` schedules body ``i`` at
``t0 + records_before_i / rate`` (``rate <= 0``: as fast as the collector answers) over
``connections`` keep-alive connections. A ``503`` (backpressure) is retried after a short pause,
so an overloaded collector shows as an accepted rate below the offered one. Anything else than
200/503 fails loudly.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from fleetpulse.settings import DEMO_API_KEY

HEADERS = {"Content-Type": "application/x-json-stream", "apikey": DEMO_API_KEY}


@dataclass
class Offered:
    accepted: int
    rejected: int
    backpressured: int  # 503 answers (each retried)
    started: float  # time.time()
    ended: float

    @property
    def seconds(self) -> float:
        return max(1e-9, self.ended - self.started)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


def _records(body: bytes) -> int:
    return body.count(b"\n") + 1


async def offer(
    session: aiohttp.ClientSession,
    url: str,
    bodies: list[bytes],
    rate: float,
    connections: int = 8,
    out: Offered | None = None,
) -> Offered:
    """Post every body once (retrying 503s); return what the collector accepted and when.

    ``out`` (optional) is updated live, so a sampler can read the accepted count meanwhile.
    """
    due: list[float] = []
    total = 0
    for body in bodies:
        due.append(total / rate if rate > 0 else 0.0)
        total += _records(body)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    out = out or Offered(0, 0, 0, 0.0, 0.0)
    out.started = time.time()
    t0 = time.perf_counter()

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            wait = t0 + due[i] - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            while True:
                async with session.post(url + "/v1/events", data=bodies[i], headers=HEADERS) as resp:
                    answer = await resp.json()
                    if resp.status == 200:
                        out.accepted += int(answer["acc"])
                        out.rejected += int(answer["rej"])
                        break
                    if resp.status != 503:
                        raise RuntimeError(f"collector answered {resp.status}: {answer}")
                out.backpressured += 1
                await asyncio.sleep(0.1)

    await asyncio.gather(*(worker() for _ in range(connections)))
    out.ended = time.time()
    return out
