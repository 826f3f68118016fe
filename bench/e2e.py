"""End to end on the local stack: offered-rate steps, latency at half the maximum, storage, sink.

1. *Steps*: offer ``rate`` events/s for ``step_s`` seconds (fresh events each step), sample
   ``backlog = accepted - visible`` every 0.25 s, where *visible* is the raw rows in ClickHouse
   (``system.parts`` of the raw tables, read through the sink's ``/v1/query``). A step is
   **sustained** when the collector accepted >= 90 % of the offered rate and the backlog is flat:
   its mean over the last third is <= 1.5 x its mean over the middle third + 0.5 s of traffic.
   With the processor in the path its lag (accepted - ``fleetpulse_processor_events_total``
   of step ``device_state``) must be flat by the same rule. The rate grows by ``factor`` until a
   step is not sustained; then one step flat out (the
   collector's accept rate with everything co-located). After each step the backlog drains.
2. *Latency*: one step at half the best sustained rate; event-to-queryable p50/p99 from the rows
   it wrote (``inserted_at - received_at`` in ClickHouse, exact) and from the sink's
   ``fleetpulse_event_to_queryable_seconds`` histogram (bucket delta over the step).
3. *Storage*: compressed bytes per row per raw table (``system.parts``) against the JSON bytes.
4. *Sink*: records produced straight to the events topic (``bench.sink.record``), rows/s
   from the first new visible row to the last.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from confluent_kafka import Producer

from bench.fleet import Fleet, bodies
from bench.load import Offered, offer
from bench.peer_worker import processed
from bench.sink import now_text, produce
from bench.stack import BenchStack, query
from sinks.migrations.m0001_raw_events import FAMILIES

RAW_TABLES = tuple(FAMILIES)
TABLE_OF = {name: table for table, (name, _) in FAMILIES.items()}
HIST = "fleetpulse_event_to_queryable_seconds"


@dataclass
class StepResult:
    offered: float
    accepted: int
    accept_rate: float
    backpressured: int
    backlog_mid: float
    backlog_end: float
    drain_s: float
    sustained: bool
    started: float
    ended: float
    processor_backlog_end: float = 0.0  # accepted - processed by the worker (when in the path)


@dataclass
class E2EResult:
    steps: list[StepResult] = field(default_factory=list)
    max_sustained: float = 0.0
    flood_accept_rate: float = 0.0
    latency_rate: float = 0.0
    p50_s: float = 0.0
    p99_s: float = 0.0
    hist_p50_s: float = 0.0
    hist_p99_s: float = 0.0
    sink_rows_per_s: float = 0.0
    storage: dict[str, dict[str, float]] = field(default_factory=dict)
    top_columns: dict[str, list[list[Any]]] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    processor_in_path: bool = False


def visible_rows(sink_url: str) -> int:
    tables = ", ".join(f"'{t}'" for t in RAW_TABLES)
    rows = query(
        sink_url,
        "SELECT sum(rows) FROM system.parts WHERE active AND database = 'fleetpulse' "
        f"AND table IN ({tables})",
    )
    return int(rows[0][0] or 0)


class Lines:
    """Hands out fresh (never posted) fleet lines."""

    def __init__(self, fleet: Fleet) -> None:
        self.lines = fleet.lines
        self.pos = 0

    def take(self, n: int) -> list[bytes]:
        if self.pos + n > len(self.lines):
            raise RuntimeError(f"the fleet has {len(self.lines):,} events; {self.pos + n:,} needed")
        out = self.lines[self.pos : self.pos + n]
        self.pos += n
        return out


async def _sampled_step(
    session: aiohttp.ClientSession, stack: BenchStack, batch_bodies: list[bytes], rate: float, drain_s: float
) -> StepResult:
    base = await asyncio.to_thread(visible_rows, stack.sink_url)
    proc_url = stack.endpoints.get("processor")
    before = _ACCEPTED[0]  # accepted by every earlier step: the processor's lag is cumulative
    proc_start = before - await asyncio.to_thread(processed, proc_url) if proc_url else 0.0
    samples: list[tuple[float, int, int]] = []
    proc_backlogs: list[float] = []
    live = Offered(0, 0, 0, 0.0, 0.0)
    task = asyncio.create_task(offer(session, stack.collector_url, batch_bodies, rate, 8, live))
    while not task.done():
        seen = await asyncio.to_thread(visible_rows, stack.sink_url) - base
        samples.append((time.time(), live.accepted, seen))
        if proc_url:
            proc_backlogs.append(before + live.accepted - await asyncio.to_thread(processed, proc_url))
        await asyncio.sleep(0.25)
    res = await task
    _ACCEPTED[0] += res.accepted
    end_backlog = res.accepted - (await asyncio.to_thread(visible_rows, stack.sink_url) - base)
    t_end = time.monotonic()
    drained = end_backlog <= 0
    while not drained and time.monotonic() - t_end < drain_s:
        await asyncio.sleep(0.25)
        drained = await asyncio.to_thread(visible_rows, stack.sink_url) - base >= res.accepted
    took = time.monotonic() - t_end
    backlogs = [acc - seen for _, acc, seen in samples]
    third = max(1, len(backlogs) // 3)
    mid = statistics.fmean(backlogs[third : 2 * third] or [0])
    last = statistics.fmean(backlogs[2 * third :] or [0])
    rate_ok = rate <= 0 or res.rate >= 0.9 * rate
    flat = last <= 1.5 * mid + 0.5 * max(rate, res.rate)
    proc_end = 0.0
    if proc_backlogs:  # the processor's lag must stay flat too
        p_mid = statistics.fmean(proc_backlogs[third : 2 * third] or [0])
        p_last = statistics.fmean(proc_backlogs[2 * third :] or [0])
        flat = flat and p_last <= 1.5 * p_mid + 0.5 * max(rate, res.rate)
        proc_end = _ACCEPTED[0] - await asyncio.to_thread(processed, proc_url or "")
        # grown by <= its 1 s batch + 1 s of traffic over the step (a carried-over lag may shrink)
        flat = flat and proc_end - proc_start <= 2.0 * max(rate, res.rate)
        t_proc = time.monotonic()  # let the worker catch up before the next step (bounded)
        while _ACCEPTED[0] - await asyncio.to_thread(processed, proc_url or "") > 0:
            if time.monotonic() - t_proc > drain_s:
                break
            await asyncio.sleep(0.5)
    return StepResult(
        rate, res.accepted, res.rate, res.backpressured, mid, float(end_backlog), took,
        rate_ok and flat and drained, res.started, res.ended, proc_end,
    )  # fmt: skip


_ACCEPTED = [0]  # events accepted since the stack started (one stack per process at a time)


async def _offer_step(
    session: aiohttp.ClientSession, stack: BenchStack, lines: Lines, rate: float, seconds: float,
    drain_s: float, flood_events: int,
) -> StepResult:  # fmt: skip
    n = int(rate * seconds) if rate > 0 else flood_events
    return await _sampled_step(session, stack, bodies(lines.take(n), 500), rate, drain_s)


def hist_buckets(text: str) -> dict[float, float]:
    """Cumulative bucket counts of the latency histogram, summed over tables."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(HIST + "_bucket{"):
            labels, value = line.rsplit(" ", 1)
            le = labels.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            out[bound] = out.get(bound, 0.0) + float(value)
    return out


def hist_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Quantile of the observations between two scrapes (linear within a bucket)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return float("nan")
    target = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= target:
            if bound == float("inf"):
                return prev_bound
            share = (target - prev_count) / max(1e-9, count - prev_count)
            return prev_bound + share * (bound - prev_bound)
        prev_bound, prev_count = bound, count
    return bounds[-1]


def scrape(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def latency_from_store(sink_url: str, started: float, ended: float) -> tuple[float, float]:
    """Exact p50/p99 of ``inserted_at - received_at`` for rows received in [started, ended]."""
    parts = " UNION ALL ".join(
        f"SELECT dateDiff('millisecond', received_at, inserted_at) AS d FROM fleetpulse.{t} "
        f"WHERE received_at BETWEEN toDateTime64({started:.3f}, 3, 'UTC') "
        f"AND toDateTime64({ended:.3f}, 3, 'UTC')"
        for t in RAW_TABLES
    )
    rows = query(sink_url, f"SELECT quantilesExact(0.5, 0.99)(d) FROM ({parts})")
    p50, p99 = rows[0][0]
    return float(p50) / 1000, float(p99) / 1000


def storage(sink_url: str, fleet: Fleet) -> dict[str, dict[str, float]]:
    """Per raw table: rows, compressed column bytes per row, bytes on disk per row, JSON ratio."""
    tables = ", ".join(f"'{t}'" for t in RAW_TABLES)
    rows = query(
        sink_url,
        "SELECT table, sum(rows), sum(data_compressed_bytes), sum(bytes_on_disk), "
        f"sum(data_uncompressed_bytes) FROM system.parts WHERE active AND database = 'fleetpulse' "
        f"AND table IN ({tables}) GROUP BY table",
    )
    out: dict[str, dict[str, float]] = {}
    total = [0.0, 0.0, 0.0, 0.0]
    for table, n, comp, disk, _raw in rows:
        name = FAMILIES[table][0]
        json_b = fleet.json_bytes_per_event(name)
        n, comp, disk = float(n), float(comp), float(disk)
        if n <= 0:
            continue
        out[table] = {
            "rows": n, "bytes_per_event": comp / n, "disk_bytes_per_event": disk / n,
            "json_bytes_per_event": json_b, "json_ratio": json_b / (comp / n),
        }  # fmt: skip
        total = [total[0] + n, total[1] + comp, total[2] + disk, total[3] + json_b * n]
    if total[0]:
        out["all"] = {
            "rows": total[0], "bytes_per_event": total[1] / total[0],
            "disk_bytes_per_event": total[2] / total[0],
            "json_bytes_per_event": total[3] / total[0], "json_ratio": total[3] / total[1],
        }  # fmt: skip
    return out


def top_columns(sink_url: str, tables: tuple[str, ...], limit: int = 6) -> dict[str, list[list[Any]]]:
    """Per table, the columns holding the most compressed bytes: ``[column, bytes per row]``."""
    out: dict[str, list[list[Any]]] = {}
    for table in tables:
        rows = query(
            sink_url,
            "SELECT c.name, c.data_compressed_bytes / greatest(1, t.rows) AS per_row "
            "FROM system.columns AS c CROSS JOIN (SELECT sum(rows) AS rows FROM system.parts "
            f"WHERE active AND database = 'fleetpulse' AND table = '{table}') AS t "
            f"WHERE c.database = 'fleetpulse' AND c.table = '{table}' "
            f"ORDER BY c.data_compressed_bytes DESC LIMIT {limit}",
        )
        out[table] = [[str(name), round(float(per_row), 2)] for name, per_row in rows]
    return out


def stamped(lines: list[bytes], stamp: str) -> list[tuple[bytes, bytes]]:
    """Fleet lines as the collector writes them: ``ext.ingest`` added, keyed by device id."""
    out = []
    for line in lines:
        value = orjson.loads(line)
        value["ext"]["ingest"] = {"time": stamp, "clientIp": "10.0.0.1", "tenant": "contoso"}
        out.append((str(value["ext"]["device"]["localId"]).lower().encode(), orjson.dumps(value)))
    return out


def sink_rate(stack: BenchStack, lines: list[bytes]) -> float:
    """Rows/s of the sink draining fresh fleet events produced straight to its topic."""
    items = stamped(lines, now_text())
    events = len(items)
    base = visible_rows(stack.sink_url)
    producer = Producer(
        {"bootstrap.servers": stack.endpoints["kafka"], "linger.ms": 20, "compression.type": "lz4"}
    )
    produce(producer, stack.settings.topic_events, items)
    first: float | None = None
    first_seen = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        seen = visible_rows(stack.sink_url) - base
        now = time.monotonic()
        if seen > 0 and first is None:
            first, first_seen = now, seen
        if seen >= events and first is not None:
            return (events - first_seen) / (now - first) if now > first else float(events)
        time.sleep(0.1)
    raise RuntimeError("the sink did not store the drain records within 600 s")


def optimize(sink_url: str, tables: tuple[str, ...]) -> None:
    """Merge each table's parts (what bytes on disk settle to); ignored if the read API refuses."""
    for table in tables:
        try:
            query(sink_url, f"OPTIMIZE TABLE fleetpulse.{table} FINAL")
        except OSError:
            return


async def run_steps(
    stack: BenchStack, lines: Lines, *, start_rate: float, factor: float, step_s: float,
    max_steps: int, drain_s: float, flood_events: int, latency_s: float,
) -> E2EResult:  # fmt: skip
    result = E2EResult(processor_in_path=stack.processor_in_path)
    _ACCEPTED[0] = 0
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector) as session:
        # warm-up: the first epoch and connections, not counted
        await _offer_step(session, stack, lines, start_rate, 1.0, drain_s, 0)
        rate = start_rate
        for _ in range(max_steps):
            step = await _offer_step(session, stack, lines, rate, step_s, drain_s, flood_events)
            result.steps.append(step)
            _say_step(step)
            if step.sustained:
                result.max_sustained = max(result.max_sustained, step.accept_rate)
                rate *= factor
            elif result.max_sustained == 0 and rate > 250:
                rate /= 2  # nothing sustained yet: search downwards
            else:
                break
        flood = await _offer_step(session, stack, lines, 0, step_s, drain_s * 3, flood_events)
        result.steps.append(flood)
        _say_step(flood)
        result.flood_accept_rate = flood.accept_rate
        half = max(500.0, (result.max_sustained or flood.accept_rate) / 2)
        result.latency_rate = half
        before = hist_buckets(scrape(stack.sink_url))
        lat = await _offer_step(session, stack, lines, half, latency_s, drain_s, flood_events)
        _say_step(lat)
        after = hist_buckets(scrape(stack.sink_url))
    result.hist_p50_s = hist_quantile(before, after, 0.5)
    result.hist_p99_s = hist_quantile(before, after, 0.99)
    result.p50_s, result.p99_s = latency_from_store(stack.sink_url, lat.started - 0.5, lat.ended + 0.5)
    return result


def _say_step(s: StepResult) -> None:
    offered = f"{s.offered:,.0f}/s" if s.offered > 0 else "flat out"
    print(
        f"  step offered {offered:>10}: accepted {s.accept_rate:>9,.0f}/s ({s.accepted:,} events, "
        f"{s.backpressured} x 503), backlog mid {s.backlog_mid:,.0f} end {s.backlog_end:,.0f}, "
        f"drained in {s.drain_s:.1f} s, processor backlog {s.processor_backlog_end:,.0f} "
        f"-> {'sustained' if s.sustained else 'NOT sustained'}",
        flush=True,
    )
