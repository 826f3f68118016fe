"""The console's pages: each a small builder from the report documents to widgets.

Adding a page is one module with a ``build(ctx) -> list[Section]`` function and one
:func:`register` call in :data:`PAGES` below; the template, filters, sorting, paging, CSV
download and authentication come with it. Builders read only through ``ctx.reader`` (the
caller's scoped reads) and the report builders of :mod:`fleetpulse.reports`, so a page shows the
figures the CLI prints for the same filters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fleetpulse.console.widgets import Section
from fleetpulse.reports.params import Filters
from fleetpulse.settings import Settings
from sinks.reader import Reader


@dataclass(frozen=True)
class PageContext:
    """What a builder may use: the caller's reader, the resolved filters, the raw query."""

    reader: Reader
    flt: Filters
    query: Mapping[str, str]
    settings: Settings
    tenant: str
    is_admin: bool
    arg: str = ""  # the path argument (a device id)


Builder = Callable[[PageContext], list[Section]]


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # a route; ``{arg}`` marks the path argument
    title: str
    build: Builder
    nav: bool = True  # listed in the navigation bar


PAGES: dict[str, Page] = {}


def register(page: Page) -> None:
    PAGES[page.name] = page


def _register_all() -> None:
    from fleetpulse.console.pages import apps, baselines, device, overview, regressions, restarts, startup

    register(Page("overview", "/", "Overview", overview.build))
    register(Page("startup", "/startup", "Startup performance", startup.build))
    register(Page("restarts", "/restarts", "Restart frequency", restarts.build))
    register(Page("apps", "/apps", "App reliability", apps.build))
    register(Page("regressions", "/regressions", "Regressions", regressions.build))
    register(Page("baselines", "/baselines", "Baselines", baselines.build))
    register(Page("device", "/device/{arg}", "Device", device.build, nav=False))


_register_all()
