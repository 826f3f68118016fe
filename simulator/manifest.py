"""The ground truth of a run: what was injected where, and what was generated and sent.

Written as ``manifest.json`` next to the NDJSON output (or wherever the caller wants) so tests
and demos can check the pipeline's findings against the truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass
class InjectionTruth:
    """One injection as it happened."""

    name: str
    metric: str
    factor: float
    day: int
    change_type: str
    change_id: str
    change_name: str
    to_version: str | None
    scope: dict[str, Any]
    affected_devices: list[str]
    applied_day: list[int]  # parallel to affected_devices: the day the change reached the device


@dataclass
class SendStats:
    """What the collector answered (HTTP mode only)."""

    requests: int = 0
    retries: int = 0
    acc: int = 0
    rej: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    failed_batches: int = 0
    failed_records: int = 0


@dataclass
class Manifest:
    """Truth and totals of one simulation run."""

    seed: int
    devices: int
    days: int
    start: str
    ikey: str
    injections: list[InjectionTruth]
    control_devices: list[str]
    events_by_type: dict[str, int]
    events_total: int
    invalid_by_reason: dict[str, int]
    invalid_total: int
    late_events: int
    models: dict[str, int]  # devices per model
    send: SendStats | None = None
    files: list[str] = field(default_factory=list)
    cohorts: dict[str, list[str]] = field(default_factory=dict)  # insight cohort -> devices (cohorts.py)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_json())
        return path

    @classmethod
    def read(cls, path: Path) -> Manifest:
        raw = orjson.loads(path.read_bytes())
        raw["injections"] = [InjectionTruth(**x) for x in raw["injections"]]
        raw["send"] = SendStats(**raw["send"]) if raw.get("send") else None
        return cls(**raw)
