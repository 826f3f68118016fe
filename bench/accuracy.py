"""Percentile error of the processors' sketches against an exact computation (numpy).

The fleet's boot events go through :func:`processors.aggregate.aggregate` (hour and day windows,
model and fleet scopes, the production DDSketch); for every (window, scope) cell with at least
``min_count`` core boot values, p50/p90/p99 from the sketch are compared with ``numpy.quantile``
of the same values (``method="lower"``: the element of rank floor(q (n - 1)), the rank the
sketch estimates). Reported: the largest relative error and the number of cells compared.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from bench.peer_common import BOOT, model_of
from processors.aggregate import AggregateConfig, aggregate
from processors.device_state import DeviceCensus
from processors.partials import DAY, Partials, merge_into

QS = (0.5, 0.9, 0.99)


def _hour(t: str) -> int:
    return int(datetime(int(t[0:4]), int(t[5:7]), int(t[8:10]), int(t[11:13]), tzinfo=UTC).timestamp())


def percentile_error(lines: list[bytes], min_count: int = 20) -> tuple[float, int]:
    """(max relative error over p50/p90/p99 and cells, cells compared)."""
    cfg = AggregateConfig(windows=("hour", "day"), scopes=("fleet", "model"), counter_device_scope=False)
    census: dict[str, DeviceCensus] = {}
    exact: defaultdict[tuple[str, int, str, str], list[int]] = defaultdict(list)
    boots: list[dict[str, Any]] = []
    for line in lines:
        if b'"Fleet.Boot.Performance"' not in line:
            continue
        ev = orjson.loads(line)
        if ev["name"] != BOOT:
            continue
        dev = ev["ext"]["device"]["localId"]
        model = model_of(ev)
        census.setdefault(dev, DeviceCensus(model=model))
        boots.append(ev)
        h = _hour(ev["time"])
        v = int(ev["data"]["coreBootMs"])
        for kind, ws in (("hour", h), ("day", h - h % DAY)):
            exact[(kind, ws, "model", census[dev].model)].append(v)
            exact[(kind, ws, "fleet", "all")].append(v)
    total = Partials()
    for i in range(0, len(boots), 50_000):
        merge_into(total, aggregate(boots[i : i + 50_000], census, None, cfg)[0], consume=True)
    worst, cells = 0.0, 0
    for (kind, ws, stype, scope, metric), st in total.metrics.items():
        if metric != "core_boot_ms":
            continue
        values = exact.get((kind, ws, stype, scope), [])
        if len(values) < min_count:
            continue
        truth = np.quantile(np.array(values, dtype=np.float64), QS, method="lower")
        for est, true in zip(st.sketch.quantiles(QS), truth, strict=True):
            if est is not None and true > 0:
                worst = max(worst, abs(est - true) / true)
        cells += 1
    return worst, cells
