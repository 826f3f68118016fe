"""Fault injection for tests and the soak (never set in production): a ClickHouse outage window.

The embedded engine lives inside the sink process and cannot be stopped on its own, so an
outage is injected at the insert boundary: while the window is open every INSERT attempt raises
``ConnectionError`` before reaching the backend, exactly as an unreachable server would, and the
writer goes through its documented path (pause, keep the epoch, retry with backoff, same tokens).

Settings: ``SINK_FAULT_OUTAGE_AFTER_S`` (window opens this long after the writer started) and
``SINK_FAULT_OUTAGE_S`` (its length; 0 = no outage).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("fleetpulse.sink")


class OutageWindow:
    """``check()`` raises ``ConnectionError`` between ``after_s`` and ``after_s + duration_s``."""

    def __init__(
        self, after_s: float, duration_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.opens = clock() + after_s
        self.closes = self.opens + duration_s
        self.duration_s = duration_s
        self.failures = 0

    def check(self) -> None:
        if self.duration_s <= 0:
            return
        now = self.clock()
        if self.opens <= now < self.closes:
            if self.failures == 0:
                log.error("fault injection: ClickHouse outage for %.0f s", self.closes - now)
            self.failures += 1
            raise ConnectionError("fault injection: ClickHouse unreachable")
