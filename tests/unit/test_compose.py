"""docker-compose.yml cannot run here (no Docker engine); check what can be checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from fleetpulse.cli import cli
from fleetpulse.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
FLEETPULSE_SERVICES = {
    name: svc for name, svc in COMPOSE["services"].items() if svc.get("image") == "fleetpulse:latest"
}


def test_compose_has_the_whole_stack() -> None:
    assert {"kafka", "clickhouse", "collector", "processor", "sink", "prometheus", "grafana"} <= set(
        COMPOSE["services"]
    )
    for name, svc in COMPOSE["services"].items():
        if name != "migrate":
            assert "healthcheck" in svc, f"{name} has no health check"
    for name in ("kafka", "clickhouse", "prometheus", "grafana"):
        volumes = COMPOSE["services"][name]["volumes"]
        assert any(str(v).split(":")[0] in COMPOSE["volumes"] for v in volumes), f"{name} keeps no volume"
    assert "KAFKA_PROCESS_ROLES" in COMPOSE["services"]["kafka"]["environment"]  # KRaft, no ZooKeeper


@pytest.mark.parametrize("name", sorted(FLEETPULSE_SERVICES))
def test_every_service_command_exists_in_the_cli(name: str) -> None:
    command = FLEETPULSE_SERVICES[name]["command"]
    group: Any = cli
    for word in command:
        if word.startswith("-"):
            break
        assert isinstance(group, click.Group), f"{name}: {word!r} follows a leaf command"
        assert word in group.commands, f"{name}: `fleetpulse {' '.join(command)}` is not a CLI command"
        group = group.commands[word]


@pytest.mark.parametrize("name", sorted(FLEETPULSE_SERVICES))
def test_every_env_var_is_a_setting(name: str) -> None:
    fields = {f"FLEETPULSE_{field.upper()}" for field in Settings.model_fields}
    env = FLEETPULSE_SERVICES[name].get("environment", {})
    unknown = sorted(set(env) - fields)
    assert unknown == [], f"{name} sets variables that are no setting: {unknown}"


def test_mounted_config_files_exist() -> None:
    for svc in COMPOSE["services"].values():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{source} is mounted but missing"
