"""From a request to a rendered page: resolve the filters, build (or reuse) the widgets, render.

A page request, as named steps: the caller's tenant -> its reader (answers of identical reads
shared per tenant, :class:`QueryCache`) -> the filters -> the page's widgets
(:func:`build_page`) -> sort and page the tables -> the template (:func:`render_page`). The
CSV download takes the same widgets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape

from fleetpulse.console import widgets
from fleetpulse.console.auth import Caller
from fleetpulse.console.pages import PAGES, Page, PageContext
from fleetpulse.console.reads import CallerReader, store_url
from fleetpulse.reports.build import make_filters
from fleetpulse.reports.facets import facets
from fleetpulse.reports.params import GROUPS, Filters, iso
from fleetpulse.settings import Settings

Row = dict[str, Any]
Key = tuple[str, str, bytes]  # tenant, SQL, parameters
log = logging.getLogger("fleetpulse.console")


@dataclass(frozen=True)
class Built:
    flt: Filters
    sections: list[widgets.Section]
    facets: dict[str, list[Row]]


class QueryCache:
    """Rows of identical reads of one tenant, shared by every page and caller of that tenant (the
    overview and the startup page ask the same questions).

    An answer younger than ``ttl_s`` is served as it is; an older one is still served, at once,
    while one background refresh reads it again (stale-while-revalidate), so a page seen before
    answers from memory and shows figures at most ``ttl_s`` + one read old. An answer unused for
    ``idle_s`` is dropped, never served. ``ttl_s`` = 0: nothing is kept, every request reads.
    """

    def __init__(self, ttl_s: float, idle_s: float = 600.0, max_entries: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.idle_s = max(idle_s, ttl_s)
        self.max_entries = max_entries
        self._entries: dict[Key, tuple[float, float, list[Row]]] = {}  # key -> (read at, used at, rows)
        self._refreshing: set[Key] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-refresh")

    def get(self, key: Key, read: Callable[[], list[Row]]) -> list[Row]:
        """The cached rows of ``key`` (refreshed in the background when stale), else ``read()``."""
        if self.ttl_s <= 0:
            return read()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[1] > self.idle_s:
                hit = None
            if hit is not None:
                self._entries[key] = (hit[0], now, hit[2])
                if now - hit[0] > self.ttl_s and key not in self._refreshing:
                    self._refreshing.add(key)
                    self._pool.submit(self._refresh, key, read)
                return hit[2]
        rows = read()
        self._put(key, rows)
        return rows

    def _refresh(self, key: Key, read: Callable[[], list[Row]]) -> None:
        try:
            self._put(key, read())
        except Exception:  # the stale answer stays; the next stale use tries again
            log.warning("refreshing a cached read failed", exc_info=True)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _put(self, key: Key, rows: list[Row]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now, now, rows)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class CachedReader:
    """A :class:`CallerReader` whose answers come from the tenant's :class:`QueryCache`.

    Only what this caller's token was allowed to read enters the cache, and only its tenant's
    callers read it back; the cache never widens a read (every caller of a tenant may read it all).
    """

    def __init__(self, inner: CallerReader, cache: QueryCache) -> None:
        self.inner = inner
        self.cache = cache
        # one page's builders ask some questions twice (models and devices both need the per-device
        # medians): within one request they are asked once, whatever the cache's lifetime
        self._this_request: dict[Key, list[Row]] = {}

    def query_json(self, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
        key = (self.inner.tenant, sql, orjson.dumps(params or {}, option=orjson.OPT_SORT_KEYS))
        rows = self._this_request.get(key)
        if rows is None:
            rows = self.cache.get(key, lambda: self.inner.query_json(sql, params))
        self._this_request[key] = rows
        return rows

    def close(self) -> None:
        self.inner.close()


def build_page(
    settings: Settings,
    who: Caller,
    tenant: str,
    page: Page,
    arg: str,
    query: Mapping[str, str],
    cache: QueryCache,
) -> Built:
    """Blocking (run it on a worker thread): the filters, the facets and the page's widgets."""
    inner = CallerReader(store_url(settings), who.token, tenant, settings.console_read_timeout_s)
    reader = CachedReader(inner, cache)
    flt = make_filters(
        reader,
        since=query.get("since") or None,
        until=query.get("until") or None,
        tenant=tenant,
        model=query.get("model", ""),
        os_build=query.get("os_build", ""),
        app=query.get("app", ""),
        group=query.get("group", ""),
        database=settings.clickhouse_database,
    )
    ctx = PageContext(reader, flt, query, settings, tenant, who.is_admin, arg)
    return Built(flt, page.build(ctx), facets(reader, flt))


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("fleetpulse.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        cell=widgets.cell,
        with_params=widgets.with_params,
        device_href=widgets.device_href,
        filter_query=widgets.filter_query,
        nav=[p for p in PAGES.values() if p.nav],
        group_kinds=list(GROUPS),
    )
    return env


def link_href(col: widgets.Col, row: Row, page: Page, query: Mapping[str, str]) -> str:
    """Where a linked cell points: a device's page, or this page filtered by the model / app."""
    value = str(row.get(col.key) or "")
    if col.link == "device":
        return widgets.device_href(value, query)
    if col.link == "model":
        return f"{page.path}?{widgets.with_params(query, model=value)}"
    if col.link == "app":
        return f"/apps?{widgets.with_params(query, app=value)}"
    if col.link == "baseline":
        return f"/baselines?{widgets.with_params(query, compare=value)}"
    return ""


def render_page(
    env: Environment,
    page: Page,
    arg: str,
    built: Built,
    who: Caller,
    tenant: str,
    query: Mapping[str, str],
    extra: Mapping[str, Any],
) -> str:
    sections = [widgets.arrange(s, query) if isinstance(s, widgets.Table) else s for s in built.sections]
    flt = built.flt
    title = f"Device {arg}" if arg else page.title
    return env.get_template("page.html").render(
        page=page,
        title=title,
        arg=arg,
        sections=sections,
        facets=built.facets,
        flt=flt,
        since_day=iso(flt.since)[:10],
        until_day=iso(flt.until)[:10],
        range_text=f"{iso(flt.since)} – {iso(flt.until)}",
        query=dict(query),
        who=who,
        tenant=tenant,
        link_href=lambda col, row: link_href(col, row, page, query),
        **extra,
    )


def csv_rows(built: Built, table_id: str) -> tuple[list[str], list[Row]]:
    """The full rows of one table of a built page (KeyError when it has none of that id)."""
    for s in built.sections:
        if isinstance(s, widgets.Table) and s.id == table_id:
            return [c.key for c in s.cols], s.rows
    raise KeyError(table_id)
