"""Prometheus configuration and rules, checked with the real ``promtool`` (Debian's package).

``promtool check config`` on both scrape configs, ``check rules``, ``test rules`` (the unit tests
in deploy/prometheus/tests/), plus what promtool does not check: every alert carries severity,
summary, description and a runbook that exists in docs/operations.md, has a firing and a silent
test case, states its threshold consistently, and uses only metric names that the metric modules
declare (or recording rules).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetpulse.metrics_doc import available_components, exposed_names

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "rules" / "fleetpulse.yml"
RULE_TESTS = sorted((PROM / "tests").glob("*.yml"))
OPERATIONS = ROOT / "docs" / "operations.md"


def _install_promtool() -> str | None:
    """promtool's path; installs Debian's ``prometheus`` package when missing and root (as ./dev does)."""
    found = shutil.which("promtool")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True, timeout=600)
    install = ["apt-get", "install", "-y", "-qq", "prometheus"]
    subprocess.run(install, env=env, check=False, capture_output=True, timeout=900)
    return shutil.which("promtool")


@pytest.fixture(scope="module")
def promtool() -> str:
    path = _install_promtool()
    if path is None:
        pytest.skip("promtool is missing and cannot be installed here (not root, or no apt-get)")
    return path


def run(promtool: str, *args: str) -> str:
    proc = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def records() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "record" in rule]


# -- promtool ---------------------------------------------------------------------------------------


def test_local_scrape_config_is_valid(promtool: str) -> None:
    output = run(promtool, "check", "config", str(PROM / "local.yml"))
    assert "1 rule files found" in output


def test_compose_scrape_config_is_valid(promtool: str, tmp_path: Path) -> None:
    # compose.yml names the rules where the container mounts them; check a copy pointing at the repo
    text = (PROM / "compose.yml").read_text()
    assert "/etc/prometheus/rules/" in text
    copy = tmp_path / "prometheus.yml"
    copy.write_text(text.replace("/etc/prometheus/rules/", f"{PROM / 'rules'}/"))
    output = run(promtool, "check", "config", str(copy))
    assert "1 rule files found" in output


def test_rules_are_valid(promtool: str) -> None:
    output = run(promtool, "check", "rules", str(RULES))
    assert f"SUCCESS: {len(alerts()) + len(records())} rules found" in output


def test_rule_unit_tests_pass(promtool: str) -> None:
    assert RULE_TESTS, "no promtool unit tests in deploy/prometheus/tests/"
    output = run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert "FAILED" not in output


# -- what promtool does not check -------------------------------------------------------------------


def test_scrape_configs_cover_every_component() -> None:
    for name in ("local.yml", "compose.yml"):
        config = yaml.safe_load((PROM / name).read_text())
        jobs = {job["job_name"] for job in config["scrape_configs"]}
        assert {"fleetpulse-collector", "fleetpulse-processor", "fleetpulse-sink"} <= jobs, name
    local = yaml.safe_load((PROM / "local.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in local["scrape_configs"]}
    assert targets["fleetpulse-collector"] == ["127.0.0.1:8080"]
    assert targets["fleetpulse-processor"] == ["127.0.0.1:8081"]
    assert targets["fleetpulse-sink"] == ["127.0.0.1:8082"]


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: str(r["alert"]))
def test_every_alert_is_documented(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    annotations = rule["annotations"]
    for key in ("summary", "description", "runbook"):
        assert annotations.get(key), f"{rule['alert']} has no {key}"
    anchor = annotations["runbook"].partition("#")[2]
    assert anchor == rule["alert"].lower()
    headings = re.findall(r"^#+\s+(\S+)\s*$", OPERATIONS.read_text(), re.MULTILINE)
    assert rule["alert"] in headings, f"docs/operations.md has no runbook heading for {rule['alert']}"


def _cases() -> dict[str, tuple[int, int]]:
    """alertname -> (firing cases, silent cases) over every promtool test file."""
    found: dict[str, tuple[int, int]] = {}
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                firing, silent = found.get(case["alertname"], (0, 0))
                if case.get("exp_alerts"):
                    firing += 1
                else:
                    silent += 1
                found[case["alertname"]] = (firing, silent)
    return found


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: str(r["alert"]))
def test_every_alert_has_a_firing_and_a_silent_case(rule: dict[str, Any]) -> None:
    firing, silent = _cases().get(rule["alert"], (0, 0))
    assert firing >= 1, f"{rule['alert']}: no test case where it fires"
    assert silent >= 1, f"{rule['alert']}: no test case where it stays silent"


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: str(r["alert"]))
def test_threshold_labels_match_the_expression(rule: dict[str, Any]) -> None:
    expr = " ".join(str(rule["expr"]).split())
    for label in ("lag_threshold", "ratio_threshold", "target_seconds", "stall_seconds"):
        if label in rule["labels"]:
            value = rule["labels"][label]
            assert re.search(rf">\s*{re.escape(value)}(?![\d.])", expr), f"{label}={value} not in {expr}"
            text = " ".join(rule["annotations"].values())
            spoken = {"ratio_threshold": f"{round(float(value) * 100)} %", "stall_seconds": "2 m"}
            assert spoken.get(label, value) in text, f"{rule['alert']}: annotations do not state {value}"


_NAME = re.compile(r"\b(fleetpulse(?:_[a-z0-9_]+|:[a-z0-9_:]+))\b")


def test_rules_use_only_declared_metric_names() -> None:
    missing = {component for component, _module, metrics in available_components() if metrics is None}
    used = {name for rule in alerts() + records() for name in _NAME.findall(str(rule["expr"]))}
    unknown = sorted(used - exposed_names())
    # a component whose metric module has not landed yet is reported (xfail), not failed on
    pending = [n for n in unknown if "processors" in missing and n.startswith("fleetpulse_processor_")]
    assert [n for n in unknown if n not in pending] == [], f"rules use undeclared metrics: {unknown}"
    if pending:
        pytest.xfail(f"processors/metrics.py has not landed; the rules expect {pending}")
