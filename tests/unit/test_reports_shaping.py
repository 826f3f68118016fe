"""Pure shaping of report rows into documents, filters and time ranges (no ClickHouse)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fleetpulse.reports import apps, devices, models, params, regressions, restarts, startup, text
from processors import scores

T = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
FLT = params.Filters(T - dt.timedelta(days=14), T, model="Latitude 7440", limit=2)


def boot(dev: str, make: str, model: str, core: float, gp: float | None, n: int = 2) -> dict[str, Any]:
    return {
        "device_id": dev,
        "make": make,
        "model": model,
        "os_build": "10.0.22631.4169",
        "boots": n,
        "core_boot_ms_med": core,
        "gp_boot_ms_med": gp,
        "total_boot_ms_med": core + 5000,
    }


def logon(dev: str, core: float, total: float | None) -> dict[str, Any]:
    return {
        "device_id": dev,
        "make": "Dell Inc.",
        "model": "Latitude 7440",
        "os_build": "10.0.22631.4169",
        "signins": 3,
        "core_logon_ms_med": core,
        "gp_logon_ms_med": None,
        "desktop_shown_ms_med": core + 1000,
        "total_logon_ms_med": total,
    }


BOOTS = [
    boot(f"d{i}", "Dell Inc.", "Latitude 7440", 10_000 + 5_000 * i, 2_000.0 if i % 2 else None)
    for i in range(5)
] + [boot("h0", "HP", "EliteBook 840", 40_000, 500)]
LOGONS = [logon(f"d{i}", 6_000 + 1_000 * i, 20_000 if i < 3 else None) for i in range(5)] + [
    logon("only-logon", 9_000, 30_000)
]


def test_time_parsing_and_range() -> None:
    newest = dt.datetime(2026, 3, 7, 23, 59, 59, 999_000, tzinfo=dt.UTC)
    start, end = params.resolve_range(None, None, newest)
    assert end == dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
    assert start == dt.datetime(2026, 2, 22, tzinfo=dt.UTC)
    start, end = params.resolve_range("36h", "2026-03-02", newest)
    assert (start, end) == (
        dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
    )
    assert params.parse_time("2026-03-01T10:00:00Z", newest) == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="not a time"):
        params.parse_time("x'); DROP TABLE boot_events; --", newest)
    with pytest.raises(ValueError, match="empty time range"):
        params.resolve_range("2026-03-05", "2026-03-01", newest)


def test_params_are_strings_and_sql_has_no_values() -> None:
    evil = params.Filters(T, T, model="' OR 1=1 --", app="x'); DROP TABLE boot_events; --")
    p = evil.params()
    assert p["since"] == "2026-03-08 00:00:00.000"
    assert p["model"] == "' OR 1=1 --"
    for sql in (
        startup.DEVICE_BOOT_SQL,
        apps.CRASHES_SQL,
        restarts.CATEGORIES_SQL,
        regressions.REGRESSIONS_SQL,
    ):
        assert "{model:String}" in sql or "{app:String}" in sql
        assert "OR 1=1" not in sql
    assert params.render_sql("SELECT 1 FROM {db}.t", "fleetpulse") == "SELECT 1 FROM fleetpulse.t"
    with pytest.raises(ValueError, match="identifier"):
        params.render_sql("SELECT 1 FROM {db}.t", "x; DROP TABLE t")


def test_merge_devices_and_values() -> None:
    merged = startup.merge_devices(BOOTS, LOGONS)
    assert set(merged) == {"d0", "d1", "d2", "d3", "d4", "h0", "only-logon"}
    assert merged["h0"]["signins"] == 0
    assert merged["h0"]["core_logon_ms"] is None
    assert merged["only-logon"]["boots"] == 0
    assert merged["only-logon"]["core_boot_ms"] is None
    assert startup.device_values(merged)["d1"] == {
        "core_boot_ms": 15_000.0,
        "gp_boot_ms": 2_000.0,
        "core_logon_ms": 7_000.0,
        "desktop_shown_ms": 8_000.0,
        "total_logon_ms": 20_000.0,
    }


def test_shape_startup_exact() -> None:
    pct_boot = [
        {
            "grp": "",
            "boots": 12,
            "boots_fast_startup": 3,
            "devices": 6,
            "core_boot_ms_p50": 20_000.0,
            "core_boot_ms_p90": 40_000.0,
            "gp_boot_ms_p50": 500.0,
            "gp_boot_ms_p90": 2_000.0,
            "total_boot_ms_p50": 25_000.0,
            "total_boot_ms_p90": 45_000.0,
        }
    ]
    doc = startup.shape_startup(FLT, pct_boot, [], BOOTS, LOGONS)
    values = startup.device_values(startup.merge_devices(BOOTS, LOGONS))
    assert doc["scores"] == {
        "startup_score": scores.startup_score(values),
        "boot_score": scores.boot_score(values),
        "signin_score": scores.signin_score(values),
        "boot_devices": 6,
        "signin_devices": 6,
        "status": "ok",
    }
    # d0: core 10 s -> 100, no GP -> 100; d1: core 15 s, GP 2 s -> weighted 0.7 / 0.3
    d1 = 0.7 * scores.metric_score("core_boot_ms", 15_000) + 0.3 * scores.metric_score("gp_boot_ms", 2_000)
    assert scores.device_score(values["d1"], scores.DEFAULT_SCORES.boot_weights) == pytest.approx(d1)
    assert doc["metrics"][0] == {
        "metric": "core_boot_ms",
        "label": "Core boot",
        "phase": "boot",
        "count": 12,
        "devices": 6,
        "p50": 20_000.0,
        "p90": 40_000.0,
    }
    assert doc["metrics"][3] == {
        "metric": "core_logon_ms",
        "label": "Core sign-in",
        "phase": "sign-in",
        "count": 0,
        "devices": 0,
        "p50": None,
        "p90": None,
    }
    assert (doc["devices"], doc["boots"], doc["boots_fast_startup"], doc["signins"]) == (7, 12, 3, 0)
    assert doc["filters"]["model"] == "Latitude 7440"
    few = startup.shape_startup(FLT, [], [], BOOTS[:4], LOGONS[:4])
    assert few["scores"]["startup_score"] is None
    assert few["scores"]["status"] == "insufficient data"
    assert "insufficient data" in text.startup_text(few)


def test_shape_models_sorts_scored_first_and_limits() -> None:
    pct = [
        {
            "grp": "Dell Inc./Latitude 7440",
            "boots": 10,
            "core_boot_ms_p50": 20_000.0,
            "core_boot_ms_p90": 30_000.0,
        },
        {"grp": "HP/EliteBook 840", "boots": 2, "core_boot_ms_p50": 40_000.0, "core_boot_ms_p90": 40_000.0},
    ]
    doc = models.shape_models(FLT, pct, [], BOOTS, LOGONS)
    names = [m["model"] for m in doc["models"]]
    assert names == ["Dell Inc./Latitude 7440", "HP/EliteBook 840"]
    dell, hp = doc["models"]
    assert (dell["devices"], hp["devices"]) == (6, 1)  # only-logon reports as Dell from its sign-ins
    assert dell["startup_score"] is not None
    assert hp["startup_score"] is None
    assert (dell["core_boot_ms_p50"], dell["core_boot_ms_p90"], dell["core_logon_ms_p50"]) == (
        20_000.0,
        30_000.0,
        None,
    )


def test_shape_devices_slowest_first() -> None:
    doc = devices.shape_devices(FLT, BOOTS, LOGONS)
    assert doc["total_devices"] == 7
    assert [d["device_id"] for d in doc["devices"]] == ["h0", "d4"]  # limit 2
    h0 = doc["devices"][0]
    assert (h0["model"], h0["core_boot_ms"], h0["signin_score"]) == ("HP/EliteBook 840", 40_000, None)
    assert h0["boot_score"] == pytest.approx(
        0.7 * scores.metric_score("core_boot_ms", 40_000) + 0.3 * scores.metric_score("gp_boot_ms", 500)
    )


def test_shape_restarts_exact() -> None:
    cats = [
        {"category": "blueScreen", "restarts": 2, "devices": 1, "abnormal": 2},
        {"category": "restartWithUpdate", "restarts": 6, "devices": 4, "abnormal": 0},
    ]
    codes = [{"bug_check_code": "0x9f", "stop_errors": 3, "devices": 2}]
    doc = restarts.shape_restarts(FLT, cats, codes, stop_devices=2, active_devices=10)
    by = {c["category"]: c for c in doc["categories"]}
    assert by["restartWithUpdate"] == {
        "category": "restartWithUpdate",
        "restarts": 6,
        "devices": 4,
        "abnormal": 0,
        "share": 0.75,
        "per_device": 0.6,
    }
    assert by["unknown"]["restarts"] == 0
    assert by["unknown"]["share"] == 0.0
    assert next(c["category"] for c in doc["categories"]) == "restartWithUpdate"
    assert (doc["restarts"], doc["abnormal_share"], doc["stop_errors_per_device"]) == (8, 0.25, 0.3)
    empty = restarts.shape_restarts(FLT, [], [], 0, 0)
    assert (empty["restarts_per_device"], empty["abnormal_share"]) == (None, None)
    assert "0 restarts on 0 active devices" in text.restarts_text(empty)


def test_shape_apps_exact() -> None:
    usage = [
        {"app": "Teams", "active_devices": 6, "usage_ms": 36_000_000},
        {"app": "Excel", "active_devices": 2, "usage_ms": 7_200_000},
    ]
    crashes = [
        {"app": "Teams", "crashes": 15, "crashes_counted": 12, "crash_devices": 3},
        {"app": "Legacy", "crashes": 1, "crashes_counted": 1, "crash_devices": 1},
    ]
    hangs = [{"app": "Excel", "hangs": 4}]
    doc = apps.shape_apps(params.Filters(T, T), usage, crashes, hangs, enrolled=10)
    teams, legacy, excel = doc["apps"]  # by crashes, then hangs
    assert teams == {
        "app": "Teams",
        "crashes": 15,
        "crashes_counted": 12,
        "crash_devices": 3,
        "hangs": 0,
        "active_devices": 6,
        "usage_hours": 10.0,
        "mttf_hours": 10.0 / 12,
        "score": scores.app_score(36_000_000, 12, 6, 10),
    }
    assert teams["score"] == 0.0  # MTTF below the 10 h "poor" point
    assert (excel["app"], excel["mttf_hours"], excel["score"]) == ("Excel", None, None)  # 2 devices < 5
    assert (legacy["usage_hours"], legacy["active_devices"]) == (0.0, 0)
    assert doc["app_reliability_score"] == 0.0  # only Teams qualifies


def test_shape_regressions_likely_cause() -> None:
    causes: list[list[Any]] = [["KB1", "Cumulative update", 0.9, 0.1, 7.4], ["D2", "Driver", 0.5, 0.4, 1.2]]
    row: dict[str, Any] = {
        "regression_id": "r1",
        "status": "open",
        "scope_type": "model",
        "scope": "Dell/L",
        "metric": "core_boot_ms",
        "baseline_value": 20_000.0,
        "current_value": 26_000.0,
        "change_pct": 30.0,
        "p_value": 0.0004,
        "started_at": "2026-03-04T00:00:00.000Z",
        "causes": causes,
    }
    doc = regressions.shape_regressions(FLT, [row])
    r = doc["regressions"][0]
    assert r["likely_cause"] == {
        "change_id": "KB1",
        "change_name": "Cumulative update",
        "prevalence_affected": 0.9,
        "prevalence_unaffected": 0.1,
        "lift": 7.4,
    }
    assert doc["open"] == 1
    out = text.regressions_text(doc)
    assert "model:Dell/L" in out
    assert "30.0%" in out
    assert "Cumulative update (90% of affected vs 10%)" in out
    named = regressions.shape_regressions(
        FLT, [{**row, "causes": [dict(zip(regressions.CAUSE_FIELDS, causes[0], strict=True))]}]
    )
    assert named["regressions"][0]["likely_cause"]["change_id"] == "KB1"


def test_text_formats() -> None:
    assert (text.secs(12_345), text.secs(None), text.score(61.4), text.score(None)) == (
        "12.3",
        "-",
        "61",
        "insufficient data",
    )
    assert (text.pct(0.256), text.num(1234.5, 1)) == ("25.6%", "1,234.5")
