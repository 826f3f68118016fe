"""The one typed outcome for bad input: :class:`InvalidEvent` and its stable reason words."""

from __future__ import annotations

from typing import Final

#: Reasons :func:`schemas.decode` raises. Stable snake_case words: metric labels, DLQ headers and the
#: collector's per-line answers use them verbatim. ``docs/contract.md`` maps every rule to one.
DECODE_REASONS: Final[frozenset[str]] = frozenset(
    {
        "parse_error",
        "encoding_error",
        "unknown_event",
        "unsupported_version",
        "type_error",
        "missing_field",
        "unknown_field",
        "forbidden_field",
        "out_of_range",
        "bad_format",
        "bad_device_id",
        "time_out_of_range",
        "invariant_violated",
        "too_large",
        "too_deep",
    }
)

#: Reasons decided by the collector (tenant binding, de-duplication), never by :func:`schemas.decode`.
COLLECTOR_REASONS: Final[frozenset[str]] = frozenset({"tenant_mismatch", "duplicate"})

ALL_REASONS: Final[frozenset[str]] = DECODE_REASONS | COLLECTOR_REASONS


class InvalidEvent(Exception):  # noqa: N818 - name fixed by the agreed API
    """A record that breaks the contract.

    ``reason`` is one stable word from :data:`ALL_REASONS`; ``field`` is the dotted wire path of the
    offending field (``data.totalBootMs``, ``ext.device.localId``, ``data.slowComponents.0.name``)
    or ``None`` when the record as a whole is at fault; ``detail`` is free text for humans only.
    """

    def __init__(self, reason: str, field: str | None = None, detail: str = "") -> None:
        self.reason = reason
        self.field = field
        self.detail = detail
        super().__init__(f"{reason}" + (f" at {field}" if field else "") + (f": {detail}" if detail else ""))
