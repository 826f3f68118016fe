"""The app factory per role: which agents a worker runs and which consumer group it joins."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from fleetpulse.settings import load_settings
from processors.app import create_app


@pytest.mark.parametrize(
    ("role", "agents", "tables", "group"),
    [
        ("all", {"aggregate", "regressions", "baselines"}, {"stage1", "stage2"}, "fp"),
        ("aggregates", {"aggregate"}, {"stage1"}, "fp"),
        ("regressions", {"regressions", "baselines"}, {"stage2"}, "fp-regressions"),
    ],
)
def test_a_role_runs_its_stages_only(
    tmp_path: Path, role: str, agents: set[str], tables: set[str], group: str
) -> None:
    settings = load_settings(data_dir=tmp_path, processor_app_id="fp", processor_role=role)
    app = create_app(settings, CollectorRegistry())
    assert {a.name for a in app.agents.values()} == agents
    assert set(app.tables) == tables
    assert app.conf.id == group
