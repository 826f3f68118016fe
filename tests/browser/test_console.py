"""The console in a real headless Chromium against a real stack holding a simulated fleet.

One stack and one browser for the module; each test signs in as a user would (the printed link,
or the sign-in form) and checks the pages against the CLI's JSON for the same filters.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from fleetpulse.cli import cli
from tests.browser.conftest import ADMIN_TOKEN, READER_TOKEN, WIDTHS, ConsoleStack, screenshot_path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.kafka,
    pytest.mark.clickhouse,
    pytest.mark.e2e,
    pytest.mark.slow,
]

PAGES = {
    "overview": "/",
    "startup": "/startup",
    "restarts": "/restarts",
    "apps": "/apps",
    "regressions": "/regressions",
    "baselines": "/baselines",
}


def report(*args: str) -> dict[str, Any]:
    """``fleetpulse report ... --format json`` (the CLI itself, through the running sink)."""
    result = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def score_text(value: float | None) -> str:
    return "insufficient data" if value is None else f"{value:.0f}"


class Session:
    """One browser context (its own cookies) and page, collecting console errors."""

    def __init__(self, browser: Any, base: str, width: int) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")
        for chart in self.page.locator("[data-chart]").all():  # drawn by console.js
            assert chart.get_attribute("data-ready") == "1"
        return response

    def tile(self, label: str) -> str:
        return str(self.page.locator(f"[data-tile='{label}']").first.inner_text()).strip()

    def column(self, table: str, col: str) -> list[str]:
        return [
            c.strip()
            for c in self.page.locator(f"table[data-table='{table}'] td[data-col='{col}']").all_inner_texts()
        ]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def admin(browser: Any, stack: ConsoleStack) -> Iterator[Session]:
    s = Session(browser, stack.url, 1280)
    s.go(f"/?token={ADMIN_TOKEN}")
    yield s
    assert s.errors == [], s.errors
    s.close()


def test_the_printed_link_signs_in_and_every_page_renders_at_both_widths(
    browser: Any, stack: ConsoleStack
) -> None:
    for width in WIDTHS:
        s = Session(browser, stack.url, width)
        s.go(f"/startup?token={ADMIN_TOKEN}")
        assert s.page.url == f"{stack.url}/startup", "the token must leave the address bar"
        cookie = next(c for c in s.context.cookies() if c["name"] == "fp_session")
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Strict"
        for name, path in PAGES.items():
            response = s.go(path)
            assert response.status == 200, (name, response.status)
            assert s.page.locator("h1").first.inner_text() != "Cannot show this page"
            s.page.screenshot(path=str(screenshot_path(name, width)), full_page=True)
        assert s.errors == [], s.errors
        s.close()


def test_pages_show_the_cli_figures(admin: Session) -> None:
    st = report("report", "startup")
    admin.go("/startup")
    assert admin.tile("Startup score") == score_text(st["scores"]["startup_score"])
    assert admin.tile("Boot score") == score_text(st["scores"]["boot_score"])
    assert admin.tile("Sign-in score") == score_text(st["scores"]["signin_score"])
    medians = admin.column("phases", "p50")
    assert medians == ["-" if m["p50"] is None else f"{m['p50'] / 1000:.1f}" for m in st["metrics"]]
    md = report("report", "models", "--limit", "1000")
    assert admin.column("models", "model")[:25] == [m["model"] for m in md["models"]][:25]
    dv = report("report", "devices", "--limit", "20")
    assert admin.column("devices", "device_id") == [d["device_id"] for d in dv["devices"]]

    ap = report("report", "apps", "--limit", "1000")
    admin.go("/apps")
    assert admin.tile("App reliability score") == score_text(ap["app_reliability_score"])
    assert admin.column("apps", "app")[:25] == [a["app"] for a in ap["apps"]][:25]
    assert admin.column("apps", "crashes")[:25] == [f"{a['crashes']:,}" for a in ap["apps"]][:25]
    for tab in ("version", "model", "os_build"):
        admin.go(f"/apps?tab={tab}")
        assert admin.column(f"apps-{tab}", tab), tab

    rs = report("report", "restarts")
    admin.go("/restarts")
    assert admin.column("categories", "category") == [c["category"] for c in rs["categories"]]
    assert admin.column("categories", "restarts") == [f"{c['restarts']:,}" for c in rs["categories"]]

    rg = report("regressions")
    admin.go("/regressions")
    assert rg["open"] == 2
    assert admin.column("regressions", "where") == [
        f"{r['scope_type']}:{r['scope']}" for r in rg["regressions"]
    ]
    assert admin.column("regressions", "change") == [f"{r['change_pct']:.1f}%" for r in rg["regressions"]]
    assert admin.column("regressions", "cause") == [
        r["likely_cause"]["change_name"] for r in rg["regressions"]
    ]
    admin.go("/")
    assert admin.tile("Open regressions") == "2"
    assert admin.tile("Startup score") == score_text(st["scores"]["startup_score"])


def test_a_filter_change_changes_the_figures(admin: Session) -> None:
    whole = report("report", "startup")
    models = report("report", "models", "--limit", "1000")["models"]
    model = max(models, key=lambda m: m["devices"])["model"]
    only = report("report", "startup", "--model", model)
    assert only["devices"] < whole["devices"]
    admin.go("/startup")
    assert admin.tile("Startup score") == score_text(whole["scores"]["startup_score"])
    admin.page.select_option("select[name='model']", model)
    admin.page.click("form.filters button[type='submit']")
    admin.page.wait_for_load_state("load")
    assert f"model={quote(model, safe='')}" in admin.page.url.replace("+", "%20")
    assert admin.column("devices", "model") == [model] * len(admin.column("devices", "model"))
    assert admin.tile("Startup score") == score_text(only["scores"]["startup_score"])
    assert admin.page.locator(".tile-n").first.inner_text().startswith(f"{only['devices']} devices")

    group = report("report", "startup", "--group", "disk:hdd")
    admin.go("/startup?group=disk%3Ahdd")
    assert admin.page.locator(".tile-n").first.inner_text().startswith(f"{group['devices']} devices")
    assert group["devices"] < whole["devices"]


def test_the_device_page_reached_from_the_device_table(admin: Session) -> None:
    admin.go("/startup")
    link = admin.page.locator("table[data-table='devices'] td[data-col='device_id'] a").first
    device_id = link.inner_text().strip()
    link.click()
    admin.page.wait_for_load_state("load")
    assert admin.page.url.startswith(f"{admin.base}/device/{quote(device_id, safe='')}")
    doc = report("report", "device", device_id)
    assert doc["found"]
    assert admin.page.locator("h1").inner_text() == f"Device {device_id}"
    assert admin.tile("boots") == str(doc["counts"]["boot"])
    assert admin.tile("sign-ins") == str(doc["counts"]["signin"])
    assert admin.tile("restarts") == str(doc["counts"]["restart"])
    times = admin.column("timeline", "time")
    assert times == [r["time"] for r in doc["timeline"][:30]]
    kinds = set(admin.column("timeline", "kind"))
    assert {"boot", "signin"} <= kinds
    assert admin.column("census", "field")[0] == "census_time"
    for width in WIDTHS:
        admin.page.set_viewport_size({"width": width, "height": 900})
        admin.go(f"/device/{quote(device_id, safe='')}")
        admin.page.screenshot(path=str(screenshot_path("device", width)), full_page=True)


def test_tables_sort_page_and_download(admin: Session, stack: ConsoleStack) -> None:
    admin.go("/startup")
    admin.page.click("table[data-table='devices'] th a:text-is('boots')")
    admin.page.wait_for_load_state("load")
    boots = [int(b.replace(",", "")) for b in admin.column("devices", "boots")]
    assert boots == sorted(boots, reverse=True)
    admin.page.click("nav.pager a[rel='next']")
    admin.page.wait_for_load_state("load")
    assert "page.devices=2" in admin.page.url
    with admin.page.expect_download() as download:
        admin.page.click("#t-devices a.csv")
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()  # noqa: SIM115
    total = report("report", "devices", "--limit", "100000")["total_devices"]
    assert lines[0].startswith("device_id,model,os_build,boots")
    assert len(lines) == total + 1


def test_a_reader_sees_no_admin_action_and_is_refused_one(browser: Any, stack: ConsoleStack) -> None:
    s = Session(browser, stack.url, 1280)
    s.go("/baselines")
    assert s.page.url.startswith(f"{stack.url}/signin"), "no session: the sign-in page"
    s.page.fill("input[name='token']", READER_TOKEN)
    s.page.click("form button[type='submit']")
    s.page.wait_for_load_state("load")
    assert s.page.url == f"{stack.url}/baselines", s.page.locator("main").inner_text()
    assert s.page.locator("form[action='/baselines/create']").count() == 0
    assert s.page.locator("form[action='/baselines/delete']").count() == 0
    assert "rex · reader" in s.page.locator(".who").inner_text()
    csrf = s.page.locator("input[name='csrf']").first.get_attribute("value")
    forced = s.page.request.post(
        f"{stack.url}/baselines/create",
        form={"csrf": csrf or "", "name": "forced", "since": "2026-01-01", "until": "2026-01-02"},
        headers={"Origin": stack.url},
    )
    assert forced.status == 403
    assert s.errors == [], s.errors
    s.close()


def test_admin_actions_need_the_csrf_token_and_reach_the_cli(admin: Session, stack: ConsoleStack) -> None:
    admin.go("/baselines")
    assert admin.page.locator("form[action='/baselines/create']").count() == 1
    no_csrf = admin.page.request.post(
        f"{stack.url}/baselines/create", form={"name": "x", "since": "2026-01-01", "until": "2026-01-02"}
    )
    assert no_csrf.status == 403
    csrf = admin.page.locator("input[name='csrf']").first.get_attribute("value") or ""
    foreign = admin.page.request.post(
        f"{stack.url}/baselines/create",
        form={"csrf": csrf, "name": "x", "since": "2026-01-01", "until": "2026-01-02"},
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status == 403
    admin.page.fill("form[action='/baselines/create'] input[name='name']", "t17")
    admin.page.click("form[action='/baselines/create'] button")
    admin.page.wait_for_load_state("load")
    flash = admin.page.locator(".note-flash").inner_text()
    assert re.match(r"^baseline (t17: created|create t17 failed: .+)$", flash), flash


def test_no_credential_no_page_and_no_cors(stack: ConsoleStack) -> None:
    for path in ("/csv/startup/devices.csv", "/startup"):
        request = urllib.request.Request(stack.url + path)
        opener = urllib.request.build_opener(_NoRedirect())
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(request, timeout=30)
        assert err.value.code in (401, 303)
        assert "Access-Control-Allow-Origin" not in err.value.headers
    bad = urllib.request.Request(stack.url + "/startup", headers={"Authorization": "Bearer demo-key-contoso"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad, timeout=30)
    assert err.value.code == 401, "an ingest API key is not a token"
    ok = urllib.request.Request(
        stack.url + "/csv/restarts/categories.csv", headers={"Authorization": f"Bearer {READER_TOKEN}"}
    )
    with urllib.request.urlopen(ok, timeout=60) as resp:
        body = resp.read().decode()
        assert resp.headers["Content-Type"].startswith("text/csv")
        assert "Access-Control-Allow-Origin" not in resp.headers
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    rs = report("report", "restarts")
    assert body.splitlines()[1].split(",")[:2] == [
        rs["categories"][0]["category"],
        str(rs["categories"][0]["restarts"]),
    ]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
