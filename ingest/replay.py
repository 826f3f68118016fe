"""``fleetpulse replay-dlq``: replay ``telemetry.dlq.v1`` through the collector's steps, once, bounded.

    start: end offsets of every DLQ partition (the run stops there: it never chases new records)
           + warm the dedup store from the events topic's tail (ingest/warm.py)
    per consume batch:  judge (ingest/replay_steps.py: filter -> recover -> check_size -> decode
           -> check_tenant -> dedup -> stamp)  -> produce (idempotent, keyed by device id)
           -> flush and CHECK every delivery report -> commit the DLQ offsets of the batch

A record is never written back to the DLQ. ``--policy skip-invalid`` counts and skips records that
fail again; ``--policy stop`` stops at the first one and commits only the records before it (per
DLQ partition). ``--dry-run`` judges everything, produces nothing and commits nothing. A delivery
failure raises :class:`ReplayError` before the batch's offsets are committed (exit code 1; run
again: the dedup store, warmed from the events topic, recognizes what did land).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import click
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from fleetpulse.settings import Settings, Tenant
from ingest.dedup import DedupKey, DedupStore
from ingest.producer import producer_config
from ingest.replay_steps import POLICIES, Policy, Summary, Verdict, judge, read_headers, stops
from ingest.warm import keys_of

log = logging.getLogger("fleetpulse.replay")


class ReplayError(RuntimeError):
    """Kafka did not acknowledge a replayed record: nothing of its batch was committed."""


def _consumer(settings: Settings, group: str) -> Any:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "log_level": 3,
        }
    )


def _start_and_end(
    consumer: Any, topic: str, from_beginning: bool
) -> tuple[list[TopicPartition], dict[int, int]]:
    """Where each DLQ partition starts (committed, or low watermark) and its end offset now."""
    partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    if not partitions:
        raise ReplayError(f"DLQ topic {topic!r} does not exist")
    committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    assign, ends = [], {}
    for tp in committed:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
        start = low if from_beginning or tp.offset < 0 else max(tp.offset, low)
        if start < high:
            assign.append(TopicPartition(topic, tp.partition, start))
            ends[tp.partition] = high
    return assign, ends


def _warm(settings: Settings, seen: DedupStore, replayed: DedupStore) -> int:
    """Remember the keys of the events topic's last ``replay_dedup_warm_s`` (all, and those stamped
    ``replayed``), at most ``collector_dedup_max_entries`` per partition; like ingest/warm.py."""
    consumer = _consumer(settings, f"fleetpulse-replay-warm-{uuid.uuid4().hex[:8]}")  # never commits
    deadline, topic, n = time.monotonic() + settings.replay_dedup_warm_timeout_s, settings.topic_events, 0
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        if not partitions:  # no events topic (yet): nothing to remember
            return 0
        since_ms = int((time.time() - settings.replay_dedup_warm_s) * 1000)
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, since_ms) for p in partitions], timeout=10
        )
        assign, ends = [], {}
        for tp in starts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            start = max(
                tp.offset if tp.offset >= 0 else high, low, high - settings.collector_dedup_max_entries
            )
            if start < high:
                assign.append(TopicPartition(topic, tp.partition, start))
                ends[tp.partition] = high
        consumer.assign(assign)
        done: set[int] = set()
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise ReplayError(f"dedup warm-up of {topic} incomplete after {n} messages: not replaying")
            for msg in [m for m in consumer.consume(5000, 0.5) if _wanted(m, ends, done)]:
                keys = keys_of(msg.key(), msg.value())
                seen.remember(keys)
                if b'"replayed":true' in (msg.value() or b""):
                    replayed.remember(keys)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
                n += 1
    finally:
        consumer.close()
    log.info("dedup warmed from the last %.0f s of %s: %d messages", settings.replay_dedup_warm_s, topic, n)
    return n


def _dedup(settings: Settings) -> Callable[[tuple[DedupKey, ...], str], bool]:
    """Collector records: seen in the warmed events tail, or earlier in this run. Sink records are
    in the events topic already (the message the sink skipped): only replayed copies count."""
    seen, replayed = (
        DedupStore(settings.collector_dedup_max_entries, settings.collector_dedup_window_s) for _ in range(2)
    )
    _warm(settings, seen, replayed)
    local: set[DedupKey] = set()

    def is_duplicate(keys: tuple[DedupKey, ...], origin: str) -> bool:
        store = seen if origin == "collector" else replayed
        if any(k in local or store.is_seen(k) for k in keys):
            return True
        local.update(keys)  # claimed by this run (a failed delivery aborts the run)
        return False

    return is_duplicate


def replay_dlq_run(
    settings: Settings,
    *,
    policy: Policy,
    reasons: frozenset[str] = frozenset(),
    group: str | None = None,
    from_beginning: bool = False,
    dry_run: bool = False,
) -> Summary:
    """One bounded replay of ``settings.topic_dlq``; returns the counts (see the module docstring)."""
    summary = Summary(dry_run=dry_run)
    tenants: dict[str, Tenant] = dict(settings.tenants)
    is_duplicate = _dedup(settings)
    consumer = _consumer(settings, group or settings.replay_group_id)
    producer = (
        None if dry_run else Producer({**producer_config(settings), "client.id": "fleetpulse-replay-dlq"})
    )
    try:
        assign, ends = _start_and_end(consumer, settings.topic_dlq, from_beginning)
        consumer.assign(assign)
        done: set[int] = set()
        while len(done) < len(ends):
            batch = [m for m in consumer.consume(settings.replay_batch, 1.0) if _wanted(m, ends, done)]
            if not batch:  # offsets may have gaps (retention, transaction markers): ask for positions
                at = consumer.position([TopicPartition(settings.topic_dlq, p) for p in ends])
                done.update(tp.partition for tp in at if tp.offset >= ends[tp.partition])
                continue
            stop, positions, errors = False, dict[int, int](), list[str]()
            for msg in batch:
                verdict = judge(
                    read_headers(msg.headers()), msg.value() or b"", tenants=tenants,
                    events_topic=settings.topic_events, max_record_bytes=settings.collector_max_record_bytes,
                    reasons=reasons, is_duplicate=is_duplicate,
                )  # fmt: skip
                summary.count(verdict)
                if stops(policy, verdict):
                    summary.stopped_at = f"{msg.partition()}@{msg.offset()} ({verdict.reason})"
                    stop = True
                    break
                if verdict.kind == "replay" and producer is not None:
                    _produce(producer, settings.topic_events, verdict, errors)
                positions[msg.partition()] = msg.offset() + 1
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
            if producer is not None:
                _deliver(producer, errors, settings.collector_delivery_timeout_ms / 1000 + 5)
                _commit(consumer, settings.topic_dlq, positions, summary)
            if stop:
                break
    finally:
        consumer.close()
    return summary


def _wanted(msg: Message, ends: dict[int, int], done: set[int]) -> bool:
    err = msg.error()
    if err is not None:
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("consume error: %s", err)
        return False
    return msg.partition() not in done and msg.offset() < ends.get(msg.partition(), 0)


def _produce(producer: Any, topic: str, verdict: Verdict, errors: list[str]) -> None:
    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(str(err))

    while True:
        try:
            producer.produce(topic, key=verdict.key, value=verdict.value, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.1)


def _deliver(producer: Any, errors: list[str], timeout_s: float) -> None:
    """Wait for every delivery report of the batch; raise before anything is committed on failure."""
    left = producer.flush(timeout_s)
    if left or errors:
        raise ReplayError(
            f"{left} replayed record(s) unacknowledged, {len(errors)} failed"
            + (f" (first: {errors[0]})" if errors else "")
            + ": DLQ offsets of the batch not committed"
        )


def _commit(consumer: Any, topic: str, positions: dict[int, int], summary: Summary) -> None:
    if positions:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in positions.items()], asynchronous=False
        )
        summary.committed.update(positions)


@click.command("replay-dlq")
@click.option(
    "--policy", type=click.Choice(POLICIES), required=True,
    help="skip-invalid: count and skip records that fail again; stop: stop at the first one.",
)  # fmt: skip
@click.option(
    "--reason", "reasons", multiple=True, help="Replay only records of this DLQ reason (repeatable)."
)
@click.option("--group", default=None, help="Consumer group (default: settings.replay_group_id).")
@click.option("--from-beginning", is_flag=True, help="Start at the low watermark, not the committed offsets.")
@click.option("--dry-run", is_flag=True, help="Judge and report only: produce nothing, commit nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def replay_dlq(
    ctx: click.Context, policy: Policy, reasons: tuple[str, ...], group: str | None,
    from_beginning: bool, dry_run: bool, as_json: bool,
) -> None:  # fmt: skip
    """Replay the DLQ through the collector's checks into the events topic (never back into the DLQ)."""
    settings = ctx.obj
    assert isinstance(settings, Settings)
    try:
        summary = replay_dlq_run(
            settings, policy=policy, reasons=frozenset(reasons), group=group,
            from_beginning=from_beginning, dry_run=dry_run,
        )  # fmt: skip
    except (ReplayError, KafkaException) as exc:
        click.echo(f"replay-dlq: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(summary.as_dict()) if as_json else summary.render())
    if summary.stopped_at is not None:
        sys.exit(2)
