"""A table's changelog writes, handed to the producer before the step that made them acks its events.

With ``exactly_once`` a changelog record joins the transaction that is open when the producer
takes it, and that transaction commits with the offsets acked so far. faust queues
``send_changelog`` in its producer buffer, and ``ProducerBuffer.flush`` (0.15.3) gives up as soon as
one message takes more than 0.1 s to go out (a full aiokafka buffer, a busy loop): a batch then
acked its events while its state waited in the buffer, and the commit took the offsets without
the state. The state went out in the *next* transaction, so a rebalance or a crash in between
recovered the partition without it (the rebalance test's stale cells: a kept partition's table
was replayed to the committed end, which did not hold the last batch's writes yet, and the
next batch stepped from there). So the writes bypass the buffer: each is handed to the
transactional producer, in order, before the step acks (waiting for the broker's delivery instead
made stage 2, one record per hold, 50 times slower).
"""

from __future__ import annotations

from typing import Any


class Changelog:
    """Writes to ``table`` (its data and its changelog, on the partition given explicitly: the
    source partition, not faust's key hash); :meth:`flush` hands them to the producer."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._pending: list[Any] = []  # faust FutureMessages not handed to the producer yet

    def put(self, partition: int, key: str, value: bytes | None) -> None:
        """Write (``None``: delete) ``key``."""
        k = key.encode()
        t = self.table
        if value is None:
            t.data.pop(k, None)
        else:
            t.data[k] = value
        # what Table.send_changelog builds, without putting it in the producer buffer
        self._pending.append(
            t.changelog_topic.as_future_message(
                key=k,
                value=value,
                partition=partition,
                key_serializer=t.key_serializer,
                value_serializer=t.value_serializer,
                callback=t._on_changelog_sent,
                eager_partitioning=True,
            )
        )

    async def flush(self) -> None:
        """Hand every write so far to the producer (in the partition's open transaction), in order."""
        pending, self._pending = self._pending, []
        for fut in pending:
            await self.table.changelog_topic.publish_message(fut, wait=False)
