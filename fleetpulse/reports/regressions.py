"""Regressions: detected by the processors, read from ``regressions FINAL`` (latest version per id).

Shown: regressions open at some time in ``[since, until)`` — ``started_at < until`` and still
open or closed after ``since`` — ``--all`` adds closed ones, otherwise only ``status = 'open'``.
``--model`` / ``--os-build`` / ``--app`` keep regressions of that scope (``model`` scopes match
``make/model`` or the model name; ``app`` also matches ``app_version`` scopes ``app/…``). The
likely cause is the top-ranked configuration change of ``causes`` (processors/attribution.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetpulse.reports.params import Filters, render_sql
from fleetpulse.reports.startup import Row
from sinks.reader import Reader

REGRESSIONS_SQL = """
SELECT regression_id, status, scope_type, scope, metric, baseline_name, baseline_value, current_value,
    change_pct, devices_baseline, devices_current, test, p_value, started_at, detected_at, closed_at, causes
FROM {db}.regressions FINAL
WHERE ({tenant:String} = '' OR tenant = {tenant:String})
  AND ({include_closed:UInt8} = 1 OR status = 'open')
  AND started_at < {until:DateTime64(3)}
  AND (status = 'open' OR closed_at IS NULL OR closed_at >= {since:DateTime64(3)})
  AND ({model:String} = '' OR (scope_type = 'model'
       AND (scope = {model:String} OR endsWith(scope, concat('/', {model:String})))))
  AND ({os_build:String} = '' OR (scope_type = 'os_build' AND scope = {os_build:String}))
  AND ({app:String} = '' OR (scope_type IN ('app', 'app_version')
       AND (scope = {app:String} OR startsWith(scope, concat({app:String}, '/')))))
ORDER BY status DESC, change_pct DESC, regression_id
LIMIT {limit:UInt32}"""

CAUSE_FIELDS = ("change_id", "change_name", "prevalence_affected", "prevalence_unaffected", "lift")


def _cause(value: Any) -> Row:
    if isinstance(value, dict):
        return {k: value.get(k) for k in CAUSE_FIELDS}
    return dict(zip(CAUSE_FIELDS, value, strict=True))


def shape_regressions(flt: Filters, rows: Sequence[Row], include_closed: bool = False) -> Row:
    """The regressions document: each with its causes and the likely one (``None`` if none)."""
    out = []
    for r in rows:
        causes = [_cause(c) for c in r["causes"]]
        out.append(
            {
                **{k: v for k, v in r.items() if k != "causes"},
                "causes": causes,
                "likely_cause": causes[0] if causes else None,
            }
        )
    return {
        "report": "regressions",
        "filters": flt.describe(),
        "include_closed": include_closed,
        "open": sum(1 for r in out if r["status"] == "open"),
        "regressions": out,
    }


def regressions_report(reader: Reader, flt: Filters, include_closed: bool = False) -> Row:
    params = {**flt.params(), "include_closed": 1 if include_closed else 0}
    rows = reader.query_json(render_sql(REGRESSIONS_SQL, flt.database), params)
    return shape_regressions(flt, rows, include_closed)
