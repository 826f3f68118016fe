"""Report filters and the time range, turned into one SQL ``WHERE`` fragment with bound parameters.

Every value a user gives (``--since``, ``--until``, ``--model``, ``--os-build``, ``--app``,
``--tenant``) travels as a ClickHouse ``{name:Type}`` parameter; the SQL text is fixed. An empty
string parameter means "no filter" (``{model:String} = '' OR …``).

Time range: ``[since, until)`` on ``event_time``. By default it is the **last 14 days of data**:
``until`` = the newest ``event_time`` in the raw tables (+1 ms, so it is included) and ``since``
= ``until - 14 days``. Anchoring on the newest data rather than the wall clock keeps the
simulator's weeks (which may lie in the past or the future) visible; an explicit absolute
``--until`` or ``--until now`` uses that instead.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sinks.clickhouse.base import check_identifier
from sinks.reader import Reader

DEFAULT_DAYS = 14
_RELATIVE = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}

#: Tables whose newest ``event_time`` anchors the default range.
ANCHOR_TABLES = ("boot_events", "logon_events", "power_transitions", "app_usage", "app_crashes")


@dataclass(frozen=True)
class Filters:
    """What a report looks at; ``since``/``until`` are resolved (aware UTC) before any query."""

    since: dt.datetime
    until: dt.datetime
    tenant: str = ""
    model: str = ""
    os_build: str = ""
    app: str = ""
    limit: int = 20
    database: str = "fleetpulse"
    group: str = ""  # a census device group, ``kind:value`` (:data:`GROUPS`); ``''``: every device

    def __post_init__(self) -> None:
        split_group(self.group)  # refuse an unknown group kind before any query

    def params(self) -> dict[str, Any]:
        """The bound parameters every report query may use."""
        return {
            "since": fmt_time(self.since),
            "until": fmt_time(self.until),
            "tenant": self.tenant,
            "model": self.model,
            "os_build": self.os_build,
            "app": self.app,
            "limit": self.limit,
            "group_kind": split_group(self.group)[0],
            "group_value": split_group(self.group)[1],
        }

    def describe(self) -> dict[str, Any]:
        """The filters as they appear in a report's JSON."""
        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "tenant": self.tenant or None,
            "model": self.model or None,
            "os_build": self.os_build or None,
            "app": self.app or None,
            "group": self.group or None,
        }


#: Device groups (Endpoint analytics' device scopes) from each device's latest census before
#: ``until``: kind -> the SQL of its value over ``census`` rows grouped by device.
GROUPS: dict[str, str] = {
    "chassis": "transform(toString(argMax(chassis_type, event_time)),"
    " ['3', '4', '6', '7', '13', '35', '8', '9', '10', '14', '31', '32', '30'],"
    " ['desktop', 'desktop', 'desktop', 'desktop', 'all-in-one', 'mini-pc', 'laptop', 'laptop', 'laptop',"
    " 'laptop', 'convertible', 'detachable', 'tablet'], 'other')",
    "disk": "argMax(primary_disk_media_type, event_time)",
    "edition": "argMax(os_edition, event_time)",
    "maker": "argMax(oem_manufacturer_name, event_time)",
    "battery": "if(argMax(has_battery, event_time), 'yes', 'no')",
}


def split_group(group: str) -> tuple[str, str]:
    """``'disk:hdd'`` -> ``('disk', 'hdd')``; ``''`` -> ``('', '')``; ValueError for an unknown kind."""
    if not group:
        return "", ""
    kind, sep, value = group.partition(":")
    if not sep or kind not in GROUPS or not value:
        raise ValueError(f"device group {group!r} is not KIND:VALUE with KIND one of {', '.join(GROUPS)}")
    return kind, value


def group_value_sql() -> str:
    """The value of the requested group kind for one device (over its ``census`` rows)."""
    arms = ", ".join(f"{{group_kind:String}} = '{k}', {expr}" for k, expr in GROUPS.items())
    return f"multiIf({arms}, '')"


GROUPS_SQL = (
    "SELECT kind, value, count() AS devices FROM (SELECT device_id, "
    + ", ".join(f"{expr} AS g_{k}" for k, expr in GROUPS.items())
    + " FROM {db}.census WHERE ({tenant:String} = '' OR tenant = {tenant:String})"
    " AND event_time < {until:DateTime64(3)} GROUP BY device_id)"
    " ARRAY JOIN [" + ", ".join(f"'{k}'" for k in GROUPS) + "] AS kind,"
    " [" + ", ".join(f"g_{k}" for k in GROUPS) + "] AS value"
    " GROUP BY kind, value ORDER BY kind, value"
)


def fmt_time(value: dt.datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS.fff`` in UTC: what a ``DateTime64(3)`` parameter parses."""
    value = value.astimezone(dt.UTC) if value.tzinfo else value
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str, anchor: dt.datetime) -> dt.datetime:
    """``now``, ``14d`` / ``36h`` / ``90m`` (before ``anchor``), or an ISO date / datetime (UTC if naive)."""
    text = text.strip()
    if text == "now":
        return dt.datetime.now(dt.UTC)
    m = _RELATIVE.match(text)
    if m:
        return anchor - dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a time: use ISO 8601, 'now', or Nd / Nh / Nm") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def resolve_range(
    since: str | None, until: str | None, newest: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    """The ``[since, until)`` range; relative values count back from ``until``."""
    anchor = newest + dt.timedelta(milliseconds=1) if newest else dt.datetime.now(dt.UTC)
    end = parse_time(until, anchor) if until else anchor
    start = parse_time(since, end) if since else end - dt.timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ValueError(f"empty time range: since {iso(start)} is not before until {iso(end)}")
    return start, end


def newest_event_time(reader: Reader, database: str, tenant: str) -> dt.datetime | None:
    """The newest ``event_time`` across :data:`ANCHOR_TABLES` (``None`` when they are empty)."""
    parts = " UNION ALL ".join(
        f"SELECT max(event_time) AS t, count() AS n FROM {check_identifier(database)}.{table}"
        " WHERE ({tenant:String} = '' OR tenant = {tenant:String})"
        for table in ANCHOR_TABLES
    )
    rows = reader.query_json(f"SELECT max(t) AS newest, sum(n) AS n FROM ({parts})", {"tenant": tenant})
    if not rows or not rows[0]["n"]:
        return None
    return parse_time(str(rows[0]["newest"]), dt.datetime.now(dt.UTC))


def where(alias: str = "", *, device_filters: bool = True, app_cohort: bool = True) -> str:
    """``WHERE`` conditions for a raw table: time range, tenant, model, OS build, group, app cohort.

    ``--group kind:value`` keeps the devices whose latest census before ``until`` is in the group;
    ``--model`` matches ``dev_model`` or ``dev_make/dev_model``; ``--os-build`` matches the full
    ``os_ver`` (``10.0.22631.4169``) or its build number (``22631``). ``--app`` (when
    ``app_cohort``) keeps the devices that used the app in the range.
    """
    a = f"{alias}." if alias else ""
    conds = [
        f"{a}event_time >= {{since:DateTime64(3)}}",
        f"{a}event_time < {{until:DateTime64(3)}}",
        f"({{tenant:String}} = '' OR {a}tenant = {{tenant:String}})",
    ]
    if device_filters:
        conds += [
            f"({{model:String}} = '' OR {a}dev_model = {{model:String}}"
            f" OR concat({a}dev_make, '/', {a}dev_model) = {{model:String}})",
            f"({{os_build:String}} = '' OR {a}os_ver = {{os_build:String}}"
            f" OR splitByChar('.', {a}os_ver)[3] = {{os_build:String}})",
        ]
        conds.append(
            f"({{group_kind:String}} = '' OR {a}device_id IN (SELECT device_id FROM {{db}}.census"
            " WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND event_time < {until:DateTime64(3)}"
            f" GROUP BY device_id HAVING {group_value_sql()} = {{group_value:String}}))"
        )
    if app_cohort:
        conds.append(
            f"({{app:String}} = '' OR {a}device_id IN (SELECT device_id FROM {{db}}.app_usage"
            " WHERE app_name = {app:String} AND ({tenant:String} = '' OR tenant = {tenant:String})"
            " AND event_time >= {since:DateTime64(3)}"
            " AND event_time < {until:DateTime64(3)}))"
        )
    return " AND ".join(conds)


def model_key(alias: str = "") -> str:
    """The model label: ``make/model`` (``'(unknown)'`` when the agent sent neither)."""
    a = f"{alias}." if alias else ""
    return f"if({a}dev_make = '' AND {a}dev_model = '', '(unknown)', concat({a}dev_make, '/', {a}dev_model))"


def render_sql(template: str, database: str) -> str:
    """Put the (checked) database name where a template says ``{db}``; values stay parameters."""
    return template.replace("{db}", check_identifier(database))


def q_lower(expr: str, q: float) -> str:
    """Exact quantile ``q`` of ``expr``: the element of 0-based rank ``floor(q (n - 1))`` of the sorted
    non-NULL values (numpy ``method="lower"``, the DDSketch's rank), ``NULL`` when there is none."""
    return (
        f"if(count({expr}) = 0, NULL, toFloat64(arraySort(groupArray({expr}))"
        f"[toUInt64(floor({q!r} * (count({expr}) - 1))) + 1]))"
    )


def median_mid(expr: str) -> str:
    """Exact median of ``expr`` (mean of the two middle values for an even count, as ``np.median``)."""
    s = f"arraySort(groupArray({expr}))"
    n = f"count({expr})"
    return (
        f"if({n} = 0, NULL,"
        f" (toFloat64({s}[intDiv({n} - 1, 2) + 1]) + toFloat64({s}[intDiv({n}, 2) + 1])) / 2)"
    )


def active_devices_sql(tables: tuple[str, ...]) -> str:
    """Distinct devices with any row in ``tables`` in range (the filters apply)."""
    parts = " UNION ALL ".join(f"SELECT device_id FROM {{db}}.{t} WHERE {where()}" for t in tables)
    return f"SELECT uniqExact(device_id) AS devices FROM ({parts})"
