"""One million hostile inputs through ``schemas.decode`` (schemas/fuzz.py): only InvalidEvent, with a
documented reason; no input over 2 s (watchdog); bounded memory (tracemalloc over a sample)."""

from __future__ import annotations

import pytest

from schemas import DECODE_REASONS
from schemas.fuzz import generate, run


def test_mutations_are_deterministic_and_varied() -> None:
    a = list(generate(seed=3, count=200))
    assert a == list(generate(seed=3, count=200))
    assert len(set(a)) > 190


@pytest.mark.slow
def test_one_million_mutations_only_invalid_event() -> None:
    report = run(1_000_000, seed=20260311, max_input_s=2.0, traced=5_000)
    print(
        f"\n[fuzz] {report.inputs:,} inputs in {report.seconds:.1f} s ({report.rate:,.0f}/s), "
        f"slowest {report.slowest_s * 1000:.1f} ms, peak {report.peak_bytes / 1024:.0f} KiB, "
        f"accepted {report.accepted:,}"
    )
    assert report.failures == []
    assert report.inputs == 1_000_000
    assert report.peak_bytes < 64 * 1024 * 1024
    assert set(report.rejected) <= DECODE_REASONS
    assert len(report.rejected) >= 10  # the mutations reach many different checks
    assert report.accepted > 0  # and some still decode (mutations in free-text fields)
