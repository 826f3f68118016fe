"""The event contract: models, decoding, JSON Schema export and example events.

Public API::

    from schemas import decode, Event, InvalidEvent
    event = decode(line_bytes, received_at=now)   # -> Event, or raises InvalidEvent(reason, field)
"""

from schemas.decode import MAX_DATA_DEPTH, MAX_DATA_KEYS, MAX_RECORD_BYTES, decode
from schemas.envelope import Event, EventData, Record
from schemas.errors import ALL_REASONS, COLLECTOR_REASONS, DECODE_REASONS, InvalidEvent
from schemas.registry import DATA_BY_NAME, EVENT_NAMES, RECORDS

__all__ = [
    "ALL_REASONS",
    "COLLECTOR_REASONS",
    "DATA_BY_NAME",
    "DECODE_REASONS",
    "EVENT_NAMES",
    "MAX_DATA_DEPTH",
    "MAX_DATA_KEYS",
    "MAX_RECORD_BYTES",
    "RECORDS",
    "Event",
    "EventData",
    "InvalidEvent",
    "Record",
    "decode",
]
