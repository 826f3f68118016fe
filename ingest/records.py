"""Valid records for benchmarks and tests, made from ``schemas.examples`` (one per event type).

:func:`fresh_record` re-times an example to ``now`` (every timestamp shifted by the same delta, so
cross-field time rules still hold) and gives it a device, epoch, seq and a new ``reportId``.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.examples import load_examples

_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")


def parse_time(text: str) -> datetime:
    head, _, frac = text[:-1].partition(".")
    moment = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return moment + timedelta(microseconds=int((frac + "000000")[:6]) if frac else 0)


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _shift(value: Any, delta: timedelta) -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    if isinstance(value, str) and _TIME_RE.match(value):
        return format_time(parse_time(value) + delta)
    return value


def device_guid(index: int) -> str:
    """A stable, non-nil device id for device number ``index``."""
    return "s:" + str(uuid.uuid5(uuid.NAMESPACE_OID, f"fleetpulse-device-{index}")).upper()


def fresh_record(
    name: str,
    *,
    device: int,
    seq: int,
    epoch: str = "1000",
    now: datetime | None = None,
    ikey: str | None = None,
) -> dict[str, Any]:
    """An example of event ``name`` re-timed to ``now`` with the given identity."""
    examples = _examples()
    record = copy.deepcopy(examples[name])
    moment = now or datetime.now(UTC)
    record = dict(_shift(record, (moment - timedelta(seconds=1)) - parse_time(record["time"])))
    record["ext"]["device"]["localId"] = device_guid(device)
    record["ext"]["sdk"]["epoch"] = epoch
    record["ext"]["sdk"]["seq"] = seq
    if "reportId" in record["data"]:
        record["data"]["reportId"] = str(uuid.uuid4())
    if ikey is not None:
        record["iKey"] = ikey
    return record


_CACHE: dict[str, dict[str, Any]] = {}


def _examples() -> dict[str, dict[str, Any]]:
    if not _CACHE:
        _CACHE.update(load_examples())
    return _CACHE


def event_names() -> list[str]:
    return sorted(_examples())
