"""Batch aggregation vs an exact computation over the same events."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from processors.aggregate import AggregateConfig, aggregate, event_epoch, is_too_late, prune_crash_counts
from processors.device_state import DeviceCensus
from processors.partials import DAY, Partials, app_rows, merge, merge_all, merge_into, rolling, to_rows
from processors.samples import DeviceSamples

T0 = datetime(2026, 3, 11, tzinfo=UTC)
DEVS = [f"s:{i:08X}-0000-4000-8000-000000000000" for i in range(30)]
CENSUS = {
    d: DeviceCensus(f"Dell|M{i % 3}", f"10.0.2263{i % 2}.1", ("ssd", "hdd")[i % 5 == 0], "domain")
    for i, d in enumerate(DEVS)
}


def ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ev(name: str, dev: str, t: datetime, **data: Any) -> dict[str, Any]:
    return {
        "name": name,
        "time": ts(t),
        "ext": {"device": {"localId": dev}, "os": {"bootId": 1}},
        "data": {"schemaVersion": 1, **data},
    }


def boot(dev: str, t: datetime, core: int, gp: int | None = 0, total: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "coreBootMs": core,
        "totalBootMs": total or core + 5000,
        "isRebootAfterUpdate": False,
    }
    if gp is not None:
        d["gpBootMs"] = gp
    return ev("Fleet.Boot.Performance", dev, t, **d)


def logon(dev: str, t: datetime, core: int, first: bool = False, after_fu: bool = False) -> dict[str, Any]:
    return ev(
        "Fleet.Logon.Performance",
        dev,
        t,
        coreLogonMs=core,
        gpLogonMs=100,
        desktopShownMs=core + 100,
        totalLogonMs=core + 2000,
        isFirstLogonForUser=first,
        isAfterFeatureUpdate=after_fu,
        userType="ad",
    )


def crash(dev: str, t: datetime, app: str = "teams.exe", ver: str = "1.0") -> dict[str, Any]:
    return ev("Fleet.Fault.AppCrash", dev, t, appName=app, appVersion=ver)


def random_events(seed: int, n: int = 3000, days: int = 3) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = T0 + timedelta(seconds=int(rng.integers(0, days * 86400)))
        dev = DEVS[int(rng.integers(0, len(DEVS)))]
        if i % 2:
            out.append(
                boot(
                    dev, t, int(rng.lognormal(9.5, 0.5)) + 1, int(rng.integers(0, 3) * rng.integers(0, 9000))
                )
            )
        else:
            out.append(logon(dev, t, int(rng.lognormal(8.5, 0.6)) + 1, first=i % 10 == 0))
    return out


def exact_groups(
    events: list[dict[str, Any]],
) -> dict[tuple[str, int, str, str, str], tuple[list[float], set[str]]]:
    fields = {
        "Fleet.Boot.Performance": {
            "coreBootMs": "core_boot_ms",
            "gpBootMs": "gp_boot_ms",
            "updateMs": "update_ms",
            "totalBootMs": "total_boot_ms",
        },
        "Fleet.Logon.Performance": {
            "coreLogonMs": "core_logon_ms",
            "gpLogonMs": "gp_logon_ms",
            "desktopShownMs": "desktop_shown_ms",
            "totalLogonMs": "total_logon_ms",
        },
    }
    groups: dict[tuple[str, int, str, str, str], tuple[list[float], set[str]]] = defaultdict(
        lambda: ([], set())
    )
    for e in events:
        d = e["data"]
        if d.get("isFirstLogonForUser") or d.get("isAfterFeatureUpdate"):
            continue
        dev = e["ext"]["device"]["localId"]
        c = CENSUS[dev]
        h = int(event_epoch(e["time"])) // 3600 * 3600
        for f, metric in fields[e["name"]].items():
            if f not in d:
                continue
            for kind, ws in (("hour", h), ("day", h - h % DAY)):
                for st, sc in (
                    ("fleet", "all"),
                    ("model", c.model),
                    ("os_build", c.os_build),
                    ("disk_type", c.disk_type),
                    ("join_type", c.join_type),
                ):
                    vals, devs = groups[(kind, ws, st, sc, metric)]
                    vals.append(float(d[f]))
                    devs.add(dev)
    return groups


def canonical(p: Partials) -> dict[Any, Any]:
    return {
        "metrics": {
            k: (
                v.count,
                v.sketch.buckets(include_zero=True),
                v.sketch.min,
                v.sketch.max,
                round(v.sum, 6),
                frozenset(v.devices),
            )
            for k, v in p.metrics.items()
        },
        "counters": dict(p.counters),
        "apps": {
            k: (frozenset(a.devices), a.usage_ms, a.crashes, a.crashes_raw, a.hangs)
            for k, a in p.apps.items()
        },
    }


def test_every_aggregate_matches_exact_computation() -> None:
    events = random_events(1)
    part, _ = aggregate(events, CENSUS)
    groups = exact_groups(events)
    assert set(part.metrics) == set(groups)
    for key, (vals, devs) in groups.items():
        st = part.metrics[key]
        arr = np.asarray(vals)
        assert st.count == arr.size
        assert st.sum == pytest.approx(float(arr.sum()), rel=1e-12)
        assert st.devices == devs
        for q in (0.5, 0.9, 0.99):
            exact = float(np.quantile(arr, q, method="lower"))
            est = st.sketch.quantile(q)
            assert est is not None
            assert (est == 0.0) if exact == 0.0 else abs(est - exact) / exact <= 0.01


def test_sign_in_exclusions_counted_not_aggregated() -> None:
    t = T0 + timedelta(hours=8)
    events = [
        logon(DEVS[0], t, 5000),
        logon(DEVS[0], t, 90_000, first=True),
        logon(DEVS[1], t, 70_000, after_fu=True),
    ]
    part, _ = aggregate(events, CENSUS)
    assert part.metrics[("day", int(T0.timestamp()), "fleet", "all", "core_logon_ms")].count == 1
    assert part.counters[("day", int(T0.timestamp()), "fleet", "all", "logons_excluded")] == 2


def test_fast_startup_boots_counted_not_aggregated() -> None:
    t = T0 + timedelta(hours=8)
    fast = boot(DEVS[1], t, 4000)
    fast["data"]["bootKind"] = "fastStartup"
    full = boot(DEVS[0], t, 20_000)
    full["data"]["bootKind"] = "full"
    part, _ = aggregate([full, fast, boot(DEVS[2], t, 30_000)], CENSUS)
    day = int(T0.timestamp())
    core = part.metrics[("day", day, "fleet", "all", "core_boot_ms")]
    assert core.count == 2  # the full boot and the one without bootKind
    assert part.metrics[("day", day, "fleet", "all", "total_boot_ms")].count == 2
    assert part.counters[("day", day, "fleet", "all", "boots_fast_startup")] == 1


def test_zero_gp_boot_goes_to_zero_bucket_and_missing_optional_is_skipped() -> None:
    t = T0 + timedelta(hours=1)
    part, _ = aggregate([boot(DEVS[0], t, 9000, gp=0), boot(DEVS[1], t, 9000, gp=None)], CENSUS)
    gp = part.metrics[("hour", int(t.timestamp()), "fleet", "all", "gp_boot_ms")]
    assert gp.count == 1
    assert gp.sketch.zero_count == 1
    assert gp.sketch.quantile(0.5) == 0.0
    assert part.metrics[("hour", int(t.timestamp()), "fleet", "all", "core_boot_ms")].count == 2


def test_crash_cap_ten_per_app_device_day_across_batches() -> None:
    t = T0 + timedelta(hours=3)
    day = int(T0.timestamp())
    first = [crash(DEVS[0], t + timedelta(minutes=i)) for i in range(7)]
    second = [crash(DEVS[0], t + timedelta(minutes=10 + i)) for i in range(8)] + [crash(DEVS[1], t)]
    nextday = [crash(DEVS[0], t + timedelta(days=1))]
    a, counts = aggregate(first, CENSUS)
    b, counts = aggregate(second, CENSUS, counts)
    c, counts = aggregate(nextday, CENSUS, counts)
    total = merge_all([a, b, c])
    app = total.apps[("day", day, "app", "all", "teams.exe")]
    assert (app.crashes, app.crashes_raw, len(app.devices)) == (11, 16, 2)
    assert total.apps[("day", day + DAY, "app", "all", "teams.exe")].crashes == 1
    assert counts[(DEVS[0], "teams.exe", day)] == 15
    assert prune_crash_counts(counts, day + DAY) == {(DEVS[0], "teams.exe", day + DAY): 1}
    # the same events in one batch give the same capped figure
    one, _ = aggregate(first + second + nextday, CENSUS)
    assert canonical(one) == canonical(total)


def test_app_partials_match_exact_computation_with_cap() -> None:
    rng = np.random.default_rng(9)
    events = []
    for _ in range(4000):
        dev = DEVS[int(rng.integers(0, 4))]  # few devices -> the cap bites
        t = T0 + timedelta(seconds=int(rng.integers(0, 2 * 86400)))
        app, ver = f"a{int(rng.integers(0, 3))}.exe", f"1.{int(rng.integers(0, 2))}"
        which = int(rng.integers(0, 3))
        if which == 0:
            events.append(crash(dev, t, app, ver))
        elif which == 1:
            events.append(ev("Fleet.Fault.AppHang", dev, t, appName=app, appVersion=ver))
        else:
            events.append(
                ev(
                    "Fleet.App.UsageSummary",
                    dev,
                    t,
                    appName=app,
                    appVersion=ver,
                    aggregationDurationMs=900_000,
                    userActiveDurationMs=int(rng.integers(0, 900_000)),
                    inFocusDurationMs=0,
                )
            )
    crashes_seen: dict[tuple[str, str, int], int] = defaultdict(int)
    exact: dict[tuple[str, int, str, str, str], list[Any]] = defaultdict(lambda: [set(), 0, 0, 0, 0])
    for e in events:
        d, dev = e["data"], e["ext"]["device"]["localId"]
        h = int(event_epoch(e["time"])) // 3600 * 3600
        counted = 0
        if e["name"] == "Fleet.Fault.AppCrash":
            crashes_seen[(dev, d["appName"], h - h % DAY)] += 1
            counted = int(crashes_seen[(dev, d["appName"], h - h % DAY)] <= 10)
        c = CENSUS[dev]
        for kind, ws in (("hour", h), ("day", h - h % DAY)):
            for st, sc in (
                ("app", "all"),
                ("app_version", d["appVersion"]),
                ("model", c.model),
                ("os_build", c.os_build),
            ):
                row = exact[(kind, ws, st, sc, d["appName"])]
                row[0].add(dev)
                if e["name"] == "Fleet.Fault.AppCrash":
                    row[2] += counted
                    row[3] += 1
                elif e["name"] == "Fleet.Fault.AppHang":
                    row[4] += 1
                else:
                    row[1] += d["userActiveDurationMs"]
    part, counts = aggregate(events[:1700], CENSUS)
    rest, _ = aggregate(events[1700:], CENSUS, counts)
    got = merge(part, rest).apps
    assert {k: (a.devices, a.usage_ms, a.crashes, a.crashes_raw, a.hangs) for k, a in got.items()} == {
        k: tuple(v) for k, v in exact.items()
    }
    assert any(v[3] > v[2] for v in exact.values())  # the cap was exercised


def test_usage_hangs_and_mttf() -> None:
    t = T0 + timedelta(hours=2)
    events = [
        ev(
            "Fleet.App.UsageSummary",
            DEVS[0],
            t,
            appName="x.exe",
            appVersion="2.0",
            aggregationDurationMs=900_000,
            userActiveDurationMs=800_000,
            inFocusDurationMs=800_000,
            audioOutMs=300_000,
        ),  # capped at window
        ev(
            "Fleet.App.UsageSummary",
            DEVS[1],
            t,
            appName="x.exe",
            appVersion="2.0",
            aggregationDurationMs=900_000,
            userActiveDurationMs=900_000,
            inFocusDurationMs=0,
        ),
        ev("Fleet.Fault.AppHang", DEVS[1], t, appName="x.exe", appVersion="2.0"),
        crash(DEVS[2], t, "x.exe", "2.1"),
    ]
    part, _ = aggregate(events, CENSUS)
    app = part.apps[("day", int(T0.timestamp()), "app", "all", "x.exe")]
    assert (app.usage_ms, app.hangs, app.crashes, len(app.devices)) == (1_800_000, 1, 1, 3)
    assert app.mttf_hours == pytest.approx(0.5)
    assert part.apps[("day", int(T0.timestamp()), "app_version", "2.1", "x.exe")].crashes == 1
    rows = app_rows(part)
    assert {
        "window_kind",
        "scope_type",
        "app",
        "devices",
        "usage_ms",
        "crashes",
        "hangs",
        "mttf_hours",
    } <= set(rows[0])


def test_restarts_and_stop_errors_per_category_and_device() -> None:
    t = T0 + timedelta(hours=5)
    events = [
        ev("Fleet.Power.Transition", DEVS[0], t, category="blueScreen", isAbnormal=True),
        ev("Fleet.Power.Transition", DEVS[0], t, category="restartWithUpdate", isAbnormal=False),
        ev("Fleet.Fault.StopError", DEVS[0], t, bugCheckCode="0x0000009F"),
    ]
    part, _ = aggregate(events, CENSUS)
    day = int(T0.timestamp())
    c = part.counters
    assert c[("day", day, "device", DEVS[0], "restarts")] == 2
    assert c[("day", day, "fleet", "all", "restarts_blue_screen")] == 1
    assert c[("day", day, "model", "Dell|M0", "restarts_abnormal")] == 1
    assert c[("day", day, "device", DEVS[0], "stop_errors")] == 1
    assert ("day", day, "fleet", "all", "restarts_restart_with_update") in c


def test_late_event_lands_in_its_own_window() -> None:
    now = T0 + timedelta(days=4)
    late = boot(DEVS[0], T0 + timedelta(hours=7, minutes=5), 20_000)
    part, _ = aggregate([late, boot(DEVS[1], now, 10_000)], CENSUS)
    assert (
        part.metrics[
            ("hour", int((T0 + timedelta(hours=7)).timestamp()), "fleet", "all", "core_boot_ms")
        ].count
        == 1
    )
    wm = now.timestamp()
    assert not is_too_late(event_epoch(late["time"]), wm)  # 3 days < 96 h
    assert is_too_late(wm - 96 * 3600 - 1, wm)
    assert not is_too_late(wm - 96 * 3600, wm)


def test_merge_is_associative_and_equals_single_batch() -> None:
    events = random_events(2, 1500)
    a, b, c = (aggregate(events[i::3], CENSUS)[0] for i in range(3))
    left = merge(merge(a, b), c)
    right = merge(a, merge(b, c))
    whole, _ = aggregate(events, CENSUS)
    assert canonical(left) == canonical(right) == canonical(whole)
    assert left.samples.equals(whole.samples)
    assert right.samples.equals(whole.samples)
    moved = merge_into(merge_into(Partials(), a), b, consume=True)
    merge_into(moved, c, consume=True)
    assert canonical(moved) == canonical(whole)
    # inputs untouched by merge
    assert canonical(a) == canonical(aggregate(events[0::3], CENSUS)[0])


def test_rolling_equals_daily_aggregate_of_the_range() -> None:
    events = random_events(3, 2000, days=5)
    part, _ = aggregate(events, CENSUS)
    end = int((T0 + timedelta(days=3)).timestamp())
    roll = rolling(part, end, 3)
    inside = [e for e in events if end - 2 * DAY <= event_epoch(e["time"]) < end + DAY]
    ref, _ = aggregate(inside, CENSUS, cfg=AggregateConfig(windows=("day",)))
    relabeled = {
        ("3d", end - 2 * DAY, *k[2:]): v for k, v in canonical(rolling(ref, end, 3))["metrics"].items()
    }
    assert canonical(roll)["metrics"] == relabeled
    assert {k[0] for k in roll.metrics} == {"3d"}


def test_rows_have_explicit_fields() -> None:
    part, _ = aggregate(random_events(4, 300), CENSUS)
    rows = to_rows(part)
    assert len(rows) == len(part.metrics) + len(part.counters)
    r = next(r for r in rows if r["scope_type"] == "fleet" and r["window_kind"] == "day")
    for f in (
        "window_kind",
        "window_start",
        "scope_type",
        "scope",
        "metric",
        "count",
        "sum",
        "mean",
        "p50",
        "p90",
        "p99",
        "sketch_keys",
        "sketch_counts",
        "zero_count",
        "devices",
    ):
        assert f in r
    assert sum(r["sketch_counts"]) + r["zero_count"] == r["count"]
    drows = part.samples.rows()
    exact = [e for e in random_events(4, 300) if not e["data"].get("isFirstLogonForUser")]
    assert sum(d["count"] for d in drows if d["metric"] == "core_boot_ms") == sum(
        1 for e in exact if e["name"] == "Fleet.Boot.Performance"
    )
    assert {
        "window_kind",
        "window_start",
        "scope_type",
        "scope",
        "metric",
        "count",
        "sum",
        "p50",
        "min",
        "max",
    } <= set(drows[0])


def test_device_samples_cap_is_mergeable() -> None:
    rng = np.random.default_rng(5)
    n = 300
    s = DeviceSamples(
        np.zeros(n, np.int64),
        np.array(["d"] * n, object),
        np.array(["m"] * n, object),
        rng.lognormal(9, 1, n),
    )
    whole = s.capped(64)
    parts = s.take(np.arange(0, 150)).capped(64).concat(s.take(np.arange(150, n)).capped(64), 64)
    assert len(whole) == 64
    assert whole.equals(parts)
    med = whole.per_device_medians("m", 0, 0)
    assert set(med) == {"d"}
