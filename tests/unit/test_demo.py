"""The demo waits for the injected regressions themselves, not for any open ones."""

from __future__ import annotations

from typing import Any

from fleetpulse.demo import found_injections, injected_scope
from simulator import Simulation, SimulationConfig


class Rows:
    """A reader answering every query with fixed rows (the demo's probe only reads them)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def query_json(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        assert "status = 'open'" in sql
        return self.rows


def test_only_the_injected_scopes_count() -> None:
    sim = Simulation(SimulationConfig(devices=20, days=4, seed=3))
    for _ in sim.batches():
        pass
    manifest = sim.manifest()
    boot, teams, noise = manifest.injections
    assert injected_scope(boot) == ("model", "|Latitude 7440")
    assert injected_scope(teams) == ("app_version", f"ms-teams.exe|{teams.to_version}")
    assert injected_scope(noise) is None
    wider = {"scope_type": "fleet", "scope": "all"}
    model = {"scope_type": "model", "scope": "Dell Inc.|Latitude 7440"}
    app = {"scope_type": "app_version", "scope": f"ms-teams.exe|{teams.to_version}"}
    assert found_injections(Rows([wider]), "fleetpulse", manifest) == 0  # type: ignore[arg-type]
    assert found_injections(Rows([wider, model]), "fleetpulse", manifest) == 1  # type: ignore[arg-type]
    assert found_injections(Rows([model, app, wider]), "fleetpulse", manifest) == 2  # type: ignore[arg-type]
