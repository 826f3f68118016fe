"""The commit hold (processors/transactions.py): faust's commits wait for it, the worker's own commits
then run (never skipped), and a waiter that is cancelled neither ends it for the others nor breaks
its end."""

from __future__ import annotations

import asyncio
from typing import Any

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
