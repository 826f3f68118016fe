"""batch step: epochs are deterministic (same offsets -> same token and rows), plans round-trip."""

from __future__ import annotations

import pytest

from sinks.epoch import Epoch, PlannedEnd, decode_plan, encode_plan


def fill(order: list[tuple[str, int, int]]) -> Epoch:
    epoch = Epoch()
    for topic, partition, offset in order:
        epoch.add((topic, partition), offset, "boot_events", (partition, offset), 10)
    return epoch


def test_token_and_rows_do_not_depend_on_interleaving() -> None:
    a = fill([("e", 0, 5), ("e", 1, 9), ("e", 0, 6), ("e", 1, 10)])
    b = fill([("e", 1, 9), ("e", 1, 10), ("e", 0, 5), ("e", 0, 6)])
    assert a.token("boot_events") == b.token("boot_events")
    assert [c.columns for _, c in a.batches()] == [c.columns for _, c in b.batches()]
    assert a.ranges() == [("e", 0, 5, 6), ("e", 1, 9, 10)]


def test_token_changes_with_ranges_and_table() -> None:
    a = fill([("e", 0, 5), ("e", 0, 6)])
    b = fill([("e", 0, 5), ("e", 0, 6), ("e", 0, 7)])
    assert a.token("boot_events") != b.token("boot_events")
    assert a.token("boot_events") != a.token("census")


def test_skipped_messages_extend_the_range() -> None:
    epoch = fill([("e", 0, 5)])
    epoch.skip(("e", 0), 6, 3)
    assert epoch.ranges() == [("e", 0, 5, 6)]
    assert epoch.num_rows == 1
    assert epoch.num_bytes == 13


def test_plan_round_trips_through_commit_metadata() -> None:
    epoch = fill([("e", 0, 5), ("e", 2, 1)])
    plan = epoch.plan()
    decoded = {tp: decode_plan(meta) for tp, meta in plan.items()}
    assert decoded[("e", 0)] == PlannedEnd(epoch.epoch_id(), 5, 2)
    assert decoded[("e", 2)] == PlannedEnd(epoch.epoch_id(), 1, 2)
    assert decode_plan("") is None
    assert decode_plan(None) is None
    assert decode_plan("fp1:broken") is None


@pytest.mark.parametrize(("offset", "beyond"), [(4, False), (7, False), (8, True)])
def test_replay_stops_at_the_planned_end(offset: int, beyond: bool) -> None:
    epoch = Epoch(planned={("e", 0): PlannedEnd("x", 7, 1)})
    assert epoch.beyond_plan(("e", 0), offset) is beyond
    assert epoch.beyond_plan(("e", 1), 0)  # a partition outside the plan waits for the next epoch


def test_replay_completes_at_every_planned_end() -> None:
    epoch = Epoch(planned={("e", 0): PlannedEnd("x", 7, 1)})
    epoch.add(("e", 0), 6, "t", (), 1)
    assert not epoch.plan_complete()
    epoch.add(("e", 0), 7, "t", (), 1)
    assert epoch.plan_complete()
    assert encode_plan("x", 7, 1) == "fp1:x:7:1"
