"""One device: census, scores against the fleet, a timeline of its events, its apps."""

from __future__ import annotations

from fleetpulse.console import charts
from fleetpulse.console.pages import PageContext
from fleetpulse.console.pages.common import score_tile
from fleetpulse.console.widgets import Chart, Col, Note, Section, Table, Tile, Tiles
from fleetpulse.reports import device
from fleetpulse.reports.text import score

KIND_LABELS = {
    "boot": "boots",
    "signin": "sign-ins",
    "restart": "restarts",
    "stop_error": "Stop errors",
    "crash": "app crashes",
    "hang": "app hangs",
    "config": "configuration changes",
}


def build(ctx: PageContext) -> list[Section]:
    doc = device.device_report(ctx.reader, ctx.flt, ctx.arg)
    if not doc["found"]:
        return [Note(f"No census and no event of device {ctx.arg} in this range.", "warn")]
    d, f = doc["scores"]["device"], doc["scores"]["fleet"]
    c = doc["census"] or {}
    tiles = Tiles(
        [
            score_tile("Startup score", d["startup_score"], f"fleet {score(f['startup_score'])}"),
            score_tile("Boot score", d["boot_score"], f"fleet {score(f['boot_score'])}"),
            score_tile("Sign-in score", d["signin_score"], f"fleet {score(f['signin_score'])}"),
            *(Tile(KIND_LABELS[k], str(n)) for k, n in doc["counts"].items()),
        ]
    )
    census = Table(
        "census",
        f"{doc['model'] or c.get('oem_model_number', '')} · OS {doc['os_build'] or c.get('os_build', '-')}",
        [Col("field", "census"), Col("value", "value")],
        [{"field": k, "value": v} for k, v in c.items()]
        or [{"field": "census", "value": "none before until"}],
        page_size=40,
        sortable=False,
    )
    metrics = Table(
        "metrics",
        "This device against the fleet",
        [
            Col("label", "phase"),
            Col("device_median", "device median s", "secs"),
            Col("fleet_p50", "fleet p50 s", "secs"),
        ],
        doc["metrics"],
        sortable=False,
    )
    kinds = [k for k in device.KINDS if doc["counts"][k]]
    points = [(r["time"], r["kind"], f"{r['title']} {r['detail']}".strip()) for r in doc["timeline"]]
    chart = Chart(
        "timeline-chart",
        "Timeline (hover for the event, drag or scroll to zoom)",
        charts.timeline(points, kinds),
        height=max(200, 34 * len(kinds) + 90),
    )
    timeline = Table(
        "timeline",
        "Events, newest first" + (" (the newest 2 000)" if doc["timeline_truncated"] else ""),
        [
            Col("time", "time (UTC)"),
            Col("kind", "kind"),
            Col("title", "what"),
            Col("ms", "ms", "ms"),
            Col("detail", "detail"),
        ],
        doc["timeline"],
        page_size=30,
    )
    apps = Table(
        "device-apps",
        "Apps on this device",
        [
            Col("app", "app"),
            Col("usage_hours", "usage h", "hours"),
            Col("crashes", "crashes", "int"),
            Col("hangs", "hangs", "int"),
        ],
        doc["apps"],
    )
    return [tiles, chart, timeline, metrics, census, apps]
