"""The commit hold (processors/transactions.py): faust's commits wait for it, the worker's own commits
then run (never skipped), and a waiter that is cancelled neither ends it for the others nor breaks
its end."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP
from intervaltree import IntervalTree  # type: ignore[import-untyped]

from processors.transactions import Consumer as Consumer_
from processors.transactions import holding_commits, no_commit_running


class Consumer:
    """faust's commit protocol, as far as the hold uses it: one ``_commit_fut`` that every commit
    waits on (faust.transport.consumer.Consumer.maybe_wait_for_commit_to_finish)."""

    def __init__(self) -> None:
        self._commit_fut: Any = None

    async def maybe_wait_for_commit_to_finish(self) -> bool:
        if self._commit_fut is not None:
            try:
                await self._commit_fut
            except asyncio.CancelledError:
                return False
            return True
        return False


def test_a_commit_due_during_the_hold_waits_for_its_end_and_is_skipped() -> None:
    async def run() -> list[str]:
        consumer, seen = Consumer(), []

        async def commit() -> None:
            skipped = await consumer.maybe_wait_for_commit_to_finish()
            seen.append("commit skipped" if skipped else "commit ran")

        async with holding_commits(consumer):
            task = asyncio.create_task(commit())
            await asyncio.sleep(0.01)
            seen.append("batch written")
        await task
        return seen

    assert asyncio.run(run()) == ["batch written", "commit skipped"]


def test_the_workers_commit_due_during_the_hold_runs_after_it() -> None:
    # processors.transactions.Consumer.commit: a rebalance's end-of-transactions commit that found a
    # batch's hold used to be skipped, leaving the kept partitions' transactions open
    async def run() -> list[str]:
        consumer, seen = Consumer(), []

        async def commit(name: str) -> None:
            await no_commit_running(consumer)
            consumer._commit_fut = asyncio.get_running_loop().create_future()
            seen.append(f"{name} ran")
            await asyncio.sleep(0.01)
            fut, consumer._commit_fut = consumer._commit_fut, None
            fut.set_result(None)

        async with holding_commits(consumer):
            tasks = [asyncio.create_task(commit("timer commit")), asyncio.create_task(commit("end commit"))]
            await asyncio.sleep(0.01)
            seen.append("batch written")
        await asyncio.gather(*tasks)
        return seen

    assert asyncio.run(run()) == ["batch written", "timer commit ran", "end commit ran"]


def test_a_cancelled_waiter_does_not_end_the_hold() -> None:
    async def run() -> tuple[bool, bool, bool]:
        consumer = Consumer()
        async with holding_commits(consumer):
            hold = consumer._commit_fut
            waiter = asyncio.create_task(consumer.maybe_wait_for_commit_to_finish())
            await asyncio.sleep(0.01)
            waiter.cancel()
            await asyncio.sleep(0.01)
            held = not hold.done() and consumer._commit_fut is hold
        # the hold ended without InvalidStateError; only then did the waiter see its cancellation
        # (which faust's wait takes as "commit now")
        await asyncio.sleep(0)
        return held, waiter.done() and waiter.result() is False, consumer._commit_fut is None

    assert asyncio.run(run()) == (True, True, True)


def test_two_holders_never_hold_at_once_and_a_commit_waits_for_both() -> None:
    async def run() -> list[str]:
        consumer, seen = Consumer(), []

        async def hold(name: str) -> None:
            async with holding_commits(consumer):
                seen.append(f"{name} in")
                await asyncio.sleep(0.01)
                seen.append(f"{name} out")

        async def commit() -> None:
            skipped = await consumer.maybe_wait_for_commit_to_finish()
            seen.append("commit skipped" if skipped else "commit ran")

        async with holding_commits(consumer):  # both holders and the commit wait on this one
            tasks = [
                asyncio.create_task(hold("a")),
                asyncio.create_task(hold("b")),
                asyncio.create_task(commit()),
            ]
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        return seen

    seen = asyncio.run(run())
    assert seen.count("commit skipped") == 1
    holds = [s for s in seen if s != "commit skipped"]
    assert holds in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"]), seen


def test_a_waiter_cancelled_during_a_commit_stops_at_once_and_leaves_the_commit_alone() -> None:
    # SIGTERM: faust cancels the fetcher while its commit waits for the timer's commit. With faust's
    # maybe_wait_for_commit_to_finish the waiter swallowed its cancellation, cancelled the commit's
    # future and then spun on it without yielding: the loop froze, the worker never exited.
    outcome: list[str] = []

    async def run() -> None:
        consumer = Consumer()
        commit = consumer._commit_fut = asyncio.get_running_loop().create_future()

        async def committer() -> None:
            await asyncio.sleep(0.3)
            consumer._commit_fut = None
            commit.set_result(None)

        ending = asyncio.create_task(committer())
        waiter = asyncio.create_task(no_commit_running(consumer))
        await asyncio.sleep(0.05)
        waiter.cancel()
        try:
            await waiter
        except asyncio.CancelledError:
            outcome.append("waiter cancelled")
        outcome.append("commit cancelled" if commit.cancelled() else "commit running")
        await ending
        outcome.append("commit ended")

    # in a thread: a regression spins the event loop, which no timeout inside it could stop
    t = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    t.start()
    t.join(5)
    assert outcome == ["waiter cancelled", "commit running", "commit ended"]


class Offsets:
    """faust's offset bookkeeping of one consumer, as its ``_add_gap`` and ``_new_offset`` use it."""

    def __init__(self, committed: int | None = None) -> None:
        self._committed_offset: dict[Any, int | None] = defaultdict(lambda: None)
        self._committed_offset[TP0] = committed
        self._gap: dict[Any, IntervalTree] = defaultdict(IntervalTree)
        self._acked: dict[Any, list[int]] = defaultdict(list)
        self._acked_index: dict[Any, set[int]] = defaultdict(set)


TP0 = TP("dd", 0)


def read_and_ack(add_gap: Any, c: Offsets, offsets: list[int], last_read: int | None) -> None:
    """faust's ``_drain_messages`` and ``ack`` for records at ``offsets`` (the missing offsets are
    transaction markers)."""
    for off in offsets:
        if last_read is not None and off - last_read > 1:
            asyncio.run(add_gap(c, TP0, last_read + 1, off))
        c._acked[TP0].append(off)
        c._acked_index[TP0].add(off)
        last_read = off


# records of three stage-1 transactions on a device-daily partition: a marker at 5, 10 and 15
RECORDS = [*range(0, 5), *range(6, 10), *range(11, 15)]


def test_one_commit_takes_every_record_read_past_the_transaction_markers() -> None:
    c = Offsets()
    read_and_ack(Consumer_._add_gap, c, RECORDS, None)
    assert FaustConsumer._new_offset(c, TP0) == 15  # type: ignore[arg-type]


def test_faust_s_own_gaps_advanced_one_transaction_per_commit() -> None:
    # the record after each marker was in faust's gap and acked too: the duplicate ended the run
    c = Offsets()
    read_and_ack(aiokafka_driver.Consumer._add_gap, c, RECORDS, None)
    assert FaustConsumer._new_offset(c, TP0) == 7  # type: ignore[arg-type]


def test_an_aborted_transaction_after_the_committed_offset_counts_done() -> None:
    # committed 10 (the next offset to read); 10-12 were aborted records, 13 their abort marker
    c = Offsets(committed=10)
    read_and_ack(Consumer_._add_gap, c, [*range(14, 20)], 9)
    assert FaustConsumer._new_offset(c, TP0) == 20  # type: ignore[arg-type]


class Recovering:
    """A consumer as ``Consumer.position`` sees it: the app's recovery start and the thread's answer."""

    def __init__(self, started_s_ago: float | None) -> None:
        started = None if started_s_ago is None else time.monotonic() - started_s_ago
        recovery = SimpleNamespace(_recovery_started_at=started)
        self.app = SimpleNamespace(tables=SimpleNamespace(recovery=recovery))

        async def position(tp: Any) -> int:
            return 2392

        self._thread = SimpleNamespace(position=position)


@pytest.mark.parametrize(("started_s_ago", "answer"), [(1.5, None), (7.0, 2392), (None, 2392)])
def test_recovery_gets_no_position_before_a_full_wait_inside_it(
    started_s_ago: float | None, answer: Any
) -> None:
    # the failed kill -9 restart: faust decided 1.5 s into the recovery, records fetched but not handed over
    assert asyncio.run(Consumer_.position(Recovering(started_s_ago), TP0)) == answer  # type: ignore[arg-type]
