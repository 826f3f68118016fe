"""Kafka transactions at the edges of a partition's ownership (faust 0.15.3, ``exactly_once``).

faust ends every transaction (commits without beginning a new one) when the worker stops and
when a rebalance revokes its partitions, after waiting for the streams to drain. A record can
still slip in after that (one stage-2 record in the rebalance test), and then:

* an agent writing for it fails (aiokafka refuses a send outside a transaction) and crashes
  the worker, exit 70 instead of 0 on SIGTERM;
* faust's second end-of-transactions commit sends its offset to a producer with no transaction
  open: ``IllegalOperation('Not in the middle of a transaction')`` stops the consumer from
  stopping, its thread keeps the process alive, and SIGTERM never ends the worker.

(faust itself acks the records it skips while its flow is suspended, so late acks are normal.)
So the agents handle a record only while its partition's transaction is open (else it stays
unacked, and its partition's next owner, or this worker after a restart, reads it again from the
committed offset), and the producer never sends offsets to a transaction that is not open.
Rebalances need more: :class:`OwnedTransactionsManager` (producers of owned partitions only),
:class:`ConsumerThread` (table recovery up to the changelog's real, settled end) and
:class:`Consumer` (commits never skipped, what was acked committed before the revoke forgets it,
transaction markers counted done, the post-rebalance seek with the flow stopped);
docs/processors.md, "Ownership changes".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import faust
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

from processors.metrics import ProcessorMetrics

log = logging.getLogger("fleetpulse.processors.transactions")


def transaction_id(app: Any, topic: str, partition: int) -> str:
    """faust's transactional id of a source partition (``{app id}-{topic group}-{partition}``)."""
    return f"{app.conf.id}-{app.assignor.group_for_topic(topic)}-{partition}"


def in_transaction(producer: Any, tid: str) -> bool:
    """Whether faust's ``producer`` has a transactional producer ``tid`` with a transaction open."""
    p = producer._transaction_producers.get(tid)
    return p is not None and bool(p._txn_manager.is_in_transaction())


def transaction_open(app: Any, topic: str, partition: int) -> bool:
    return in_transaction(app.producer, transaction_id(app, topic, partition))


@asynccontextmanager
async def holding_commits(consumer: Any) -> AsyncIterator[None]:
    """No offset commit while a batch writes its state: with ``exactly_once`` faust commits, on a
    timer, every write sent so far with the offsets acked so far. Mid-batch that would commit part
    of a batch's state without its offsets, and a crash would then replay the batch onto state that
    already holds part of it (the restart test's double-counted cells). A commit that comes due
    meanwhile waits for this one to end, then runs (:meth:`Consumer.commit`) and takes the batch's
    offsets too (the caller acks its events before leaving the hold). (faust has no public hook
    for this; ``_commit_fut`` is the future its own concurrent commits wait on.)"""
    # several agents hold: each takes it with no await after the wait
    await no_commit_running(consumer)
    fut = consumer._commit_fut = _Hold(loop=asyncio.get_running_loop())
    try:
        yield
    finally:
        consumer._commit_fut = None
        fut.set_result(None)


async def no_commit_running(consumer: Any) -> None:
    """Until no commit or hold runs: checked again after every wake-up, as two waiters wake
    together and the first may start the next one. The running one's future is awaited through a
    shield, so a waiter that is cancelled stops at once and leaves the future alone. (faust's
    ``maybe_wait_for_commit_to_finish`` swallows the waiter's cancellation and cancels the future:
    at SIGTERM the fetcher, cancelled while waiting here, spun on that cancelled future without ever
    yielding, the commit could not end, and the worker hung until it was killed.)"""
    while (fut := consumer._commit_fut) is not None:
        if fut.done():  # cancelled by one of faust's waiters: its commit is still ending
            await asyncio.sleep(0.01)
            continue
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        except Exception:  # a failed commit is faust's to report; check again
            pass


def forget_acks(consumer: Any, tps: Iterable[TP]) -> None:
    """Drop faust's record of what was acked (and the offset gaps it counts as done) for ``tps``:
    every one of them is read again from its committed offset, so nothing acked before may join a
    later commit (it could commit a record before it was read again)."""
    for tp in tps:
        consumer._acked.pop(tp, None)
        consumer._acked_index.pop(tp, None)
        consumer._gap.pop(tp, None)


class _Hold(asyncio.Future[None]):
    """The hold's future, which its waiters cannot cancel: a task cancelled while awaiting a future
    cancels the future, and faust takes a cancelled commit future as "start a new commit" (one
    would run inside the hold; the hold's end then failed with ``InvalidStateError``).
    :func:`no_commit_running` waits through a shield anyway; this guards faust's own waiters, whose
    ``CancelledError`` then comes once the hold ends."""

    def cancel(self, msg: Any = None) -> bool:
        return False


async def send_in_transaction(
    table: Any, source_topic: str, source_partition: int, topic: Any, key: bytes, value: bytes, partition: int
) -> None:
    """Send into the transaction of the source partition (the one its offsets commit in). faust
    picks a transaction only for topics its consumer has metadata for, i.e. subscribed ones:
    ``topic.send`` put the aggregate records outside any transaction (no commit markers in the
    topic), and in the aggregates role the device-daily ones too."""
    app = table.app
    tid = transaction_id(app, source_topic, source_partition)
    await app.producer.send(topic.get_topic_name(), key, value, partition, None, None, transactional_id=tid)


def split_open(app: Any, events: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """``events`` whose partition's transaction is open, and the others."""
    is_open = {tp: transaction_open(app, tp.topic, tp.partition) for tp in {e.message.tp for e in events}}
    return [e for e in events if is_open[e.message.tp]], [e for e in events if not is_open[e.message.tp]]


class OpenTransactionsProducer(aiokafka_driver.Producer):
    """Commits offsets only into open transactions: offsets acked after faust ended a
    transaction stay uncommitted (their records are read again), instead of raising."""

    async def commit_transactions(
        self,
        tid_to_offset_map: Mapping[str, Mapping[TP, int]],
        group_id: str,
        start_new_transaction: bool = True,
    ) -> None:
        def is_open(tid: str) -> bool:  # unknown: faust warns
            return tid not in self._transaction_producers or in_transaction(self, tid)

        closed = {tid: dict(o) for tid, o in tid_to_offset_map.items() if not is_open(tid)}
        if closed:
            # normal at every stop: faust acks what it skips once its flow is suspended
            log.info(
                "offsets acked after their transaction ended: left uncommitted, read again",
                extra={
                    "step": "commit",
                    "offsets": {t: {str(tp): o for tp, o in m.items()} for t, m in closed.items()},
                },
            )
        await super().commit_transactions(
            {tid: o for tid, o in tid_to_offset_map.items() if tid not in closed},
            group_id,
            start_new_transaction=start_new_transaction,
        )


class OwnedTransactionsManager(TransactionManager):
    """Keeps a transactional producer only for the partitions this worker owns. faust stops the
    producers of revoked partitions only when they are not standby replicas here, and with one
    standby they are: the kept producer was fenced by the partition's new owner, and when the
    partition came back (the second worker left) every write of it failed with ProducerFenced
    and crashed the worker. A producer started afresh for a returning partition fences the
    previous owner's instead."""

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP]) -> None:
        owned = self._tps_to_transactional_ids(assigned)
        stale = sorted(set(self.producer._transaction_producers) - owned)  # type: ignore[attr-defined]
        if stale:
            log.info(
                "stopping transactional producers of partitions owned elsewhere",
                extra={"step": "rebalance", "tids": stale},
            )
            await self._stop_transactions(stale)
        # faust acks the records it skips while its flow is suspended for the rebalance
        forget_acks(self.consumer, assigned)
        await super().on_rebalance(assigned, revoked, newly_assigned)

    async def _start_transactions(self, tids: Iterable[str]) -> None:
        """Begin a transaction for each of ``tids`` that has none open: a kept partition's
        producer may have one, begun by the last timed commit (empty: everything written before the
        revoke was committed then). faust tried to begin it again and logged a warning
        ("Invalid state transition … IN_TRANSACTION") at every rebalance."""
        await super()._start_transactions([tid for tid in tids if not in_transaction(self.producer, tid)])


Ends = Callable[[list[TP]], Awaitable[Mapping[TP, int]]]

SETTLE_TIMEOUT_S = 30.0  # below faust's broker_request_timeout (90 s), which would stop recovery
RECOVERY_QUIET_S = 6.0  # more than one of faust's 5 s waits for a changelog record


class ChangelogInFlightError(RuntimeError):
    """A changelog partition to recover still holds a transaction that neither committed nor
    aborted: recovering up to its last stable offset would miss that transaction's state."""


async def settled_ends(
    committed: Ends, written: Ends, partitions: Sequence[TP], timeout_s: float, poll_s: float = 0.1
) -> dict[TP, int]:
    """The last stable offsets of ``partitions`` once no transaction is in flight on them (the last
    stable offset equals the log end). A commit returns before the broker has written its markers,
    and until then the last stable offset stops before the committed records; recovering only
    that far leaves a table without them (and a kept partition's table replayed back to older
    values). Nothing writes a changelog partition while it is recovered, so this settles in
    milliseconds; if it does not, :class:`ChangelogInFlightError` stops the worker loudly."""
    tps = list(partitions)
    if not tps:
        return {}
    deadline = time.monotonic() + timeout_s
    while True:
        stable, end = await committed(tps), await written(tps)
        in_flight = {tp: (stable[tp], end[tp]) for tp in tps if stable[tp] < end[tp]}
        if not in_flight:
            return {TP(tp.topic, tp.partition): stable[tp] for tp in tps}
        if time.monotonic() >= deadline:
            raise ChangelogInFlightError(f"last stable offset < log end after {timeout_s} s: {in_flight}")
        await asyncio.sleep(poll_s)


class ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """The consumer's thread, with a second, group-less and read-uncommitted consumer that asks the
    broker for log ends (the worker's own consumer reads committed records only)."""

    _log_ends: Any = None

    async def on_start(self) -> None:
        await super().on_start()
        self._log_ends = self._create_client_consumer(self.transport)  # type: ignore[arg-type]
        await self._log_ends.start()

    async def on_thread_stop(self) -> None:
        await super().on_thread_stop()
        if self._log_ends is not None:
            await self._log_ends.stop()

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        """The changelog ends that table recovery reads up to, asked of the broker. Under
        ``exactly_once`` faust takes the consumer's cached last stable offset, unknown (-1) until the
        consumer has fetched the partition, and then skips recovery: a worker given a partition
        it had not read yet started it from empty state (the stack rebalance test's lost boots).
        ListOffsets under read_committed answers the last stable offset itself; for the partitions
        recovered as active, once it has settled (:func:`settled_ends`). Standby partitions are
        being written by their owner, so theirs is taken as it is."""
        consumer = self._ensure_consumer()
        active: set[TP] = self.app.tables.recovery.active_tps  # type: ignore[attr-defined]
        standby = [tp for tp in partitions if tp not in active]
        ends = {TP(tp.topic, tp.partition): o for tp, o in (await consumer.end_offsets(standby)).items()}
        settle = [tp for tp in partitions if tp in active]
        ends.update(
            await settled_ends(consumer.end_offsets, self._log_ends.end_offsets, settle, SETTLE_TIMEOUT_S)
        )
        return ends


class Consumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        """Commit after any running commit or hold, never instead of it. faust skips a commit
        that finds another one running; when the running one was a batch's hold and the skipped
        one a rebalance's end-of-transactions commit, the transactions stayed open across the
        rebalance."""
        await no_commit_running(self)
        return bool(await super().commit(topics, start_new_transaction=start_new_transaction))

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Commit what was acked before faust forgets it. faust drops the acked offsets of the
        revoked partitions (all of them: its rebalance is eager) *before* its end-of-transactions
        commit runs, which then found nothing to commit: every transaction written since the last
        timed commit stayed open across the rebalance, and recovery read the changelogs without
        it (a kept partition's table was replayed back to older values). No await lies between
        this commit and faust dropping the acks, so nothing is acked in between; what the agents
        ack afterwards (the flow is stopped first) goes into faust's end-of-transactions commit."""
        try:
            if not self.app.should_stop:  # stopping: faust has ended the transactions already
                await self.commit()
        finally:
            await super().on_partitions_revoked(revoked)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Record the offsets from ``offset_from`` to before ``offset_to`` as never delivered
        (transaction markers, aborted records: the device-daily topic has a marker after every
        stage-1 batch). faust's gap also held ``offset_to``, the record that revealed it, which is
        acked on its own: the duplicate broke faust's run of consecutive done offsets, so each
        commit advanced past one marker only (stage 2's commits crawled, and its writes waited in
        transactions that only stage 1's commits of the same partition ended)."""
        await aiokafka_driver.Consumer._add_gap(self, tp, offset_from, offset_to - 1)  # tests call it unbound

    async def position(self, tp: TP) -> int | None:
        """The fetch position of ``tp``, which faust's table recovery asks only to decide that what
        is left of a changelog is aborted transactions (after two 5 s waits without a record). faust
        counts those waits from before the recovery started, so the decision could come ~1 s into
        it, with the records fetched but not yet handed to recovery: it ended with an empty table
        and ignored them (a kill -9 restart lost every device's census). No answer before
        ``RECOVERY_QUIET_S`` into a recovery (faust then logs "Error in recovery" and asks again 5 s
        later), so the decision follows a full wait inside the recovery."""
        started = self.app.tables.recovery._recovery_started_at  # type: ignore[attr-defined]
        if started is not None and time.monotonic() - started < RECOVERY_QUIET_S:
            return None
        return await aiokafka_driver.Consumer.position(self, tp)  # tests call it unbound

    async def perform_seek(self) -> None:
        """Seek to the committed offsets with the flow stopped, and forget every ack and gap from
        before. After a rebalance faust resumes the stream partitions *before* this seek, so the
        fetcher delivered records from the committed offset on while it ran, then set the read
        offset back and took the next record of a batch fetched before the seek for one after a
        gap: the offsets in between counted done twice (faust's commits then advanced one offset
        at a time, the rebalance test's group stalled for minutes) or before they were processed.
        With the flow stopped, the rest of a fetched batch is dropped; what was delivered is
        delivered again from the committed offset (stage 1 skips what it already folded in; stage 2
        folds a device-day in as "latest wins", so a replay in order changes nothing)."""
        flowing = self.flow_active
        self.stop_flow()
        try:
            await super().perform_seek()
            forget_acks(self, self.assignment())
        finally:
            if flowing:
                self.resume_flow()


class Transport(aiokafka_driver.Transport):
    Consumer = Consumer
    Producer = OpenTransactionsProducer
    TransactionManager = OwnedTransactionsManager


class App(faust.App):
    """faust's app on a Kafka transport with the consumer, producer and transaction manager above."""

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)


def forget(app: Any, event: Any) -> None:
    """Leave ``event`` for its partition's next owner: marked done for faust's stream (so
    ``take_events`` does not ack it after the batch) without reaching the consumer's acked offsets
    (which a later transaction could otherwise commit before the record was read again), and not
    waited for when faust drains its streams."""
    message = event.message
    app.consumer._unacked_messages.discard(message)
    message.acked = True


async def handle_in_transaction(
    app: Any, metrics: ProcessorMetrics, event: Any, work: Callable[[], Awaitable[None]]
) -> None:
    """Run ``work`` for ``event`` and ack it in one commit hold, if its partition's transaction is
    open; otherwise leave it for the partition's next owner."""
    msg = event.message
    async with holding_commits(app.consumer):
        # checked inside the hold: a commit ending the transaction may have run while it waited
        if not transaction_open(app, msg.topic, msg.partition):
            forget(app, event)
            metrics.deferred.inc()
            return
        await work()
        event.ack()
