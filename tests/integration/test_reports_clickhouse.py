"""Reports against the embedded ClickHouse: exact figures from known raw rows, filters, injection."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from fleetpulse.reports import apps, build, device, devices, formats, models, regressions, restarts, startup
from fleetpulse.reports.html import build_html_report
from fleetpulse.reports.params import Filters
from fleetpulse.settings import Settings, Tenant
from processors import scores
from sinks.clickhouse import Backend

pytestmark = pytest.mark.clickhouse

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
SINCE, UNTIL = T0, T0 + dt.timedelta(days=7)
TENANT = "rpt"
DELL, HP = ("Dell Inc.", "Latitude 7440"), ("HP", "EliteBook 840")
OS_A, OS_B = "10.0.22631.4169", "10.0.26100.2033"
COMMON = [
    "tenant",
    "ikey",
    "device_id",
    "event_time",
    "received_at",
    "epoch",
    "seq",
    "boot_id",
    "os_ver",
    "sdk_ver",
    "dev_make",
    "dev_model",
]
INJECTIONS = ["' OR 1=1 --", "x'); DROP TABLE boot_events; --"]


def dev(i: int) -> str:
    return f"s:{i:08X}-5B3D-4F1A-9C27-3E8D5A6B1F04"


def device_info(i: int) -> tuple[str, str, str]:
    make, model = DELL if i < 5 else HP
    return make, model, OS_A if i < 6 else OS_B


_seq = iter(range(1, 10**6))


def common(i: int, when: dt.datetime, tenant: str = TENANT) -> list[Any]:
    make, model, os_ver = device_info(i)
    n = next(_seq)
    return [
        tenant,
        "o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f",
        dev(i),
        when,
        when,
        "1",
        n,
        n,
        os_ver,
        "a-1",
        make,
        model,
    ]


class Data:
    """Raw rows as inserted, kept to compute every expected figure in Python."""

    def __init__(self) -> None:
        rnd = random.Random(7)
        self.boots: list[dict[str, Any]] = []
        self.logons: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []
        self.stops: list[dict[str, Any]] = []
        self.usage: list[dict[str, Any]] = []
        self.crashes: list[dict[str, Any]] = []
        self.hangs: list[dict[str, Any]] = []
        for i in range(8):
            for k in range(3 + i % 2):
                when = T0 + dt.timedelta(days=k * 2, hours=i, minutes=k)
                core = 8000 + 2500 * i + rnd.randrange(0, 6000)
                gp = None if (i + k) % 3 == 0 else rnd.randrange(0, 9000)
                self.boots.append(
                    {
                        "i": i,
                        "t": when,
                        "core_boot_ms": core,
                        "gp_boot_ms": gp,
                        "total_boot_ms": core + (gp or 0) + rnd.randrange(1000, 5000),
                    }
                )
                excluded = k == 0
                c = 3000 + 1000 * i + rnd.randrange(0, 4000) + (90_000 if excluded else 0)
                self.logons.append(
                    {
                        "i": i,
                        "t": when + dt.timedelta(minutes=1),
                        "first": excluded,
                        "after_fu": False,
                        "core_logon_ms": c,
                        "desktop_shown_ms": c + 2000,
                        "gp_logon_ms": None if k == 1 else rnd.randrange(0, 5000),
                        "total_logon_ms": None if i == 3 else c + 2000 + rnd.randrange(0, 8000),
                    }
                )
            cats = ["restartWithUpdate", "blueScreen", "shutdownWithoutUpdate", "longPowerButtonPress"]
            for k in range(i % 4 + 1):
                cat = cats[(i + k) % 4]
                self.transitions.append(
                    {
                        "i": i,
                        "t": T0 + dt.timedelta(days=k, hours=i),
                        "category": cat,
                        "is_abnormal": cat in ("blueScreen", "longPowerButtonPress"),
                    }
                )
                if cat == "blueScreen":
                    self.stops.append({"i": i, "t": T0 + dt.timedelta(days=k, hours=i), "code": "0x0000009f"})
            for app in ("Teams", "Excel"):
                if app == "Excel" and i > 5:
                    continue
                for k in range(2):
                    self.usage.append(
                        {
                            "i": i,
                            "t": T0 + dt.timedelta(days=k + 1, hours=i),
                            "app": app,
                            "active": 3_000_000 + 100_000 * i,
                            "audio": None if k else 500_000 * (app == "Teams"),
                            "agg": 3_600_000,
                        }
                    )
        self.usage.append(
            {
                "i": 0,
                "t": T0 + dt.timedelta(days=3),
                "app": "Teams",
                "active": 4_000_000,
                "audio": 1_000_000,
                "agg": 3_600_000,
            }
        )  # capped at the window
        for j in range(12):  # one device-day over the cap of 10
            self.crashes.append({"i": 1, "t": T0 + dt.timedelta(days=2, minutes=j), "app": "Teams"})
        for i in (2, 3, 4):
            self.crashes.append({"i": i, "t": T0 + dt.timedelta(days=3, hours=i), "app": "Teams"})
        self.crashes.append({"i": 5, "t": T0 + dt.timedelta(days=4), "app": "Excel"})
        self.crashes.append({"i": 6, "t": T0 + dt.timedelta(days=4), "app": "Legacy"})  # no usage
        for i in (0, 1):
            self.hangs.append({"i": i, "t": T0 + dt.timedelta(days=5), "app": "Excel"})
        # out of range and another tenant: must never count
        self.outside = [T0 - dt.timedelta(days=1), UNTIL + dt.timedelta(hours=1)]

    def insert(self, ch: Backend) -> None:
        boot_cols = [*COMMON, "boot_start_time", "core_boot_ms", "gp_boot_ms", "total_boot_ms"]
        rows = [
            [*common(b["i"], b["t"]), b["t"], b["core_boot_ms"], b["gp_boot_ms"], b["total_boot_ms"]]
            for b in self.boots
        ]
        rows += [[*common(0, t), t, 99_000, 1, 99_999] for t in self.outside]
        rows.append([*common(0, T0 + dt.timedelta(days=1), tenant="other"), T0, 99_000, 1, 99_999])
        ch.insert("fleetpulse.boot_events", boot_cols, rows)
        # Fast Startup resumes: counted, never measured
        fast = [
            [*common(i, T0 + dt.timedelta(days=3, hours=i)), T0, 900, 0, 4000, "fastStartup"]
            for i in range(8)
        ]
        ch.insert("fleetpulse.boot_events", [*boot_cols, "boot_kind"], fast)
        logon_cols = [
            *COMMON,
            "logon_start_time",
            "user_type",
            "is_first_logon_for_user",
            "is_after_feature_update",
            "core_logon_ms",
            "desktop_shown_ms",
            "gp_logon_ms",
            "total_logon_ms",
        ]
        ch.insert(
            "fleetpulse.logon_events",
            logon_cols,
            [
                [
                    *common(r["i"], r["t"]),
                    r["t"],
                    "local",
                    r["first"],
                    r["after_fu"],
                    r["core_logon_ms"],
                    r["desktop_shown_ms"],
                    r["gp_logon_ms"],
                    r["total_logon_ms"],
                ]
                for r in self.logons
            ],
        )
        ch.insert(
            "fleetpulse.power_transitions",
            [*COMMON, "category", "is_abnormal"],
            [[*common(r["i"], r["t"]), r["category"], r["is_abnormal"]] for r in self.transitions],
        )
        ch.insert(
            "fleetpulse.stop_errors",
            [*COMMON, "bug_check_code"],
            [[*common(r["i"], r["t"]), r["code"]] for r in self.stops],
        )
        ch.insert(
            "fleetpulse.app_usage",
            [
                *COMMON,
                "app_name",
                "aggregation_start_time",
                "aggregation_duration_ms",
                "user_active_duration_ms",
                "in_focus_duration_ms",
                "audio_out_ms",
            ],
            [
                [*common(r["i"], r["t"]), r["app"], r["t"], r["agg"], r["active"], r["active"], r["audio"]]
                for r in self.usage
            ],
        )
        ch.insert(
            "fleetpulse.app_crashes",
            [*COMMON, "app_name"],
            [[*common(r["i"], r["t"]), r["app"]] for r in self.crashes],
        )
        ch.insert(
            "fleetpulse.app_hangs",
            [*COMMON, "app_name"],
            [[*common(r["i"], r["t"]), r["app"]] for r in self.hangs],
        )


def q_lower(values: list[float], q: float) -> float | None:
    s = sorted(values)
    return float(s[math.floor(q * (len(s) - 1))]) if s else None


@pytest.fixture(scope="module")
def data(clickhouse: Backend) -> Data:
    d = Data()
    d.insert(clickhouse)
    return d


def flt(**kw: Any) -> Filters:
    return Filters(SINCE, UNTIL, tenant=TENANT, **kw)


def boot_count(ch: Backend) -> int:
    return int(ch.query("SELECT count() FROM fleetpulse.boot_events")[0][0])


def expected_device_values(d: Data, keep: Any = lambda i: True) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for metric in startup.SCORED_BOOT:
        for i in range(8):
            vals = [b[metric] for b in d.boots if b["i"] == i and keep(i) and b[metric] is not None]
            if vals:
                out.setdefault(dev(i), {})[metric] = float(statistics.median(vals))
    for metric in startup.SCORED_LOGON:
        for i in range(8):
            vals = [
                r[metric]
                for r in d.logons
                if r["i"] == i and keep(i) and not r["first"] and r[metric] is not None
            ]
            if vals:
                out.setdefault(dev(i), {})[metric] = float(statistics.median(vals))
    return out


def test_startup_exact(clickhouse: Backend, data: Data) -> None:
    doc = startup.startup_report(clickhouse, flt())
    kept = [r for r in data.logons if not r["first"]]
    assert doc["devices"] == 8
    assert doc["boots"] == len(data.boots)
    assert doc["boots_fast_startup"] == 8
    assert doc["signins"] == len(kept)
    assert doc["signins_excluded"] == len(data.logons) - len(kept)
    for m in doc["metrics"]:
        src = data.boots if m["phase"] == "boot" else kept
        vals = [r[m["metric"]] for r in src if r[m["metric"]] is not None]
        assert (m["p50"], m["p90"]) == (q_lower(vals, 0.5), q_lower(vals, 0.9)), m["metric"]
        assert m["count"] == len(src)
    values = expected_device_values(data)
    s = doc["scores"]
    assert s["boot_score"] == pytest.approx(scores.boot_score(values), rel=1e-12)
    assert s["signin_score"] == pytest.approx(scores.signin_score(values), rel=1e-12)
    assert s["startup_score"] == pytest.approx(scores.startup_score(values), rel=1e-12)
    assert (s["boot_devices"], s["signin_devices"], s["status"]) == (8, 8, "ok")


def test_startup_filters_and_insufficient_data(clickhouse: Backend, data: Data) -> None:
    doc = startup.startup_report(clickhouse, flt(model="EliteBook 840"))
    assert doc["devices"] == 3
    assert doc["scores"]["startup_score"] is None
    assert doc["scores"]["status"] == "insufficient data"
    core = [b["core_boot_ms"] for b in data.boots if b["i"] >= 5]
    assert doc["metrics"][0]["p50"] == q_lower(core, 0.5)
    assert startup.startup_report(clickhouse, flt(model="HP/EliteBook 840"))["devices"] == 3
    assert startup.startup_report(clickhouse, flt(os_build="26100"))["devices"] == 2
    assert startup.startup_report(clickhouse, flt(os_build=OS_A))["devices"] == 6
    assert startup.startup_report(clickhouse, flt(app="Excel"))["devices"] == 6


def test_models_exact(clickhouse: Backend, data: Data) -> None:
    doc = models.models_report(clickhouse, flt())
    by = {m["model"]: m for m in doc["models"]}
    assert set(by) == {"Dell Inc./Latitude 7440", "HP/EliteBook 840"}
    dell = by["Dell Inc./Latitude 7440"]
    assert dell["devices"] == 5
    assert by["HP/EliteBook 840"]["devices"] == 3
    values = expected_device_values(data, keep=lambda i: i < 5)
    assert dell["startup_score"] == pytest.approx(scores.startup_score(values), rel=1e-12)
    assert by["HP/EliteBook 840"]["startup_score"] is None
    core = [b["core_boot_ms"] for b in data.boots if b["i"] < 5]
    assert (dell["core_boot_ms_p50"], dell["core_boot_ms_p90"]) == (q_lower(core, 0.5), q_lower(core, 0.9))
    assert doc["models"][0]["model"] == "Dell Inc./Latitude 7440"  # scored models first


def test_devices_exact(clickhouse: Backend, data: Data) -> None:
    doc = devices.devices_report(clickhouse, flt(limit=3))
    assert doc["total_devices"] == 8
    assert len(doc["devices"]) == 3
    medians = {
        dev(i): statistics.median([b["core_boot_ms"] for b in data.boots if b["i"] == i]) for i in range(8)
    }
    slowest = sorted(medians, key=lambda k: -medians[k])[:3]
    assert [d["device_id"] for d in doc["devices"]] == slowest
    top = doc["devices"][0]
    i = int(top["device_id"][2:10], 16)
    assert top["core_boot_ms"] == medians[top["device_id"]]
    assert (top["model"], top["os_build"]) == (f"{device_info(i)[0]}/{device_info(i)[1]}", device_info(i)[2])
    assert top["boots"] == sum(1 for b in data.boots if b["i"] == i)


def test_restarts_exact(clickhouse: Backend, data: Data) -> None:
    doc = restarts.restarts_report(clickhouse, flt())
    total = len(data.transitions)
    assert doc["restarts"] == total
    assert doc["active_devices"] == 8
    abnormal = sum(r["is_abnormal"] for r in data.transitions)
    assert doc["abnormal"] == abnormal
    assert doc["abnormal_share"] == abnormal / total
    by = {c["category"]: c for c in doc["categories"]}
    for cat in {r["category"] for r in data.transitions}:
        n = sum(1 for r in data.transitions if r["category"] == cat)
        assert by[cat]["restarts"] == n
        assert by[cat]["share"] == n / total
        assert by[cat]["per_device"] == n / 8
        assert by[cat]["devices"] == len({r["i"] for r in data.transitions if r["category"] == cat})
    assert by["bootError"]["restarts"] == 0
    assert doc["stop_errors"] == len(data.stops)
    assert doc["stop_errors_per_device"] == len(data.stops) / 8
    assert doc["stop_error_devices"] == len({r["i"] for r in data.stops})


def test_apps_exact(clickhouse: Backend, data: Data) -> None:
    doc = apps.apps_report(clickhouse, flt())
    by = {a["app"]: a for a in doc["apps"]}
    assert doc["enrolled_devices"] == 8
    assert set(by) == {"Teams", "Excel", "Legacy"}
    figures = {}
    for app in ("Teams", "Excel", "Legacy"):
        u = [r for r in data.usage if r["app"] == app]
        usage_ms = sum(min(r["active"] + (r["audio"] or 0), r["agg"]) for r in u)
        per_day: dict[tuple[int, dt.date], int] = {}
        for c in data.crashes:
            if c["app"] == app:
                per_day[(c["i"], c["t"].date())] = per_day.get((c["i"], c["t"].date()), 0) + 1
        counted = sum(min(n, 10) for n in per_day.values())
        active = len({r["i"] for r in u})
        a = by[app]
        assert a["crashes"] == sum(per_day.values())
        assert a["crashes_counted"] == counted
        assert a["hangs"] == sum(1 for h in data.hangs if h["app"] == app)
        assert a["active_devices"] == active
        assert a["usage_hours"] == usage_ms / 3_600_000
        assert a["mttf_hours"] == (usage_ms / 3_600_000 / counted if counted else None)
        assert a["score"] == scores.app_score(usage_ms, counted, active, 8)
        figures[app] = scores.AppFigures(usage_ms, counted, active)
    assert by["Teams"]["crashes_counted"] == 13
    assert by["Teams"]["crashes"] == 15
    assert [a["app"] for a in doc["apps"]] == ["Teams", "Excel", "Legacy"]
    assert doc["app_reliability_score"] == pytest.approx(scores.fleet_app_score(figures, 8), rel=1e-12)
    only = apps.apps_report(clickhouse, flt(app="Excel"))
    assert [a["app"] for a in only["apps"]] == ["Excel"]
    hp = apps.apps_report(clickhouse, flt(model="EliteBook 840"))
    assert {a["app"] for a in hp["apps"]} == {"Teams", "Excel", "Legacy"}
    assert {a["app"]: a["active_devices"] for a in hp["apps"]}["Teams"] == 3


REG_COLS = [
    "tenant",
    "regression_id",
    "status",
    "scope_type",
    "scope",
    "metric",
    "baseline_name",
    "baseline_value",
    "current_value",
    "change_pct",
    "devices_baseline",
    "devices_current",
    "test",
    "p_value",
    "started_at",
    "detected_at",
    "closed_at",
    "causes",
    "updated_at",
]


@pytest.fixture(scope="module")
def regression_rows(clickhouse: Backend) -> None:
    cause = [
        ("KB5034441", "2024-01 cumulative update", 0.9, 0.1, 7.4),
        ("drv-42", "GPU driver", 0.5, 0.4, 1.2),
    ]
    base = [
        TENANT,
        "r1",
        "open",
        "model",
        "Dell Inc./Latitude 7440",
        "core_boot_ms",
        "rolling",
        20000.0,
        26000.0,
        30.0,
        40,
        38,
        "van_elteren",
        0.0004,
        T0 + dt.timedelta(days=3),
        T0 + dt.timedelta(days=4),
        None,
        cause,
        T0 + dt.timedelta(days=4),
    ]
    newer = list(base)
    newer[8], newer[9], newer[-1] = 27000.0, 35.0, T0 + dt.timedelta(days=5)
    closed = [
        TENANT,
        "r2",
        "closed",
        "os_build",
        OS_B,
        "core_logon_ms",
        "rolling",
        9000.0,
        11000.0,
        22.2,
        9,
        9,
        "van_elteren",
        0.003,
        T0 + dt.timedelta(days=1),
        T0 + dt.timedelta(days=2),
        T0 + dt.timedelta(days=3),
        [],
        T0 + dt.timedelta(days=3),
    ]
    app = [
        TENANT,
        "r3",
        "open",
        "app",
        "Teams",
        "app_crashes_per_usage_hour",
        "rolling",
        0.1,
        0.3,
        200.0,
        8,
        8,
        "poisson_rate",
        0.001,
        T0 + dt.timedelta(days=2),
        T0 + dt.timedelta(days=3),
        None,
        [],
        T0 + dt.timedelta(days=3),
    ]
    clickhouse.insert("fleetpulse.regressions", REG_COLS, [base, closed, app])
    clickhouse.insert("fleetpulse.regressions", REG_COLS, [newer])


@pytest.mark.usefixtures("regression_rows")
def test_regressions(clickhouse: Backend) -> None:
    doc = regressions.regressions_report(clickhouse, flt())
    assert [r["regression_id"] for r in doc["regressions"]] == ["r3", "r1"]
    assert doc["open"] == 2
    r1 = doc["regressions"][1]
    assert (r1["current_value"], r1["change_pct"], r1["p_value"]) == (27000.0, 35.0, 0.0004)
    assert r1["likely_cause"] == {
        "change_id": "KB5034441",
        "change_name": "2024-01 cumulative update",
        "prevalence_affected": 0.9,
        "prevalence_unaffected": 0.1,
        "lift": 7.4,
    }
    assert r1["started_at"].startswith("2026-03-04T00:00:00")
    assert doc["regressions"][0]["likely_cause"] is None
    both = regressions.regressions_report(clickhouse, flt(), include_closed=True)
    assert [r["regression_id"] for r in both["regressions"]] == ["r3", "r1", "r2"]
    assert [
        r["regression_id"]
        for r in regressions.regressions_report(clickhouse, flt(model="Latitude 7440"))["regressions"]
    ] == ["r1"]
    assert [
        r["regression_id"]
        for r in regressions.regressions_report(clickhouse, flt(app="Teams"))["regressions"]
    ] == ["r3"]
    assert regressions.regressions_report(clickhouse, flt(os_build=OS_B))["regressions"] == []


@pytest.mark.usefixtures("regression_rows")
@pytest.mark.parametrize("evil", INJECTIONS)
@pytest.mark.parametrize("field", ["model", "os_build", "app", "tenant"])
def test_injection_is_data(clickhouse: Backend, data: Data, field: str, evil: str) -> None:
    before = boot_count(clickhouse)
    values: dict[str, Any] = {field: evil}
    f = dataclasses.replace(flt(), **values)
    assert startup.startup_report(clickhouse, f)["devices"] == 0
    assert models.models_report(clickhouse, f)["models"] == []
    assert devices.devices_report(clickhouse, f)["devices"] == []
    assert restarts.restarts_report(clickhouse, f)["restarts"] == 0
    assert apps.apps_report(clickhouse, f)["apps"] == []
    assert regressions.regressions_report(clickhouse, f)["regressions"] == []
    assert boot_count(clickhouse) == before
    assert clickhouse.query("EXISTS TABLE fleetpulse.boot_events")[0][0] == 1


def test_injection_through_time_is_rejected(clickhouse: Backend, data: Data) -> None:
    with pytest.raises(ValueError, match="not a time"):
        build.make_filters(clickhouse, since="2026-03-01' OR 1=1 --", tenant=TENANT)


def test_default_range_is_anchored_on_newest_data(clickhouse: Backend, data: Data) -> None:
    f = build.make_filters(clickhouse, tenant=TENANT)
    newest = max(r["t"] for r in [*data.boots, *data.logons, *data.usage, *data.crashes, *data.transitions])
    newest = max(newest, data.outside[1])
    assert f.until == newest + dt.timedelta(milliseconds=1)
    assert f.since == f.until - dt.timedelta(days=14)
    g = build.make_filters(clickhouse, tenant=TENANT, since="2d")
    assert g.since == g.until - dt.timedelta(days=2)


@pytest.mark.usefixtures("regression_rows")
def test_html_report_has_every_section(clickhouse: Backend, data: Data, tmp_path: Path) -> None:
    page = build_html_report(clickhouse, flt())
    for section in ("scores", "models", "trend", "apps", "restarts", "regressions"):
        assert f'<section id="{section}">' in page
    assert "Teams" in page
    assert "2024-01 cumulative update" in page
    assert "<polyline" in page
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")


class _Shared:
    """The module's backend as a Reader the CLI may close."""

    def __init__(self, ch: Backend) -> None:
        self.ch = ch

    def query_json(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.ch.query_json(sql, params)

    def close(self) -> None:
        pass


@pytest.fixture
def cli_env(clickhouse: Backend, clickhouse_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from fleetpulse.reports import cli

    monkeypatch.setattr(cli, "open_reader", lambda settings, tenant=None: _Shared(clickhouse))
    # reports read as one configured tenant (docs/security.md): configure this module's tenant
    return clickhouse_settings.model_copy(update={"tenants": {"k": Tenant(name=TENANT, ikeys=())}})


@pytest.mark.usefixtures("data", "regression_rows")
@pytest.mark.parametrize("name", ["startup", "models", "devices", "restarts", "apps"])
def test_cli_json_and_text(cli_env: Settings, name: str, tmp_path: Path) -> None:
    from fleetpulse.reports.cli import report

    args = [name, "--tenant", TENANT, "--since", "2026-03-01", "--until", "2026-03-08"]
    res = CliRunner().invoke(report, [*args, "--json"], obj=cli_env)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["report"] == name
    assert doc["filters"]["since"] == "2026-03-01T00:00:00.000Z"
    text = CliRunner().invoke(report, args, obj=cli_env)
    assert text.exit_code == 0, text.output
    assert text.output.strip()


@pytest.mark.usefixtures("data", "regression_rows")
def test_cli_regressions_and_html(cli_env: Settings, tmp_path: Path) -> None:
    from fleetpulse.reports.cli import regressions as regressions_cmd
    from fleetpulse.reports.cli import report

    res = CliRunner().invoke(regressions_cmd, ["--tenant", TENANT, "--json"], obj=cli_env)
    assert res.exit_code == 0, res.output
    assert [r["regression_id"] for r in json.loads(res.output)["regressions"]] == ["r3", "r1"]
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report, ["html", str(out), "--tenant", TENANT], obj=cli_env)
    assert res.exit_code == 0, res.output
    assert '<section id="regressions">' in out.read_text()


def test_device_report_exact(clickhouse: Backend, data: Data) -> None:
    doc = device.device_report(clickhouse, flt(), dev(1))
    mine = [b for b in data.boots if b["i"] == 1]
    logons = [r for r in data.logons if r["i"] == 1]
    counts = {
        "boot": len(mine) + 1,  # + its Fast Startup resume (counted, not measured)
        "signin": len(logons),
        "restart": sum(1 for r in data.transitions if r["i"] == 1),
        "stop_error": sum(1 for r in data.stops if r["i"] == 1),
        "crash": sum(1 for r in data.crashes if r["i"] == 1),
        "hang": sum(1 for r in data.hangs if r["i"] == 1),
        "config": 0,
    }
    assert doc["found"]
    assert doc["counts"] == counts
    assert len(doc["timeline"]) == sum(counts.values())
    times = [r["time"] for r in doc["timeline"]]
    assert times == sorted(times, reverse=True)
    core = next(m for m in doc["metrics"] if m["metric"] == "core_boot_ms")
    assert core["device_median"] == statistics.median(b["core_boot_ms"] for b in mine)
    assert core["fleet_p50"] == q_lower([b["core_boot_ms"] for b in data.boots], 0.5)
    values = expected_device_values(data)
    cfg = scores.DEFAULT_SCORES
    assert doc["scores"]["device"]["boot_score"] == pytest.approx(
        scores.device_score(values[dev(1)], cfg.boot_weights, cfg), rel=1e-12
    )
    assert doc["scores"]["fleet"]["startup_score"] == pytest.approx(scores.startup_score(values), rel=1e-12)
    teams = next(a for a in doc["apps"] if a["app"] == "Teams")
    assert teams["crashes"] == 12
    assert doc["census"] is None
    assert doc["model"] == "Dell Inc./Latitude 7440"
    assert device.device_report(clickhouse, flt(), "s:no-such-device")["found"] is False


def test_census_groups_filter_every_report(clickhouse: Backend, data: Data) -> None:
    cols = [*COMMON, "oem_manufacturer_name", "primary_disk_media_type", "chassis_type", "has_battery"]
    rows = [[*common(i, T0 - dt.timedelta(days=2)), "Dell Inc.", "ssd", 10, True] for i in range(8)] + [
        [*common(i, T0 + dt.timedelta(days=1)), "Dell Inc.", "hdd", 3, False] for i in (0, 1, 2)
    ]
    clickhouse.insert("fleetpulse.census", cols, rows)  # devices 0-2 moved to an HDD desktop later
    assert startup.startup_report(clickhouse, flt(group="disk:hdd"))["devices"] == 3
    assert startup.startup_report(clickhouse, flt(group="disk:ssd"))["devices"] == 5
    assert startup.startup_report(clickhouse, flt(group="chassis:desktop"))["devices"] == 3
    assert startup.startup_report(clickhouse, flt(group="battery:yes"))["devices"] == 5
    restarts_doc = restarts.restarts_report(clickhouse, flt(group="disk:hdd"))
    assert restarts_doc["restarts"] == sum(1 for r in data.transitions if r["i"] < 3)
    census = device.device_report(clickhouse, flt(), dev(0))["census"]
    assert (census["primary_disk_media_type"], census["group_chassis"], census["group_disk"]) == (
        "hdd",
        "desktop",
        "hdd",
    )
    assert device.device_report(clickhouse, flt(), dev(5))["census"]["group_chassis"] == "laptop"


def test_formats_of_a_report(clickhouse: Backend, data: Data) -> None:
    doc = restarts.restarts_report(clickhouse, flt())
    text = formats.to_csv(formats.table_rows(doc, "restarts"))
    lines = text.splitlines()
    assert lines[0] == "category,restarts,devices,abnormal,share,per_device"
    assert len(lines) == 1 + len(doc["categories"])
    table = pq.read_table(
        io.BytesIO(formats.to_parquet(formats.table_rows(doc, "restarts", "top_bug_checks")))
    )
    assert table.column("stop_errors").to_pylist() == [r["stop_errors"] for r in doc["top_bug_checks"]]
