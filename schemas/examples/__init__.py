"""One valid example record per event type (``<EventName>.json``), for tests, docs and the simulator.

Example times are fixed (2026-03-11); pass ``received_at=EXAMPLES_RECEIVED_AT`` (or a time near the
example's own ``time``) to :func:`schemas.decode` so they never go stale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any, Final

import orjson

#: A receive time that all examples are valid against (within 24 h after / 30 days before each).
EXAMPLES_RECEIVED_AT: Final = datetime(2026, 3, 11, 14, 0, 0, tzinfo=UTC)


def load_examples() -> dict[str, dict[str, Any]]:
    """Event name → a fresh copy of its example record (mutate freely)."""
    out: dict[str, dict[str, Any]] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            record = orjson.loads(entry.read_bytes())
            out[record["name"]] = record
    return out
