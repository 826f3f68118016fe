"""What the filters can be set to in a range: models, OS builds, apps and device groups, with devices.

And the named baselines: their list, and a baseline's values beside the same figure now
(``compare``: per ``(scope_type, scope, metric)`` the baseline ``value`` and the p50 of the
merged daily ``aggregates`` in range, the quantile of docs/tables.md "The sketch and
re-aggregation", which is how a baseline's value is taken).
"""

from __future__ import annotations

from fleetpulse.reports.params import GROUPS_SQL, Filters, model_key, render_sql
from fleetpulse.reports.startup import Row
from sinks.reader import Reader

_RANGE = (
    "({tenant:String} = '' OR tenant = {tenant:String})"
    " AND event_time >= {since:DateTime64(3)} AND event_time < {until:DateTime64(3)}"
)
FACETS_SQL = f"""
SELECT kind, value, uniqExact(device_id) AS devices FROM (
    SELECT 'model' AS kind, {model_key()} AS value, device_id FROM {{db}}.boot_events WHERE {_RANGE}
    UNION ALL
    SELECT 'os_build', os_ver, device_id FROM {{db}}.boot_events WHERE {_RANGE}
    UNION ALL
    SELECT 'app', app_name, device_id FROM {{db}}.app_usage WHERE {_RANGE}
) GROUP BY kind, value
UNION ALL
SELECT 'group', concat(kind, ':', value), devices FROM ({GROUPS_SQL})
ORDER BY kind, value"""

BASELINES_SQL = """
SELECT name, toString(min(period_start)) AS period_start, toString(max(period_end)) AS period_end,
    toString(max(created_at)) AS created_at, count() AS scopes
FROM {db}.baselines FINAL WHERE ({tenant:String} = '' OR tenant = {tenant:String})
GROUP BY name ORDER BY name"""

COMPARE_SQL = """
WITH (1 + {alpha:Float64}) / (1 - {alpha:Float64}) AS gamma
SELECT b.scope_type AS scope_type, b.scope AS scope, b.metric AS metric, b.value AS baseline_value,
    b.devices AS baseline_devices, c.p50 AS current_value, c.n AS current_count
FROM (SELECT scope_type, scope, metric, value, devices FROM {db}.baselines FINAL
      WHERE name = {name:String} AND ({tenant:String} = '' OR tenant = {tenant:String})) AS b
LEFT JOIN (
    SELECT scope_type, scope, metric, n,
        if(n = 0, nan, if(floor(0.5 * (n - 1)) < zeros, 0.,
           least(greatest(2 * pow(gamma, keys[arrayFirstIndex(x -> x > floor(0.5 * (n - 1)) - zeros, cum)])
                          / (gamma + 1), lo), hi))) AS p50
    FROM (
        SELECT scope_type, scope, metric, sumMap(sketch) AS buckets, sum(zero_count) AS zeros,
            sum(count) AS n, min(min_value) AS lo, max(max_value) AS hi, arraySort(mapKeys(buckets)) AS keys,
            arrayCumSum(arrayMap(k -> buckets[k], keys)) AS cum
        FROM {db}.aggregates FINAL
        WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND window_kind = 'day'
          AND window_start >= toDateTime({since:DateTime64(3)})
          AND window_start < toDateTime({until:DateTime64(3)})
        GROUP BY scope_type, scope, metric)
) AS c ON b.scope_type = c.scope_type AND b.scope = c.scope AND b.metric = c.metric
ORDER BY scope_type, scope, metric"""


def facets(reader: Reader, flt: Filters) -> dict[str, list[Row]]:
    """``kind -> [{value, devices}]`` for ``model``, ``os_build``, ``app`` and ``group`` (``kind:value``)."""
    out: dict[str, list[Row]] = {"model": [], "os_build": [], "app": [], "group": []}
    for r in reader.query_json(render_sql(FACETS_SQL, flt.database), flt.params()):
        out[r["kind"]].append({"value": r["value"], "devices": int(r["devices"])})
    return out


def baselines(reader: Reader, flt: Filters) -> list[Row]:
    return reader.query_json(render_sql(BASELINES_SQL, flt.database), flt.params())


def compare(reader: Reader, flt: Filters, name: str, alpha: float) -> list[Row]:
    """The baseline's figures and the same figures in range; ``change_pct`` positive = higher now."""
    params = {**flt.params(), "name": name, "alpha": alpha}
    rows = reader.query_json(render_sql(COMPARE_SQL, flt.database), params)
    out = []
    for r in rows:
        base, cur = r["baseline_value"], r["current_value"]
        has_current = int(r["current_count"] or 0) > 0 and cur is not None
        change = (cur - base) / base * 100.0 if has_current and base else None
        out.append({**r, "current_value": cur if has_current else None, "change_pct": change})
    return out
