"""The Endpoint analytics reports through a running stack, checked against the simulator's truth.

Called by the end-to-end test once the simulated fleet is stored: each report runs as the CLI
does (``fleetpulse report <name> --json``, read through the sink's tenant-scoped ``/v1/query``),
and every insight the simulator planted (manifest ``cohorts``) must be found on its devices.
"""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from fleetpulse.reports.cli import report
from fleetpulse.runfile import write_endpoints
from fleetpulse.settings import Settings
from simulator.cohorts import AGENT, HANG_PRONE, WORN_MODELS
from simulator.manifest import Manifest

EightGbModels = {"Dell Inc./OptiPlex 3050", "HP/HP ProDesk 600 G3 SFF", "LENOVO/ThinkPad L480"}


def run_report(settings: Settings, name: str) -> dict[str, Any]:
    res = CliRunner().invoke(report, [name, "--json", "--limit", "100000"], obj=settings)
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.output)
    assert doc["report"] == name
    return doc


def check_ea_reports(settings: Settings, sink_url: str, manifest: Manifest) -> None:
    write_endpoints(settings.data_dir, {"sink": sink_url})  # the CLI reads through the running sink
    cohorts = manifest.cohorts
    wfa = run_report(settings, "wfa")
    not_ready = {d["device_id"] for d in wfa["devices_not_ready"]}
    ins = {i["id"]: i for i in run_report(settings, "insights")["insights"]}
    devices = {k: set(i["device_ids"]) for k, i in ins.items()}
    low = {k: {d.lower() for d in v} for k, v in cohorts.items()}  # the sink stores ids lower-case
    # work from anywhere: exactly the planted devices (the census is exact)
    for insight, cohort in (
        ("cloud_management", "not_cloud_managed"),
        ("cloud_identity", "not_cloud_identity"),
        ("cloud_provisioning", "no_autopilot_profile"),
    ):
        assert devices[insight] == low[cohort], insight
        assert devices[insight] <= not_ready
    assert devices["hdd_to_ssd"] <= low["hdd"]
    assert len(devices["hdd_to_ssd"]) >= 0.9 * len(low["hdd"])  # all but devices never booted in range
    assert len(low["slow_gp"] & devices["group_policy_signin"]) >= 0.9 * len(low["slow_gp"])  # > 13 s
    # the simulator resumes other devices' shutdowns with p 0.6, so a few cold-booted by chance
    off = devices["fast_startup_off"]
    assert len(off & low["fast_startup_off"]) >= 0.5 * len(off)
    assert devices["battery_replacement"] <= low["worn_battery"]
    assert devices[f"startup_process:{AGENT['name']}"] <= low["startup_agent"]
    assert any(
        k.removeprefix("starved_model:") in EightGbModels for k in ins if k.startswith("starved_model:")
    )
    assert ins["hdd_to_ssd"]["points"] > 0
    # the reports behind them
    processes = run_report(settings, "startup-processes")["processes"]
    agent = next(p for p in processes if p["name"] == AGENT["name"])
    assert (agent["publisher"], agent["version"]) == (AGENT["publisher"], AGENT["version"])
    assert agent["median_delay_ms"] == max(p["median_delay_ms"] for p in processes)
    battery = run_report(settings, "battery")
    assert battery["models"][0]["name"].split("/", 1)[1] in WORN_MODELS
    resource = run_report(settings, "resource")
    assert {m["model"] for m in resource["models"] if m["starved"]} <= EightGbModels | {
        "HP/HP EliteBook 840 G5"
    }
    found = run_report(settings, "anomalies")["anomalies"]
    hang = next(a for a in found if (a["kind"], a["asset"]) == ("app_hang", HANG_PRONE[0]))
    top = hang["groups"][0]["features"]
    assert {"type": "model", "value": f"HP/{HANG_PRONE[1]}"} in top, hang["groups"][:2]
