"""Where a consumer group stands on a topic, read from the broker: the exact end of a test's wait."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    # a consumer fetches metadata only for the topics it wants: ask for this one (no public call)
    consumer._client.add_topic(topic)
    await consumer._client.force_metadata_update()
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


def caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """Whether ``group`` committed past every committed record of ``topic`` (a transactional
    topic ends in commit markers, which a consumer never commits past: they do not count)."""

    async def run() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        c = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
        )
        await admin.start()
        await c.start()
        try:
            committed = {tp: m.offset for tp, m in (await admin.list_consumer_group_offsets(group)).items()}
            ends = await c.end_offsets(await partitions(c, topic))
            behind = [tp for tp, end in ends.items() if committed.get(tp, 0) < end]
            if not behind:
                return True
            c.assign(behind)
            for tp in behind:
                c.seek(tp, committed.get(tp, 0))
            while [tp for tp in behind if await c.position(tp) < ends[tp]]:
                got = await c.getmany(timeout_ms=500, max_records=1)
                if any(got.values()):
                    return False
                if not got:
                    break
            return True
        finally:
            await c.stop()
            await admin.close()

    return asyncio.run(run())
