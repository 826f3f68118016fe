"""Pre-generated fleet events (generation is never timed).

One simulated fleet (``simulator``, no injections, no invalid records) serialised once
to NDJSON lines with orjson; HTTP bodies are groups of ``batch`` lines (the collector's
``collector_max_records`` is 500). Every line is a distinct event (device, seq), so the
collector's deduplication never drops one and every accepted event must reach ClickHouse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from simulator.config import SimulationConfig
from simulator.simulation import Simulation


@dataclass
class Fleet:
    """Events as NDJSON lines in stream order, and their JSON bytes per event name."""

    devices: int
    days: int
    lines: list[bytes] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    json_bytes: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.lines)

    def json_bytes_per_event(self, name: str | None = None) -> float:
        """Mean NDJSON bytes (with the newline) of one event, of one name or of all."""
        if name is None:
            return sum(self.json_bytes.values()) / max(1, len(self.lines))
        return self.json_bytes[name] / max(1, self.counts[name])


def generate(devices: int, days: int, seed: int = 42) -> Fleet:
    """Simulate ``devices`` for ``days`` and keep every record as one NDJSON line."""
    config = SimulationConfig(seed=seed, devices=devices, days=days, injections=())
    fleet = Fleet(devices, days)
    dumps = orjson.dumps
    for batch in Simulation(config).batches():
        for rec in batch:
            line = dumps(rec)
            name = str(rec["name"])
            fleet.lines.append(line)
            fleet.names.append(name)
            fleet.json_bytes[name] += len(line) + 1
            fleet.counts[name] += 1
    return fleet


def bodies(lines: Sequence[bytes], batch: int) -> list[bytes]:
    """NDJSON request bodies of at most ``batch`` lines each."""
    return [b"\n".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]
