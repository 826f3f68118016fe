"""What a console page is made of: tiles, charts, tables, notes and forms (plain data).

A page builder returns a list of these; one template (``page.html``) renders any list, and the
CSV download of a table is the same :class:`Table`'s rows, unpaged. Tables sort and page on the
server (query parameters ``sort.<id>``, ``desc.<id>``, ``page.<id>``), so every view has a URL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from fleetpulse.reports.text import num, pct, score, secs, value

Row = dict[str, Any]
Fmt = Callable[[Any], str]


def text(v: Any) -> str:
    return "-" if v is None or v == "" else str(v)


def hours(v: Any) -> str:
    return num(v, 1)


def ms(v: Any) -> str:
    return value(v)


FORMATS: dict[str, Fmt] = {
    "text": text,
    "secs": secs,
    "score": score,
    "pct": pct,
    "hours": hours,
    "int": lambda v: "-" if v is None else f"{int(v):,}",
    "ms": ms,
    "p": lambda v: "-" if v is None else f"{v:.2g}",
    "per_device": lambda v: num(v, 3),
}


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    fmt: str = "text"  # a key of FORMATS
    link: str = ""  # "device": the cell links to that device's page; "model": filters the page by it

    @property
    def numeric(self) -> bool:
        return self.fmt not in ("text",)


@dataclass
class Table:
    id: str
    title: str
    cols: Sequence[Col]
    rows: list[Row]
    page_size: int = 25
    sortable: bool = True
    note: str = ""
    tabs: Sequence[tuple[str, str, bool]] = ()  # (label, href, current): views of the same table
    # filled by :func:`arrange` for rendering
    shown: list[Row] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    sort: str = ""
    desc: bool = False
    kind: str = "table"


@dataclass
class Tile:
    label: str
    value: str
    note: str = ""
    href: str = ""
    tone: str = ""  # "", "good", "warn", "bad", "na"


@dataclass
class Tiles:
    items: list[Tile]
    kind: str = "tiles"


@dataclass
class Chart:
    id: str
    title: str
    option: Mapping[str, Any]  # an Apache ECharts option, drawn by static/console.js
    links: Sequence[str] = ()  # click-through: data index -> URL
    height: int = 300
    kind: str = "chart"


@dataclass
class Note:
    text: str
    tone: str = ""
    kind: str = "note"


@dataclass
class Form:
    """An admin action: a POST form (the CSRF token is added by the template)."""

    action: str
    title: str
    fields: Sequence[tuple[str, str, str, str]]  # (name, label, input type, value)
    submit: str
    kind: str = "form"


Section = Table | Tiles | Chart | Note | Form


def tone(score_value: float | None) -> str:
    if score_value is None:
        return "na"
    return "good" if score_value >= 70 else "warn" if score_value >= 50 else "bad"


def _sort_key(key: str) -> Callable[[Row], tuple[int, Any]]:
    def k(r: Row) -> tuple[int, Any]:
        v = r.get(key)
        return (1, "") if v is None else (0, v if isinstance(v, int | float) else str(v))

    return k


def arrange(original: Table, query: Mapping[str, str]) -> Table:
    """A copy of ``original`` sorted and paged as the query asks (unknown columns, pages ignored)."""
    table = dataclasses.replace(original)
    sort = query.get(f"sort.{table.id}", "")
    desc = query.get(f"desc.{table.id}", "") == "1"
    rows = list(table.rows)
    if table.sortable and sort in {c.key for c in table.cols}:
        present = [r for r in rows if r.get(sort) is not None]
        missing = [r for r in rows if r.get(sort) is None]
        present.sort(key=_sort_key(sort), reverse=desc)
        rows = present + missing  # missing values last in both directions
        table.sort, table.desc = sort, desc
    table.pages = max(1, -(-len(rows) // table.page_size))
    try:
        page = int(query.get(f"page.{table.id}", "1"))
    except ValueError:
        page = 1
    table.page = min(max(page, 1), table.pages)
    start = (table.page - 1) * table.page_size
    table.shown = rows[start : start + table.page_size]
    return table


def with_params(query: Mapping[str, str], **changes: str | None) -> str:
    """The query string with ``changes`` applied (``None`` removes a key); keys may contain dots."""
    merged = {k: v for k, v in query.items() if k != "token"}
    for k, v in changes.items():
        key = k.replace("__", ".")
        if v is None:
            merged.pop(key, None)
        else:
            merged[key] = v
    return urlencode(sorted(merged.items()))


FILTER_KEYS = ("since", "until", "model", "os_build", "app", "group")


def filter_query(query: Mapping[str, str]) -> str:
    """Only the filters (what a link to another page keeps)."""
    return urlencode([(k, query[k]) for k in FILTER_KEYS if query.get(k)])


def device_href(device_id: str, query: Mapping[str, str]) -> str:
    qs = filter_query({k: v for k, v in query.items() if k in ("since", "until")})
    return f"/device/{quote(device_id, safe='')}" + (f"?{qs}" if qs else "")


def cell(col: Col, row: Row) -> str:
    return FORMATS[col.fmt](row.get(col.key))
