"""Device-fleet simulator: realistic DiagTrack-style telemetry with injected, known regressions.

Public API::

    from simulator import SimulationConfig, Injection, generate, run_simulation

    for batch in generate(SimulationConfig(devices=1000, days=14)):   # list[dict] per day/chunk
        ...
    manifest = run_simulation(config, collector_url="http://127.0.0.1:8080", api_key="demo-key-contoso",
                              out_dir=Path("out"), ikey="o:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f")

See ``docs/simulator.md`` for the fleet model, distributions, injections and manifest format.
"""

from simulator.config import Injection, SimulationConfig, demo_injections
from simulator.invalid import expected_reason
from simulator.manifest import InjectionTruth, Manifest, SendStats
from simulator.run import run_simulation
from simulator.simulation import DEFAULT_IKEY, Simulation, generate

__all__ = [
    "DEFAULT_IKEY",
    "Injection",
    "InjectionTruth",
    "Manifest",
    "SendStats",
    "Simulation",
    "SimulationConfig",
    "demo_injections",
    "expected_reason",
    "generate",
    "run_simulation",
]
