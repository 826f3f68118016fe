"""The stage-1 step without faust: exact aggregation, quarantine, lateness, expiry, emitted rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from processors.detector import TenantState, complete_day, observe
from processors.emit import aggregate_messages, device_daily_messages, tick_message
from processors.partials import DAY
from processors.state import (
    GroupState,
    cell_table_key,
    device_table_key,
    encode_cell,
    encode_device,
    encode_meta,
    meta_table_key,
    restore,
)
from processors.step import Record, StepConfig, step

T0 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event(name: str, dev: str, t: float, data: dict[str, Any], boot_id: int = 1) -> dict[str, Any]:
    return {
        "name": name,
        "time": iso(t),
        "data": data,
        "ext": {
            "device": {"localId": dev},
            "os": {"bootId": boot_id, "ver": "10.0.22631.4460"},
            "ingest": {"tenant": "contoso"},
        },
    }


def census(dev: str, t: float, model: str) -> dict[str, Any]:
    return event(
        "Fleet.Census.Device",
        dev,
        t,
        {
            "oemManufacturerName": "Dell Inc.",
            "oemModelNumber": model,
            "osBuild": "10.0.22631.4460",
            "primaryDiskMediaType": "SSD",
        },
    )


def boot(dev: str, t: float, core: float, boot_id: int = 1) -> dict[str, Any]:
    return event(
        "Fleet.Boot.Performance",
        dev,
        t,
        {"coreBootMs": core, "gpBootMs": 0, "updateMs": 0, "totalBootMs": core + 1000},
        boot_id,
    )


def records(events: list[dict[str, Any]], start: int = 0) -> list[Record]:
    return [(start + i, e) for i, e in enumerate(events)]


def generated(n_dev: int = 60, seed: int = 3) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    rng = np.random.default_rng(seed)
    evs = [census(f"d{i}", T0 + 60, "Latitude 7440" if i % 2 else "OptiPlex 7090") for i in range(n_dev)]
    values: dict[str, list[float]] = {"Latitude 7440": [], "OptiPlex 7090": []}
    for k in range(600):
        i = int(rng.integers(n_dev))
        v = float(np.round(rng.lognormal(9.4, 0.5)))
        evs.append(boot(f"d{i}", T0 + 3600 + k * 30, v, boot_id=1 + k))
        values["Latitude 7440" if i % 2 else "OptiPlex 7090"].append(v)
    return evs, values


def test_step_equals_exact_computation_over_a_generated_batch() -> None:
    evs, values = generated()
    g = GroupState(3, "contoso")
    res = step(g, records(evs[:300]))
    res2 = step(g, records(evs[300:], 300))  # two batches merge into the same state
    assert res.counts["processed"] + res2.counts["processed"] == len(evs)
    day = int(T0)
    for model, vals in values.items():
        m = g.partials.metrics[("day", day, "model", f"Dell Inc.|{model}", "core_boot_ms")]
        assert m.count == len(vals)
        assert m.sum == pytest.approx(sum(vals))
        for q in (0.5, 0.9, 0.99):
            exact = float(np.quantile(vals, q, method="lower"))
            assert m.sketch.quantile(q) == pytest.approx(exact, rel=0.01)
    fleet = g.partials.metrics[("day", day, "fleet", "all", "core_boot_ms")]
    assert fleet.count == 600
    assert len(fleet.devices) == len({e["ext"]["device"]["localId"] for e in evs[60:]})
    assert g.versions[("metric", ("day", day, "fleet", "all", "core_boot_ms"))] == len(evs) - 1


def test_emitted_rows_have_the_sink_contract() -> None:
    evs, _ = generated(10)
    evs.append(
        event("Fleet.Fault.AppCrash", "d1", T0 + 7200, {"appName": "ms-teams.exe", "appVersion": "1.0"}, 9999)
    )
    evs.append(event("Fleet.Power.Transition", "d1", T0 + 7300, {"category": "blueScreen"}, 9999))
    g = GroupState(2, "contoso")
    res = step(g, records(evs))
    msgs = aggregate_messages(g, res.changed)
    kinds = {d["kind"]: (k, d) for k, d in msgs}
    key, metric = kinds["metric"]
    assert key == f"{metric['scope_type']}:{metric['scope']}"
    assert set(metric) == {
        "kind",
        "tenant",
        "window_kind",
        "window_start",
        "scope_type",
        "scope",
        "metric",
        "source_partition",
        "version",
        "count",
        "sum",
        "min",
        "max",
        "zero_count",
        "buckets",
        "p50",
        "p90",
        "p99",
        "devices",
    }
    assert metric["source_partition"] == 2
    assert metric["window_start"].endswith("Z")
    assert all(int(k) and isinstance(v, int) for k, v in metric["buckets"].items())
    _, app = kinds["app"]
    assert set(app) == {
        "kind",
        "tenant",
        "window_kind",
        "window_start",
        "scope_type",
        "scope",
        "app",
        "app_version",
        "source_partition",
        "version",
        "active_devices",
        "usage_ms",
        "crashes",
        "crashes_counted",
        "hangs",
        "crash_devices",
    }
    _, counter = kinds["counter"]
    assert set(counter) == {
        "kind",
        "tenant",
        "window_kind",
        "window_start",
        "scope_type",
        "scope",
        "counter",
        "source_partition",
        "version",
        "value",
        "devices",
    }
    assert len(msgs) == len(
        {
            (
                d["kind"],
                d["window_kind"],
                d["window_start"],
                d["scope_type"],
                d["scope"],
                d.get("metric") or d.get("app") or d.get("counter"),
            )
            for _, d in msgs
        }
    )  # coalesced
    daily = device_daily_messages(g, res.device_days, 6)
    assert daily
    assert all(k == "contoso" for k, _ in daily)
    assert all(d["source_partitions"] == 6 for _, d in daily)


def test_device_daily_messages_announce_a_day_only_after_it() -> None:
    # a batch spanning three days: messages in day order, each watermark capped at its own day
    # start, so stage 2 cannot call a day complete before the rest of the batch is through
    g = GroupState(2, "contoso")
    evs = [boot(d, T0 + day * 86400 + 3600, 5000) for day in range(3) for d in ("b", "a")]
    res = step(g, records(evs))
    daily = [d for _, d in device_daily_messages(g, res.device_days, 4)]
    assert [(d["day"], d["device"]) for d in daily] == [
        (int(T0) + day * 86400, dev) for day in range(3) for dev in ("a", "b")
    ]
    assert [d["watermark"] for d in daily] == [float(d["day"]) for d in daily]
    assert g.watermark > daily[-1]["watermark"]


def test_a_day_is_complete_only_when_every_source_partition_passed_it() -> None:
    st = TenantState("contoso")
    day = int(T0)
    msg = {"tenant": "contoso", "device": "a", "day": day, "model": "M", "os_build": "B", "m": {}, "a": {}}
    observe(
        st, {**msg, "changes": [], "source_partition": 0, "source_partitions": 2, "watermark": day + 3 * DAY}
    )
    assert complete_day(st) is None  # partition 1 has not reported: it may still hold these days
    observe(st, tick_message("contoso", 1, day + DAY + 5.0, 2))  # no device of this tenant there
    assert complete_day(st) == day
    assert set(st.devices) == {"a"}


def test_lower_boot_id_is_quarantined_and_not_aggregated() -> None:
    g = GroupState(0, "contoso")
    res = step(
        g,
        records(
            [census("d", T0, "X"), boot("d", T0 + 10, 5000, boot_id=7), boot("d", T0 + 20, 9000, boot_id=6)]
        ),
    )
    assert res.counts["quarantined"] == 1
    assert g.devices["d"].state.quarantined == 1
    assert g.partials.metrics[("day", int(T0), "fleet", "all", "core_boot_ms")].count == 1


def test_late_events_update_their_window_or_are_dropped() -> None:
    g = GroupState(0, "contoso")
    step(g, records([boot("d", T0 + 5 * 86400, 5000)]))
    res = step(g, records([boot("d", T0 + 2 * 86400, 6000), boot("d", T0, 7000)], 1))
    assert res.counts["late_updated"] == 1  # 72 h behind: accepted into its own day
    assert res.counts["late_dropped"] == 1  # 120 h behind: dropped
    assert ("day", int(T0 + 2 * 86400), "fleet", "all", "core_boot_ms") in g.partials.metrics
    assert ("day", int(T0), "fleet", "all", "core_boot_ms") not in g.partials.metrics


def test_windows_expire() -> None:
    g = GroupState(0, "contoso")
    cfg = StepConfig(day_retention_days=5)
    step(g, records([boot("d", T0 + 3600, 5000)]), cfg)
    hour = ("metric", ("hour", int(T0 + 3600), "fleet", "all", "core_boot_ms"))
    day = ("metric", ("day", int(T0), "fleet", "all", "core_boot_ms"))
    res = step(g, records([boot("d", T0 + 3600 + 98 * 3600, 5000)], 1), cfg)
    assert hour in res.closed
    assert day not in res.closed
    res = step(g, records([boot("d", T0 + 6 * 86400 + 3600, 5000)], 2), cfg)
    assert day in res.closed
    assert day[1] not in g.partials.metrics


def test_state_round_trips_through_the_table_form() -> None:
    evs, _ = generated(20)
    g = GroupState(4, "contoso")
    step(g, records(evs))
    p = g.partials
    cells = (
        [("metric", k) for k in p.metrics]
        + [("app", k) for k in p.apps]
        + [("counter", k) for k in p.counters]
    )
    items = [(cell_table_key(g, c), encode_cell(g, c)) for c in cells]
    items += [(device_table_key(g, d), encode_device(r)) for d, r in g.devices.items()]
    items.append((meta_table_key(g), encode_meta(g)))
    back = restore(4, items)["contoso"]
    assert back.partials.metrics == p.metrics
    assert back.devices == g.devices
    assert back.versions == g.versions
    assert (back.watermark, back.applied_offset) == (g.watermark, len(evs) - 1)
    assert restore(5, items) == {}


def usage(dev: str, t: float, app: str, active_ms: int) -> dict[str, Any]:
    data = {"appName": app, "appVersion": "1.0", "userActiveDurationMs": active_ms}
    # a boot id above every generated boot's: not quarantined
    return event("Fleet.App.UsageSummary", dev, t, {**data, "aggregationDurationMs": 3_600_000}, 10_000)


def test_a_redelivered_record_is_skipped_not_counted_twice() -> None:
    # what faust 0.15 did in the kill -9 restart test: a batch's last event came again as the first
    # of the next batch, and its app usage was added twice
    evs, _ = generated(20)
    evs += [usage(f"d{i % 20}", T0 + 30_000 + i * 60, "WINWORD.EXE", 1000 + i) for i in range(50)]
    recs = records(evs)
    once, again = GroupState(0, "contoso"), GroupState(0, "contoso")
    step(once, recs)
    counts = [step(again, batch).counts["redelivered"] for batch in (recs[:640], recs[639:], recs)]
    assert counts == [0, 1, len(recs)]  # the last: every record again (a replay onto committed state)
    assert again.partials.apps == once.partials.apps
    assert again.partials.metrics == once.partials.metrics
    assert again.devices == once.devices
    assert sum(a.usage_ms for a in once.partials.apps.values()) > 0


def test_result_does_not_depend_on_batch_boundaries() -> None:
    evs, _ = generated(30)
    # a device's census arrives after some of its boots: scopes must follow the census as of each event
    evs = evs[30:90] + evs[:30] + evs[90:]
    one, many = GroupState(0, "contoso"), GroupState(0, "contoso")
    step(one, records(evs))
    for i in range(0, len(evs), 7):
        step(many, records(evs[i : i + 7], i))
    assert many.partials.metrics == one.partials.metrics
    assert many.partials.counters == one.partials.counters
    assert many.devices == one.devices


def _final_docs(recs: list[Record], batch: int) -> dict[tuple[Any, ...], dict[str, Any]]:
    g = GroupState(0, "contoso")
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i in range(0, len(recs), batch):
        res = step(g, recs[i : i + batch])
        for _, d in aggregate_messages(g, res.changed):
            name = d.get("metric") or d.get("app") or d.get("counter")
            out[(d["kind"], d["window_kind"], d["window_start"], d["scope_type"], d["scope"], name)] = {
                k: v for k, v in d.items() if k != "version"
            }
    return out


def test_what_is_emitted_does_not_depend_on_batch_boundaries() -> None:
    # a simulated fleet in the simulator's order (device chunks, far from time order: most events
    # are late, and cells expire while late events for them are still in the same batch)
    from simulator import Simulation, SimulationConfig

    cfg = SimulationConfig(
        devices=150,
        days=6,
        start=datetime(2026, 3, 9, tzinfo=UTC),
        heartbeat_every_hours=24,
        resource_every_hours=24,
        battery_every_hours=24,
    )
    events = [r for b in Simulation(cfg).batches() for r in b]
    recs: list[Record] = [
        (i, {**r, "ext": {**r["ext"], "ingest": {"time": r["time"], "tenant": "contoso"}}})
        for i, r in enumerate(events)
    ]
    small, large = _final_docs(recs, 700), _final_docs(recs, 2000)
    assert small.keys() == large.keys()
    assert [k for k in small if small[k] != large[k]] == []
