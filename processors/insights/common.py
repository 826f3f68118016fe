"""Small helpers the insight modules share: weighted means, scope means, medians, model labels."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence


def weighted(parts: Iterable[tuple[float, float | None]]) -> float | None:
    """Weighted mean of the ``(weight, value)`` pairs that have a value; ``None`` if none has."""
    present = [(w, v) for w, v in parts if v is not None and w > 0]
    if not present:
        return None
    return sum(w * v for w, v in present) / sum(w for w, _ in present)


def scope_mean(values: Sequence[float], min_devices: int) -> float | None:
    """Mean of device scores; ``None`` ("insufficient data") below ``min_devices`` devices."""
    return sum(values) / len(values) if len(values) >= min_devices else None


def median(values: Sequence[float]) -> float | None:
    """``np.median`` of the values (mean of the two middle ones for an even count); ``None`` if empty."""
    return float(statistics.median(values)) if values else None


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
