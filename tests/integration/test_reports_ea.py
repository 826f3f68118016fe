"""Endpoint analytics reports on a real (embedded) ClickHouse: exact figures from known raw rows,
read as one tenant through the scoped reader with another tenant's rows beside them; ``--json``
through the CLI; the daily score history written and read back."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner

from fleetpulse.reports import anomalies, battery, facts, formats, insights, resource, startup_processes, wfa
from fleetpulse.reports.history import record_day
from fleetpulse.reports.params import Filters
from fleetpulse.settings import Settings, Tenant
from processors.insights.config import DEFAULT_INSIGHTS, AnomalyConfig
from processors.insights.overall import sub_scores
from processors.insights.rules import evaluate
from sinks.clickhouse import Backend
from sinks.reader import ScopedReader

pytestmark = pytest.mark.clickhouse

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
TENANT, OTHER = "ea", "ea-other"
H = 3_600_000
OLD, NEW = ("Acme", "Old 1"), ("Acme", "New 2")  # d0-d4: HDD, 8 GB, desktops; d5-d9: SSD laptops
AGENT = ("agent.exe", "Contoso", "5.2")


def dev(i: int) -> str:
    return f"s:{i:08x}-5b3d-4f1a-9c27-3e8d5a6b1f04"


class Rows:
    """Raw rows per table, each a dict of columns; the envelope is filled in from the device."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.seq = 0

    def add(
        self, table: str, i: int, when: dt.datetime, tenant: str = TENANT, boot_id: int = 0, **data: Any
    ) -> None:
        self.seq += 1
        make, model = OLD if i < 5 else NEW
        env = {
            "tenant": tenant, "ikey": "o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f", "device_id": dev(i),
            "event_time": when, "received_at": when, "epoch": "1", "seq": self.seq,
            "boot_id": boot_id or self.seq, "os_ver": "10.0.22631.4169", "sdk_ver": "a", "dev_make": make,
            "dev_model": model,
        }  # fmt: skip
        self.tables.setdefault(table, []).append({**env, **data})

    def insert(self, ch: Backend) -> None:
        for table, rows in self.tables.items():
            cols = sorted({c for r in rows for c in r})
            ch.insert(f"fleetpulse.{table}", cols, [[r.get(c) for c in cols] for r in rows])


def build(tenant: str = TENANT) -> Rows:
    r = Rows()
    day1 = T0 + dt.timedelta(days=1)
    for i in range(10):
        hdd = i < 5
        census: dict[str, Any] = {
            "oem_manufacturer_name": "Acme", "oem_model_number": (OLD if hdd else NEW)[1],
            "os_edition": "Enterprise", "os_build": "10.0.19045.5247" if i < 2 else "10.0.22631.4169",
            "processor_model": "x", "processor_physical_cores": 4, "processor_logical_cores": 8,
            "total_physical_ram_mb": 8192 if hdd else 16384, "primary_disk_total_capacity_mb": 256_000,
            "primary_disk_media_type": "hdd" if hdd else "ssd", "tpm_version_major": 2,
            "has_battery": not hdd, "join_type": "domain" if i == 0 else "entra",
            "management_type": {1: "configMgr", 2: None}.get(i, "intune"),
            "autopilot_profile": "default" if i == 3 else "assigned", "is_cloud_pc": False,
        }  # fmt: skip
        r.add("census", i, T0, tenant, **{**census, "management_type": "none", "join_type": "workgroup"})
        r.add("census", i, day1, tenant, **census)  # the newest census wins
        for k in range(2):  # full boots: HDD 40 s, SSD 10 s
            r.add("boot_events", i, day1 + dt.timedelta(hours=k), tenant, boot_start_time=T0,
                  core_boot_ms=40_000 if hdd else 10_000, total_boot_ms=60_000, gp_boot_ms=0)  # fmt: skip
        for k, resp in enumerate((10_000, 20_000)):  # agent.exe at 50 % CPU: delays 5 s and 10 s
            procs = [(*AGENT[:2], 50.0, AGENT[2])] + ([("tiny.exe", "X", 90.0, "1")] if i < 3 else [])
            r.add("logon_events", i, day1 + dt.timedelta(hours=3 + k), tenant, logon_start_time=T0,
                  user_type="entra", core_logon_ms=5_000, desktop_shown_ms=5_000, gp_logon_ms=0,
                  responsive_desktop_ms=resp, total_logon_ms=5_000 + resp, top_startup_processes=procs,
                  is_first_logon_for_user=False, is_after_feature_update=False)  # fmt: skip
        r.add(
            "logon_events",
            i,
            day1 + dt.timedelta(hours=6),
            tenant,
            logon_start_time=T0,
            user_type="entra",
            core_logon_ms=90_000,
            desktop_shown_ms=90_000,
            responsive_desktop_ms=99_000,
            total_logon_ms=189_000,
            top_startup_processes=[(*AGENT[:2], 99.0, AGENT[2])],
            is_first_logon_for_user=True,
            is_after_feature_update=False,
        )  # excluded: first sign-in
        for k in range(4):  # HDD: 30 % CPU / 60 % RAM spike time; SSD: 5 % / 10 %
            r.add("resource_usage", i, day1 + dt.timedelta(hours=k), tenant, window_start=day1,
                  window_duration_ms=H, usage_duration_ms=H, cpu_spike_ms=int(H * (0.3 if hdd else 0.05)),
                  ram_spike_ms=int(H * (0.6 if hdd else 0.1)))  # fmt: skip
        if not hdd:  # 4 h on battery draining 20 Wh: 5 W; d5 at 60 % capacity
            full = 30_000 if i == 5 else 45_000
            for k in range(4):
                r.add("battery_snapshots", i, day1 + dt.timedelta(hours=10 + k), tenant,
                      design_capacity_mwh=50_000, full_charge_capacity_mwh=full, charge_percent=50,
                      ac_online=False, is_discharging=True, window_duration_ms=H, energy_drained_mwh=5_000,
                      cycle_count=100 + i)  # fmt: skip
            r.add("battery_snapshots", i, day1 + dt.timedelta(hours=15), tenant, design_capacity_mwh=50_000,
                  full_charge_capacity_mwh=full, charge_percent=90, ac_online=True, is_discharging=False,
                  window_duration_ms=H, energy_drained_mwh=0)  # fmt: skip
        r.add("inventory", i, T0, tenant, app_name="hang.exe", app_version="1.0", source="MSI")
        for k in range(3 if i < 4 else 1 if i == 4 else 0):  # d0-d3 anomalous, d4 affected
            r.add(
                "app_hangs", i, day1 + dt.timedelta(hours=k), tenant, app_name="hang.exe", app_version="1.0"
            )
    # d5's 9:00 hour on battery: a.exe 30 min in focus, b.exe 10 min -> 3.75 Wh / 1.25 Wh
    for app, focus in (("a.exe", 1_800_000), ("b.exe", 600_000)):
        r.add("app_usage", 5, day1 + dt.timedelta(hours=9, minutes=15), tenant, app_name=app, app_version="1",
              aggregation_start_time=day1 + dt.timedelta(hours=9), aggregation_duration_ms=900_000,
              in_focus_duration_ms=focus, user_active_duration_ms=focus // 2)  # fmt: skip
    return r


@pytest.fixture(scope="module")
def reader(clickhouse: Backend, clickhouse_settings: Settings) -> ScopedReader:
    build(TENANT).insert(clickhouse)
    build(OTHER).insert(clickhouse)  # must never count
    settings = clickhouse_settings.model_copy(
        update={"tenants": {"a": Tenant(name=TENANT, ikeys=()), "b": Tenant(name=OTHER, ikeys=())}}
    )
    return ScopedReader(clickhouse, TENANT, settings)


def flt(**kw: Any) -> Filters:
    return Filters(T0, T0 + dt.timedelta(days=7), **kw)  # no tenant filter: the scope alone isolates


def test_startup_processes_exact(reader: ScopedReader) -> None:
    doc = startup_processes.startup_processes_report(reader, flt())
    (agent,) = doc["processes"]  # tiny.exe: 3 devices < 10
    assert (agent["name"], agent["publisher"], agent["version"]) == AGENT
    assert (agent["devices"], agent["signins"]) == (10, 20)  # first sign-ins excluded
    assert agent["median_delay_ms"] == 7_500.0  # median of ten 5 s and ten 10 s
    assert agent["total_delay_ms"] == 150_000.0
    assert doc["processes_below_min_devices"] == 1
    assert doc["publishers"] == [
        {"publisher": "Contoso", "processes": 1, "devices": 10, "signins": 20, "total_delay_ms": 150_000.0}
    ]


def test_resource_exact(reader: ScopedReader) -> None:
    doc = resource.resource_report(reader, flt())
    slow = (100 * (50 - 30) / 45 + 100 * (70 - 60) / 60) / 2
    assert (doc["devices"], doc["scored_devices"]) == (10, 10)
    assert doc["score"] == pytest.approx((5 * slow + 5 * 100) / 10)
    by = {m["model"]: m for m in doc["models"]}
    assert by["Acme/Old 1"]["cpu_spike_pct"] == pytest.approx(30.0)
    assert by["Acme/Old 1"]["ram_spike_pct"] == pytest.approx(60.0)
    assert by["Acme/Old 1"]["starved"] is True
    assert by["Acme/New 2"]["score"] == 100.0
    assert doc["devices_worst"][0]["ram_mb"] == 8192
    assert doc["daily"] == [
        {"day": "2026-03-02", "devices": 10, "cpu_spike_pct": 17.5, "ram_spike_pct": 35.0}
    ]


def test_battery_exact(reader: ScopedReader) -> None:
    doc = battery.battery_report(reader, flt())
    assert doc["devices"] == 5
    worst = doc["devices_worst"][0]
    assert (worst["device_id"], worst["capacity_pct"], worst["runtime_hours"], worst["cycle_count"]) == (
        dev(5), 60.0, 6.0, 105,
    )  # fmt: skip
    d5 = (100 * 10 / 40 + 100 * 4 / 6) / 2
    others = (100.0 + 100.0) / 2  # 90 % and 9 h
    assert doc["score"] == pytest.approx((d5 + 4 * others) / 5)
    assert (doc["most_impacted"], doc["moderately_impacted"]) == (0, 1)  # 60 % is not below 60 %
    assert doc["energy_drained_mwh"] == 100_000.0
    assert [(a["app"], a["energy_mwh"], a["share_pct"]) for a in doc["apps"]] == [
        ("a.exe", 3_750.0, 3.75),
        ("b.exe", 1_250.0, 1.25),
    ]


def test_wfa_exact(reader: ScopedReader) -> None:
    doc = wfa.wfa_report(reader, flt())
    m = {r["metric"]: r for r in doc["metrics"]}
    assert (m["windows"]["met"], m["windows"]["not_met"]) == (8, 2)
    assert (m["cloud_management"]["not_met"], m["cloud_management"]["unknown"]) == (1, 1)
    assert m["cloud_identity"]["pct"] == 90.0
    assert m["cloud_provisioning"]["pct"] == 90.0
    assert doc["score"] == pytest.approx(0.4 * 80 + 0.2 * 100 * 8 / 9 + 0.2 * 90 + 0.2 * 90)
    assert doc["devices_not_ready_total"] == 3  # d0 (build, domain), d1 (build, configMgr), d3 (default)
    d0 = next(d for d in doc["devices_not_ready"] if d["device_id"] == dev(0))
    assert set(d0["missing"]) == {"windows", "cloud_identity"}


def test_anomalies_exact(reader: ScopedReader) -> None:
    # 10 devices cannot make a cohort significant: the group test is off here (unit-tested elsewhere)
    cfg = DEFAULT_INSIGHTS.model_copy(update={"anomalies": AnomalyConfig(group_alpha=1.0)})
    doc = anomalies.anomalies_report(reader, flt(), cfg)
    (a,) = doc["anomalies"]
    assert (a["kind"], a["asset"], a["anomalous"], a["affected"], a["exposed"], a["events"]) == (
        "app_hang", "hang.exe", 4, 1, 10, 13,
    )  # fmt: skip
    assert a["severity"] == "high"
    model = next(g for g in a["groups"] if g["features"] == [{"type": "model", "value": "Acme/Old 1"}])
    assert (model["devices"], model["anomalous"], model["affected"], model["at_risk"]) == (5, 4, 1, 0)
    assert model["prevalence"] == 0.8  # >= 2 x the anomaly's share of 0.4
    assert all(g["features"] != [{"type": "model", "value": "Acme/New 2"}] for g in a["groups"])


def test_insights_are_the_pure_rules_on_the_sql_facts(reader: ScopedReader) -> None:
    f = flt()
    got = facts.fleet_facts(reader, f, DEFAULT_INSIGHTS)
    assert got.startup.values[dev(0)] == {
        "core_boot_ms": 40_000.0, "gp_boot_ms": 0.0, "core_logon_ms": 5_000.0, "gp_logon_ms": 0.0,
        "desktop_shown_ms": 5_000.0, "total_logon_ms": 20_000.0,
    }  # fmt: skip
    assert got.startup.disk[dev(0)] == "hdd"
    assert got.startup.process_delays[dev(0)][AGENT] == 7_500.0
    doc = insights.insights_report(reader, f)
    sub = sub_scores(got, DEFAULT_INSIGHTS)
    assert doc["scores"] == sub
    assert doc["scores"]["resource"] == resource.resource_report(reader, f)["score"]
    assert doc["scores"]["work_from_anywhere"] == wfa.wfa_report(reader, f)["score"]
    expected = evaluate(got, DEFAULT_INSIGHTS)
    assert [i["id"] for i in doc["insights"]] == [i.id for i in expected]
    hdd = next(i for i in doc["insights"] if i["id"] == "hdd_to_ssd")
    assert hdd["device_ids"] == [dev(i) for i in range(5)]
    assert hdd["evidence"]["ssd_hdd_ratio_core_boot_ms"] == 0.25
    assert {"windows", "cloud_identity", "cloud_management", "cloud_provisioning"} <= {
        i["id"] for i in doc["insights"]
    }
    assert "starved_model:Acme/Old 1" in {i["id"] for i in doc["insights"]}


def test_filters_and_injection_are_data(reader: ScopedReader) -> None:
    assert resource.resource_report(reader, flt(model="Old 1"))["devices"] == 5
    assert wfa.wfa_report(reader, flt(os_build="19045"))["devices"] == 0  # envelope os_ver is 22631
    evil = "' OR 1=1 --"
    f = dataclasses.replace(flt(), model=evil, os_build=evil, app=evil)  # every value a bound parameter
    assert insights.insights_report(reader, f)["insights"] == []
    assert battery.battery_report(reader, f)["devices"] == 0


def test_history_recorded_and_read_back(
    clickhouse: Backend, clickhouse_settings: Settings, reader: ScopedReader
) -> None:
    day = dt.date(2026, 3, 2)
    written = record_day(reader, clickhouse, TENANT, day, DEFAULT_INSIGHTS, "fleetpulse")
    again = record_day(reader, clickhouse, TENANT, day, DEFAULT_INSIGHTS, "fleetpulse")  # replaces it
    assert written["scores"] == again["scores"]
    doc = insights.insights_report(reader, Filters(T0, T0 + dt.timedelta(days=7)))
    (row,) = doc["history"]
    assert row["day"] == "2026-03-02"
    assert row["overall"] == pytest.approx(written["scores"]["overall"])
    assert row["battery"] == pytest.approx(doc["scores"]["battery"])  # same window: 14 days to Mar 3
    other = ScopedReader(clickhouse, OTHER, clickhouse_settings)
    assert insights.insights_report(other, Filters(T0, T0 + dt.timedelta(days=7)))["history"] == []


@pytest.mark.parametrize("name", ["insights", "startup-processes", "resource", "battery", "wfa", "anomalies"])
def test_cli_json(
    clickhouse: Backend,
    clickhouse_settings: Settings,
    reader: ScopedReader,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    from fleetpulse.reports import cli

    settings = clickhouse_settings.model_copy(update={"tenants": {"a": Tenant(name=TENANT, ikeys=())}})
    monkeypatch.setattr(cli, "open_reader", lambda s, tenant=None: ScopedReaderNoClose(clickhouse, tenant, s))
    args = [name, "--since", "2026-03-01", "--until", "2026-03-08"]
    res = CliRunner().invoke(cli.report, [*args, "--json"], obj=settings)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["report"] == name
    assert doc["filters"]["tenant"] == TENANT
    text = CliRunner().invoke(cli.report, args, obj=settings)
    assert text.exit_code == 0, text.output
    assert "ea-other" not in text.output
    for table in formats.TABLES[name]:  # every table of the document is a CSV too
        out = CliRunner().invoke(cli.report, [*args, "--format", "csv", "--table", table], obj=settings)
        assert out.exit_code == 0, out.output
        rows = list(csv.DictReader(io.StringIO(out.output)))
        assert len(rows) == len(doc[table])


class ScopedReaderNoClose(ScopedReader):
    def close(self) -> None:  # the module's store stays open
        pass
