"""Where the running local stack listens, written to ``DATA_DIR/run/endpoints.json``.

``fleetpulse up`` records each service's address there, so ``sql`` and the reports find the
process that owns the embedded store without being told a port.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def _path(data_dir: Path) -> Path:
    return data_dir / "run" / "endpoints.json"


def write_endpoints(data_dir: Path, endpoints: dict[str, str]) -> Path:
    path = _path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "endpoints": endpoints}, indent=2))
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def read_endpoints(data_dir: Path) -> dict[str, str]:
    """The recorded endpoints, or {} when no stack is recorded or its owner has exited."""
    path = _path(data_dir)
    try:
        doc = json.loads(path.read_text())
        os.kill(int(doc["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return {}
    return {str(k): str(v) for k, v in doc["endpoints"].items()}


def clear_endpoints(data_dir: Path) -> None:
    _path(data_dir).unlink(missing_ok=True)
