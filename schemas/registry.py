"""Registered event names → per-type record models (the envelope with ``data`` narrowed)."""

from __future__ import annotations

from typing import Final

from pydantic import create_model

from schemas.envelope import EventData, Record
from schemas.events_boot import BootPerformance, LogonPerformance, PowerTransition
from schemas.events_device import CensusDevice, ConfigChange, InventoryAppAdd
from schemas.events_fault import AppCrash, AppHang, StopError
from schemas.events_usage import AgentHeartbeat, AppUsageSummary, BatterySnapshot, ResourceUsageSummary

DATA_MODELS: Final[tuple[type[EventData], ...]] = (
    CensusDevice,
    InventoryAppAdd,
    ConfigChange,
    BootPerformance,
    LogonPerformance,
    PowerTransition,
    StopError,
    AppCrash,
    AppHang,
    AppUsageSummary,
    ResourceUsageSummary,
    BatterySnapshot,
    AgentHeartbeat,
)


def _record_model(data_model: type[EventData]) -> type[Record]:
    name = data_model.__name__ + "Record"
    model: type[Record] = create_model(name, __base__=Record, data=(data_model, ...))
    model.__doc__ = f"A ``{data_model.EVENT_NAME}`` record: the CS 4.0 envelope with its ``data``."
    return model


#: Event name → record model. :func:`schemas.decode` validates with ``RECORDS[name]``.
RECORDS: Final[dict[str, type[Record]]] = {m.EVENT_NAME: _record_model(m) for m in DATA_MODELS}

#: Event name → ``data`` model.
DATA_BY_NAME: Final[dict[str, type[EventData]]] = {m.EVENT_NAME: m for m in DATA_MODELS}

EVENT_NAMES: Final[tuple[str, ...]] = tuple(RECORDS)
