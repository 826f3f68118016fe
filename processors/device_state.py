"""Per-device state: pure update functions over validated events.

A device's state (model, OS build, disk type, join type, installed apps, last boot id) is
rebuilt from census, inventory, boot and sign-in events. ``ext.os.bootId`` must never go down
on a device (event contract): an event whose boot id is lower than the last one seen is
**quarantined** — :func:`apply_event` returns ``(unchanged state, True)`` and the caller must
not aggregate the event (and counts it on a metric).

Join type: ``domain`` when a boot reports ``gpBootMs > 0`` or a sign-in has ``userType == "ad"``
(Group Policy only runs on AD-joined devices), ``entra`` for ``userType == "entra"``, otherwise
``workgroup`` once a ``local``/``msa`` sign-in is seen, and ``unknown`` before any evidence. A
``domain`` verdict is sticky (an Entra user on a hybrid device does not undo it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from processors.metrics_def import APP_ADD_EVENT, BOOT_EVENT, CENSUS_EVENT, LOGON_EVENT

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeviceCensus:
    """The cohort fields aggregation scopes are drawn from."""

    model: str = UNKNOWN  # "manufacturer|model"
    os_build: str = UNKNOWN
    disk_type: str = UNKNOWN
    join_type: str = UNKNOWN

    def scope(self, scope_type: str) -> str:
        return str(getattr(self, scope_type))


UNKNOWN_CENSUS = DeviceCensus()


@dataclass(frozen=True, slots=True)
class DeviceState:
    device_id: str
    census: DeviceCensus = UNKNOWN_CENSUS
    apps: frozenset[tuple[str, str]] = frozenset()  # (appName, appVersion)
    last_boot_id: int = -1
    quarantined: int = 0  # events quarantined so far


def _device_id(event: Mapping[str, Any]) -> str:
    return str(event["ext"]["device"]["localId"])


def _boot_id(event: Mapping[str, Any]) -> int | None:
    os_ = event.get("ext", {}).get("os", {})
    value = os_.get("bootId")
    return int(value) if isinstance(value, int) else None


def _os_build_from_ver(ver: str) -> str:
    parts = ver.split(".")
    return ".".join(parts[:4]) if len(parts) >= 4 else ver


def apply_event(state: DeviceState | None, event: Mapping[str, Any]) -> tuple[DeviceState, bool]:
    """Apply one event; returns ``(new_state, quarantined)``. The input state is never mutated."""
    st = state if state is not None else DeviceState(device_id=_device_id(event))
    boot_id = _boot_id(event)
    if boot_id is not None and boot_id < st.last_boot_id:
        return replace(st, quarantined=st.quarantined + 1), True
    name = event["name"]
    data: Mapping[str, Any] = event.get("data", {})
    census = st.census
    apps = st.apps
    if name == CENSUS_EVENT:
        census = replace(
            census,
            model=f"{data['oemManufacturerName']}|{data['oemModelNumber']}",
            os_build=str(data["osBuild"]),
            disk_type=str(data["primaryDiskMediaType"]),
        )
    elif name == APP_ADD_EVENT:
        apps = apps | {(str(data["appName"]), str(data["appVersion"]))}
    elif name == BOOT_EVENT:
        if int(data.get("gpBootMs") or 0) > 0:
            census = replace(census, join_type="domain")
    elif name == LOGON_EVENT:
        census = replace(census, join_type=_join_from_user(census.join_type, str(data.get("userType", ""))))
    if census.os_build == UNKNOWN:
        ver = event.get("ext", {}).get("os", {}).get("ver")
        if isinstance(ver, str):
            census = replace(census, os_build=_os_build_from_ver(ver))
    new_boot = st.last_boot_id if boot_id is None else max(st.last_boot_id, boot_id)
    if census is st.census and apps is st.apps and new_boot == st.last_boot_id:
        return st, False
    return replace(st, census=census, apps=apps, last_boot_id=new_boot), False


def _join_from_user(current: str, user_type: str) -> str:
    if current == "domain" or user_type == "ad":
        return "domain"
    if user_type == "entra":
        return "entra"
    if user_type in ("local", "msa") and current == UNKNOWN:
        return "workgroup"
    return current


def apply_events(
    states: Mapping[str, DeviceState], events: Iterable[Mapping[str, Any]]
) -> tuple[dict[str, DeviceState], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Apply a batch in order; returns ``(new_states, accepted_events, quarantined_events)``.

    ``new_states`` shares unchanged :class:`DeviceState` objects with ``states`` (they are frozen).
    """
    out = dict(states)
    accepted: list[Mapping[str, Any]] = []
    quarantined: list[Mapping[str, Any]] = []
    for ev in events:
        dev = _device_id(ev)
        new, bad = apply_event(out.get(dev), ev)
        out[dev] = new
        (quarantined if bad else accepted).append(ev)
    return out, accepted, quarantined


def census_lookup(states: Mapping[str, DeviceState]) -> dict[str, DeviceCensus]:
    """The ``device_id -> DeviceCensus`` mapping :func:`processors.aggregate.aggregate` takes."""
    return {dev: st.census for dev, st in states.items()}
