"""JSON Schema export: one ``<EventName>.schema.json`` per event type (``fleetpulse schemas export DIR``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from schemas.registry import RECORDS

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12, wire/alias names) of the record model registered as ``name``.

    Cross-field invariants (``docs/contract.md``) are not expressible here; :func:`schemas.decode` is
    the authority.
    """
    schema = RECORDS[name].model_json_schema(by_alias=True, mode="validation")
    schema["properties"]["name"] = {"const": name, "type": "string"}
    return {"$schema": _DIALECT, "$id": f"urn:fleetpulse:event:{name}:1", "title": name, **schema}


def export_json_schemas(dir: Path) -> list[Path]:
    """Write one schema file per event type into ``dir`` (created if missing); return the paths."""
    dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in RECORDS:
        path = dir / f"{name}.schema.json"
        path.write_bytes(
            orjson.dumps(json_schema(name), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
        written.append(path)
    return written
