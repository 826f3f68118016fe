"""Send records to the collector like a real agent population.

Records are split into ``lanes`` by device (crc32 of ``ext.device.localId``); each lane posts
its batches one after another over a shared aiohttp session, so one device's events arrive
in order (the Kafka key is the device id) while lanes run concurrently. Retries use
exponential backoff with full jitter, honouring ``Retry-After`` on 429/503; a 413 splits the
batch in two; other 4xx drop the batch (counted).
"""

from __future__ import annotations

import asyncio
import gzip
import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp

from simulator.manifest import SendStats

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class SendOptions:
    """How to talk to the collector."""

    url: str  # e.g. http://127.0.0.1:8080/v1/events
    api_key: str
    lanes: int = 4
    batch_records: int = 500
    gzip: bool = True
    max_attempts: int = 8
    backoff_base_sec: float = 0.25
    backoff_max_sec: float = 15.0
    timeout_sec: float = 60.0


def lane_of(local_id: str, lanes: int) -> int:
    """The lane (connection) a device's records always travel on."""
    return zlib.crc32(local_id.encode()) % lanes


def split_lanes(lines: Iterable[tuple[str, bytes]], opts: SendOptions) -> list[list[list[bytes]]]:
    """Group serialized records (device id, line) into per-lane batches of ≤ ``batch_records``."""
    lanes: list[list[list[bytes]]] = [[[]] for _ in range(opts.lanes)]
    for local_id, line in lines:
        batches = lanes[lane_of(local_id, opts.lanes)]
        if len(batches[-1]) >= opts.batch_records:
            batches.append([])
        batches[-1].append(line)
    return [[b for b in batches if b] for batches in lanes]


class Sender:
    """Posts batches; accumulates :class:`SendStats`."""

    def __init__(self, opts: SendOptions, stats: SendStats, seed: int = 0) -> None:
        self.opts = opts
        self.stats = stats
        self.sent_records = 0
        self._jitter = random.Random(seed)

    async def run_lane(
        self, session: aiohttp.ClientSession, queue: asyncio.Queue[list[bytes] | None]
    ) -> None:
        """Post every batch of one lane in order until a ``None`` arrives."""
        while (lines := await queue.get()) is not None:
            await self.post(session, lines)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.opts.backoff_max_sec * 4)
            except ValueError:
                pass
        cap = min(self.opts.backoff_max_sec, self.opts.backoff_base_sec * 2**attempt)
        return self._jitter.uniform(cap / 2, cap)

    async def post(self, session: aiohttp.ClientSession, lines: list[bytes]) -> None:
        """Post one batch (≤ 500 lines), retrying transient failures."""
        body = b"\n".join(lines) + b"\n"
        headers = {"apikey": self.opts.api_key, "Content-Type": "application/x-json-stream"}
        if self.opts.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        for attempt in range(self.opts.max_attempts):
            self.stats.requests += 1
            retry_after: str | None = None
            try:
                async with session.post(self.opts.url, data=body, headers=headers) as resp:
                    if resp.status == 200:
                        self._count(await resp.json(content_type=None))
                        self.sent_records += len(lines)
                        return
                    if resp.status == 413 and len(lines) > 1:
                        half = len(lines) // 2
                        await self.post(session, lines[:half])
                        await self.post(session, lines[half:])
                        return
                    if resp.status not in RETRY_STATUSES:
                        self._fail(len(lines))
                        return
                    retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.stats.retries += 1
            await asyncio.sleep(self._delay(attempt, retry_after))
        self._fail(len(lines))

    def _count(self, answer: object) -> None:
        if not isinstance(answer, dict):
            return
        self.stats.acc += int(answer.get("acc", 0))
        self.stats.rej += int(answer.get("rej", 0))
        for err in answer.get("errors", []) or []:
            reason = str(err.get("reason", "unknown")) if isinstance(err, dict) else "unknown"
            self.stats.rejected_by_reason[reason] = self.stats.rejected_by_reason.get(reason, 0) + 1

    def _fail(self, n: int) -> None:
        self.stats.failed_batches += 1
        self.stats.failed_records += n


async def send_stream(
    next_chunk: Callable[[], list[list[list[bytes]]] | None], opts: SendOptions, stats: SendStats
) -> Sender:
    """Pull lane-split chunks from ``next_chunk`` (run in a thread: generation overlaps the
    network) and post them; returns the sender (for its counters)."""
    sender = Sender(opts, stats)
    timeout = aiohttp.ClientTimeout(total=opts.timeout_sec)
    connector = aiohttp.TCPConnector(limit=opts.lanes)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        queues: list[asyncio.Queue[list[bytes] | None]] = [
            asyncio.Queue(maxsize=8) for _ in range(opts.lanes)
        ]
        workers = [asyncio.create_task(sender.run_lane(session, q)) for q in queues]
        try:
            while (chunk := await asyncio.to_thread(next_chunk)) is not None:
                for q, batches in zip(queues, chunk, strict=True):
                    for batch in batches:
                        await q.put(batch)
            for q in queues:
                await q.put(None)
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
    return sender
