"""Pure parts of the console and the report formats: tables, sessions, redirects, CSV/Parquet, groups."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from fleetpulse.access import Principal, TokenRing, UnauthorizedError
from fleetpulse.console.auth import Sessions, safe_next
from fleetpulse.console.widgets import Col, Table, arrange, device_href, with_params
from fleetpulse.reports import formats, svg, trends
from fleetpulse.reports.params import split_group
from processors import scores


def table(n: int) -> Table:
    rows = [{"d": f"s:{i}", "v": None if i % 4 == 0 else i % 7} for i in range(n)]
    return Table("t", "T", [Col("d", "device", link="device"), Col("v", "v", "int")], rows, page_size=5)


def test_arrange_sorts_with_missing_values_last_and_pages() -> None:
    t = arrange(table(12), {"sort.t": "v", "desc.t": "1", "page.t": "1"})
    assert [r["v"] for r in t.shown] == [6, 5, 4, 3, 3]
    assert (t.page, t.pages, t.sort, t.desc) == (1, 3, "v", True)
    last = arrange(table(12), {"sort.t": "v", "page.t": "3"})
    assert [r["v"] for r in last.shown] == [None, None]  # 3 of 12 rows have no value: after the rest
    assert arrange(table(12), {"page.t": "99"}).page == 3
    assert arrange(table(12), {"sort.t": "nope", "page.t": "x"}).shown[0]["d"] == "s:0"


def test_links_keep_filters_and_drop_the_token() -> None:
    q = {"since": "7d", "model": "Dell Inc./Latitude 7440", "token": "secret", "sort.t": "v"}
    assert "token" not in with_params(q, page__t="2")
    assert "page.t=2" in with_params(q, page__t="2")
    assert device_href("s:AB/1", q) == "/device/s%3AAB%2F1?since=7d"


def test_sessions_open_only_for_tokens_and_expire() -> None:
    ring = TokenRing({"tok-a": Principal("ana", "reader", "contoso")})
    sessions = Sessions(ring, ["contoso"], lifetime_s=3600)
    with pytest.raises(UnauthorizedError):
        sessions.open("demo-key-contoso")
    sid, session = sessions.open("tok-a")
    assert session.tenant == "contoso"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sid)
    assert sessions.get(sid) is session
    sessions.set_flash(sid, "done")
    assert (sessions.pop_flash(sid), sessions.pop_flash(sid)) == ("done", None)
    sessions.close(sid)
    assert sessions.get(sid) is None
    short = Sessions(ring, ["contoso"], lifetime_s=-1)
    sid2, _ = short.open("tok-a")
    assert short.get(sid2) is None


def test_operator_picks_a_tenant_when_several_are_configured() -> None:
    ring = TokenRing({"op": Principal("operator", "admin", None)})
    assert Sessions(ring, ["a"], 60).open("op")[1].tenant == "a"
    assert Sessions(ring, ["a", "b"], 60).open("op")[1].tenant is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/startup?x=1", "/startup?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        (None, "/"),
    ],
)
def test_only_local_paths_follow_a_sign_in(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_flatten_csv_and_parquet() -> None:
    rows: list[dict[str, Any]] = [
        {
            "scope": "model:x",
            "likely_cause": {"change_id": "c1", "lift": 2.5},
            "causes": [1, 2],
            "ok": True,
            "n": None,
        },
        {"scope": "fleet", "likely_cause": None, "causes": [], "ok": False, "n": 3},
    ]
    flat = [formats.flatten(r) for r in rows]
    assert flat[0] == {"scope": "model:x", "likely_cause_change_id": "c1", "likely_cause_lift": 2.5,
                       "causes": "[1, 2]", "ok": True, "n": None}  # fmt: skip
    cols = formats.columns(flat)
    assert cols == [
        "scope",
        "likely_cause_change_id",
        "likely_cause_lift",
        "causes",
        "ok",
        "n",
        "likely_cause",
    ]
    text = formats.to_csv(flat, cols)
    assert text.splitlines() == [
        "scope,likely_cause_change_id,likely_cause_lift,causes,ok,n,likely_cause",
        'model:x,c1,2.5,"[1, 2]",true,,',
        "fleet,,,[],false,3,",
    ]
    table = pq.read_table(io.BytesIO(formats.to_parquet(flat, cols)))
    assert table.column("n").to_pylist() == [None, 3]
    assert table.column("likely_cause_lift").to_pylist() == [2.5, None]
    assert str(table.schema.field("likely_cause").type) == "string"
    mixed = pq.read_table(io.BytesIO(formats.to_parquet([{"x": 1}, {"x": "a"}])))
    assert mixed.column("x").to_pylist() == ["1", "a"]


def test_report_tables_and_groups() -> None:
    doc = {"categories": [{"category": "blueScreen", "restarts": 2}], "top_bug_checks": []}
    assert formats.table_rows(doc, "restarts") == [{"category": "blueScreen", "restarts": 2}]
    assert formats.table_rows(doc, "restarts", "top_bug_checks") == []
    with pytest.raises(ValueError, match="no table"):
        formats.table_rows(doc, "restarts", "nope")
    assert split_group("disk:hdd") == ("disk", "hdd")
    assert split_group("maker:Dell Inc.") == ("maker", "Dell Inc.")
    assert split_group("") == ("", "")
    for bad in ("disk", "colour:red", "disk:"):
        with pytest.raises(ValueError, match="KIND:VALUE"):
            split_group(bad)


def test_daily_scores_follow_the_score_curves() -> None:
    boots = [{"day": "2026-03-01", "device_id": f"d{i}", "core_boot_ms": 10_000.0 + i, "gp_boot_ms": None}
             for i in range(5)]  # fmt: skip
    logons = [{"day": "2026-03-02", "device_id": "d0", "core_logon_ms": 4000.0, "gp_logon_ms": 0.0,
               "total_logon_ms": 9000.0}]  # fmt: skip
    out = trends.shape_score_trend(boots, logons, scores.DEFAULT_SCORES)
    values = {f"d{i}": {"core_boot_ms": 10_000.0 + i} for i in range(5)}
    assert out[0] == {"day": "2026-03-01", "devices": 5, "boot_score": scores.boot_score(values),
                      "signin_score": None, "startup_score": scores.startup_score(values)}  # fmt: skip
    assert out[1]["boot_score"] is None  # one device: insufficient data
    assert out[1]["signin_score"] is None


def test_long_bar_labels_are_slanted_inside_the_picture() -> None:
    names = [f"Manufacturer {i}/Model with a long name {i}" for i in range(10)]
    out = svg.bar_chart(names, [("p50", [float(i) for i in range(10)])], width=640, height=240)
    assert out.count("transform='rotate(-35") == 10
    height = int(re.search(r"height='(\d+)'", out).group(1))  # type: ignore[union-attr]
    assert height > 240  # room below the plot for the slanted labels
    first_x = float(re.search(r"<text x='([\d.]+)' y='[\d.]+' text-anchor='end' transform", out).group(1))  # type: ignore[union-attr]
    assert first_x - svg.MAX_LABEL_PX * svg.SLANT_COS >= 0  # the first label starts inside the picture
    short = svg.bar_chart(["A", "B"], [("p50", [1.0, 2.0])], width=640, height=240)
    assert "rotate" not in short


def test_templates_reference_only_local_assets() -> None:
    for path in Path("fleetpulse/console/templates").glob("*.html"):
        text = path.read_text()
        assert "http://" not in text
        assert "https://" not in text, path
        assert "<script>" not in text, f"{path}: inline scripts are refused by the CSP"


def test_query_cache_serves_stale_answers_while_one_refresh_reads() -> None:
    import threading
    import time

    from fleetpulse.console.views import QueryCache

    calls: list[int] = []
    release = threading.Event()

    def read() -> list[dict[str, Any]]:
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)
        return [{"n": len(calls)}]

    cache = QueryCache(ttl_s=0.05)
    key = ("t", "SELECT 1", b"{}")
    assert cache.get(key, read) == [{"n": 1}]
    assert cache.get(key, read) == [{"n": 1}]  # fresh: no read
    time.sleep(0.06)
    assert cache.get(key, read) == [{"n": 1}]  # stale: served at once, one refresh started
    assert cache.get(key, read) == [{"n": 1}]  # the refresh is under way: not a second one
    release.set()
    deadline = time.monotonic() + 5
    while cache.get(key, read) != [{"n": 2}] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get(key, read) == [{"n": 2}]
    assert len(calls) == 2
    cache.close()
    off = QueryCache(ttl_s=0)
    assert [off.get(key, read), off.get(key, read)] == [[{"n": 3}], [{"n": 4}]]
