"""The Common Schema 4.0 envelope (``ver``, ``name``, ``time``, ``iKey``, ``ext.*``) and the
:class:`Event` every successful :func:`schemas.decode` returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field

from schemas.types import (
    INT64_MAX,
    WIRE_CONFIG,
    BootId,
    DeviceId,
    Epoch,
    Guid,
    IKey,
    L,
    OsVer,
    R,
    Str64,
    TzOffset,
    UserId,
    UtcTime,
)


class WireModel(BaseModel):
    """Base of every wire model: strict, closed, frozen, camelCase aliases."""

    model_config = WIRE_CONFIG


class ExtDevice(WireModel):
    local_id: DeviceId
    device_class: Annotated[str, L(32)] | None = None


class ExtOs(WireModel):
    name: Literal["Windows"]
    ver: OsVer
    boot_id: BootId


class ExtSdk(WireModel):
    ver: Str64
    epoch: Epoch
    seq: Annotated[int, R(1, INT64_MAX)]
    install_id: Guid


class ExtProtocol(WireModel):
    dev_make: Str64 | None = None
    dev_model: Str64 | None = None


class ExtUser(WireModel):
    local_id: UserId


class ExtLoc(WireModel):
    tz: TzOffset


class Ext(WireModel):
    """``ext.*``. ``ext.ingest`` is the collector's and is refused from clients (``forbidden_field``)."""

    device: ExtDevice
    os: ExtOs
    sdk: ExtSdk
    protocol: ExtProtocol | None = None
    user: ExtUser | None = None
    loc: ExtLoc | None = None


class EventData(WireModel):
    """Base of every ``data`` body. Subclasses set :attr:`EVENT_NAME` and may override :meth:`check`."""

    EVENT_NAME: ClassVar[str] = ""

    schema_version: Annotated[int, R(1, 1)]

    def check(self, record: Record) -> None:
        """Cross-field invariants; raise :class:`schemas.InvalidEvent`. Runs after field validation."""


class Record(WireModel):
    """One validated CS 4.0 record. Per-type subclasses narrow ``data`` (see :mod:`schemas.registry`)."""

    ver: Literal["4.0"]
    name: str
    time: UtcTime
    ikey: IKey = Field(alias="iKey")
    ext: Ext
    data: EventData


class Event:
    """A decoded, valid event: the typed record plus the parsed dict exactly as received.

    ``raw`` is what the collector forwards (after stamping ``ext.ingest``); nothing re-dumps the model.
    """

    __slots__ = ("raw", "record")

    def __init__(self, record: Record, raw: dict[str, Any]) -> None:
        self.record = record
        self.raw = raw

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def time(self) -> datetime:
        return self.record.time

    @property
    def ikey(self) -> str:
        return self.record.ikey

    @property
    def ver(self) -> str:
        return self.record.ver

    @property
    def ext(self) -> Ext:
        return self.record.ext

    @property
    def data(self) -> EventData:
        return self.record.data

    @property
    def device_id(self) -> str:
        """``ext.device.localId`` lower-cased: the Kafka key and the first part of :attr:`identity`."""
        return self.record.ext.device.local_id.lower()

    @property
    def boot_id(self) -> int:
        return self.record.ext.os.boot_id

    @property
    def identity(self) -> tuple[str, str, int]:
        """``(device_id, epoch, seq)``: the same triple twice is a duplicate, a gap in seq is loss."""
        sdk = self.record.ext.sdk
        return (self.device_id, sdk.epoch, sdk.seq)

    @property
    def report_id(self) -> str | None:
        """The crash/hang/stop-error ``reportId`` lower-cased (second de-dup key), else ``None``."""
        rid = getattr(self.record.data, "report_id", None)
        return rid.lower() if isinstance(rid, str) else None

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {self.identity!r})"
