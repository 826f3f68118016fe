"""A step's changelog writes are handed to the producer before the step acks its events
(processors/changelog.py), and table recovery reads a changelog only up to an end no transaction
is still in flight before (``settled_ends`` in processors/transactions.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import pytest
from faust.types import TP

from processors.changelog import Changelog
from processors.transactions import ChangelogInFlightError, settled_ends


class Topic:
    """A changelog topic as far as :class:`Changelog` uses it: a message is built, then published
    (here the producer takes ``delay_s`` to accept each, longer than the 0.1 s after which faust's
    ``ProducerBuffer.flush`` gives up)."""

    def __init__(self, delay_s: float, error: Exception | None) -> None:
        self.taken: list[tuple[int, bytes, bytes | None]] = []
        self.delay_s, self.error = delay_s, error

    def as_future_message(self, *, key: bytes, value: bytes | None, partition: int, **_: Any) -> Any:
        return (partition, key, value)

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        self.taken.append(fut)


class Table:
    key_serializer = value_serializer = None

    def __init__(self, delay_s: float = 0.15, error: Exception | None = None) -> None:
        self.data: dict[bytes, bytes] = {}
        self.changelog_topic = Topic(delay_s, error)

    def _on_changelog_sent(self, fut: Any) -> None:
        pass


def test_flush_returns_once_the_producer_took_every_write_in_order() -> None:
    async def run() -> tuple[Table, float]:
        table = Table()
        changelog = Changelog(table)
        changelog.put(3, "C|3|a", b"1")
        changelog.put(3, "C|3|b", b"2")
        changelog.put(3, "C|3|a", None)
        t0 = time.monotonic()
        await changelog.flush()
        return table, time.monotonic() - t0

    table, took = asyncio.run(run())
    assert table.changelog_topic.taken == [(3, b"C|3|a", b"1"), (3, b"C|3|b", b"2"), (3, b"C|3|a", None)]
    assert table.data == {b"C|3|b": b"2"}
    assert took >= 0.45


def test_flush_raises_a_producer_error_and_keeps_nothing_for_later() -> None:
    async def run() -> None:
        changelog = Changelog(Table(delay_s=0.01, error=RuntimeError("fenced")))
        changelog.put(0, "W|0|t", b"{}")
        with pytest.raises(RuntimeError, match="fenced"):
            await changelog.flush()
        await changelog.flush()  # nothing left to hand over

    asyncio.run(run())


class Broker:
    """ListOffsets of one partition: the log end, and the last stable offset, which reaches the
    end ``markers_after`` calls after the start (the commit markers written late)."""

    def __init__(self, end: int, stable: int, markers_after: int) -> None:
        self.end, self.stable, self.markers_after, self.calls = end, stable, markers_after, 0

    async def committed(self, tps: list[TP]) -> Mapping[TP, int]:
        self.calls += 1
        return dict.fromkeys(tps, self.end if self.calls > self.markers_after else self.stable)

    async def written(self, tps: list[TP]) -> Mapping[TP, int]:
        return dict.fromkeys(tps, self.end)


TP4 = TP("proc-stage1-changelog", 4)


def test_recovery_reads_up_to_the_end_once_the_markers_are_written() -> None:
    broker = Broker(end=9729, stable=7389, markers_after=3)
    ends = asyncio.run(settled_ends(broker.committed, broker.written, [TP4], timeout_s=5.0, poll_s=0.01))
    assert ends == {TP4: 9729}
    assert broker.calls == 4


def test_a_transaction_that_never_ends_stops_recovery_loudly() -> None:
    broker = Broker(end=9729, stable=7389, markers_after=10**9)
    with pytest.raises(ChangelogInFlightError, match="7389, 9729"):
        asyncio.run(settled_ends(broker.committed, broker.written, [TP4], timeout_s=0.1, poll_s=0.01))


def test_no_partitions_no_request() -> None:
    broker = Broker(end=1, stable=1, markers_after=0)
    assert asyncio.run(settled_ends(broker.committed, broker.written, [], timeout_s=1.0)) == {}
    assert broker.calls == 0
