"""Terminal rendering of the Endpoint analytics reports (insights, startup processes, resource,
battery, work from anywhere, anomalies); the shared helpers are fleetpulse/reports/text.py's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetpulse.reports.text import _header, _table, num, score, secs

Row = dict[str, Any]
LABELS = {
    "overall": "Overall",
    "startup": "Startup",
    "app_reliability": "App reliability",
    "work_from_anywhere": "Work from anywhere",
    "resource": "Resource",
    "battery": "Battery",
}


def points(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f}"


def pct(v: float | None) -> str:
    """A value already in percent."""
    return "-" if v is None else f"{v:.1f}%"


def hours(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 3_600_000:.1f}"


def insights_text(doc: Row) -> str:
    tiles = "   ".join(f"{LABELS[k]} {score(v)}" for k, v in doc["scores"].items())
    weights = ", ".join(f"{LABELS[k]} {w:g}" for k, w in doc["weights"].items())
    rows = [{**i, "n": n} for n, i in enumerate(doc["insights"], 1)]
    table = _table(
        rows,
        [
            ("n", "#", str),
            ("overall_points", "overall", points),
            ("points", "points", points),
            ("score", "score", str),
            ("devices", "devices", str),
            ("title", "insight", str),
        ],
    )
    parts = [
        _header(doc, "Endpoint analytics"),
        f"Endpoint analytics score {score(doc['overall_score'])}   ({tiles})",
        f"weights: {weights} (renormalised over the scores that have a value)",
        "",
        f"Insights and recommendations ({doc['insights_total']}; points = the score with the cause removed)",
        table,
    ]
    recs = [f"  {r['n']}. {r['recommendation']}" for r in rows]
    if recs:
        parts += ["", "Recommendations", *recs]
    if doc["history"]:
        parts += [
            "",
            f"Daily scores ({len(doc['history'])} days recorded, last 14 shown)",
            _table(doc["history"][-14:], [("day", "day", str), *((k, LABELS[k], score) for k in LABELS)]),
        ]
    return "\n".join(parts)


def startup_processes_text(doc: Row) -> str:
    head = (
        f"{doc['processes_listed']} processes on >= {doc['min_devices']} devices "
        f"({doc['processes_below_min_devices']} on fewer not listed); delay = responsive desktop x CPU share"
    )
    table = _table(
        doc["processes"],
        [
            ("name", "process", str),
            ("publisher", "publisher", str),
            ("version", "version", str),
            ("devices", "devices", str),
            ("signins", "sign-ins", str),
            ("median_delay_ms", "median delay s", secs),
            ("total_delay_ms", "total delay h", hours),
            ("mean_cpu_percent", "CPU %", lambda v: num(v, 1)),
        ],
    )
    pubs = _table(
        doc["publishers"],
        [
            ("publisher", "publisher", str),
            ("processes", "processes", str),
            ("devices", "devices", str),
            ("total_delay_ms", "total delay h", hours),
        ],
    )
    return "\n".join([_header(doc, "Startup processes"), head, "", table, "", "By publisher", pubs])


def resource_text(doc: Row) -> str:
    head = (
        f"Resource performance score {score(doc['score'])}   CPU {score(doc['cpu_score'])} "
        f"({pct(doc['cpu_spike_pct'])} spike time)   RAM {score(doc['ram_score'])} "
        f"({pct(doc['ram_spike_pct'])} spike time)   "
        f"{doc['scored_devices']} of {doc['devices']} devices scored"
    )
    models = _table(
        doc["models"],
        [
            ("model", "model", str),
            ("devices", "devices", str),
            ("score", "score", score),
            ("cpu_spike_pct", "CPU spike", pct),
            ("ram_spike_pct", "RAM spike", pct),
            ("starved", "starved", lambda v: "yes" if v else ""),
        ],
    )
    worst = _table(
        doc["devices_worst"],
        [
            ("device_id", "device", str),
            ("model", "model", str),
            ("score", "score", score),
            ("cpu_spike_pct", "CPU spike", pct),
            ("ram_spike_pct", "RAM spike", pct),
            ("ram_mb", "RAM MB", str),
        ],
    )
    return "\n".join(
        [_header(doc, "Resource performance"), head, "", models, "", "Lowest scoring devices", worst]
    )


def battery_text(doc: Row) -> str:
    head = (
        f"Battery health score {score(doc['score'])}   capacity {score(doc['capacity_score'])} "
        f"(mean {pct(doc['mean_capacity_pct'])})   runtime {score(doc['runtime_score'])} "
        f"(mean {num(doc['mean_runtime_hours'], 1)} h)   mean cycles {num(doc['mean_cycle_count'], 0)}   "
        f"{doc['devices']} devices, {doc['most_impacted']} below {doc['replace_below_pct']:g} %, "
        f"{doc['moderately_impacted']} below {doc['impacted_below_pct']:g} %"
    )
    cols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("name", "model / OS build", str),
        ("devices", "devices", str),
        ("score", "score", score),
        ("mean_capacity_pct", "capacity", pct),
        ("mean_runtime_hours", "runtime h", lambda v: num(v, 1)),
        ("mean_cycle_count", "cycles", lambda v: num(v, 0)),
        ("most_impacted", "most impacted", str),
    ]
    apps = _table(
        doc["apps"],
        [
            ("app", "app", str),
            ("share_pct", "share of drain", pct),
            ("energy_mwh", "Wh", lambda v: num(v / 1000, 1)),
            ("devices", "devices", str),
        ],
    )
    return "\n".join(
        [
            _header(doc, "Battery health"),
            head,
            "",
            "Models (worst first)",
            _table(doc["models"], cols),
            "",
            "OS builds (worst first)",
            _table(doc["os_builds"], cols),
            "",
            "Apps draining the battery most",
            apps,
        ]
    )


def wfa_text(doc: Row) -> str:
    metrics = _table(
        doc["metrics"],
        [
            ("metric", "metric", str),
            ("weight", "weight", lambda v: f"{v:g}"),
            ("pct", "devices meeting", pct),
            ("met", "met", str),
            ("not_met", "not met", str),
            ("unknown", "not reported", str),
        ],
    )
    w11 = doc["windows11"]
    w11_line = (
        f"Windows 11: {w11['upgraded']} upgraded, {w11['capable']} capable, "
        f"{w11['not capable']} not capable, {w11['unknown']} unknown; blockers: "
        + (", ".join(f"{b} {n}" for b, n in w11["blockers"].items()) or "none")
    )
    devices = _table(
        [{**d, "why": ", ".join(d["missing"])} for d in doc["devices_not_ready"]],  # reasons: --json
        [
            ("device_id", "device", str),
            ("model", "model", str),
            ("score", "score", score),
            ("why", "missing", str),
        ],
    )
    return "\n".join(
        [
            _header(doc, "Work from anywhere"),
            f"Work from anywhere score {score(doc['score'])}   {doc['devices']} devices",
            "",
            metrics,
            w11_line,
            "",
            f"Devices not ready ({doc['devices_not_ready_total']})",
            devices,
        ]
    )


def _group_text(g: Row) -> str:
    feats = " + ".join(f"{f['type']} {f['value']}" for f in g["features"])
    share = f"{g['prevalence'] * 100:.0f} %, {g['level']}"
    return f"{feats}: {g['anomalous']}/{g['devices']} anomalous ({share}), {g['at_risk']} at risk"


def anomalies_text(doc: Row) -> str:
    sev = doc["by_severity"]
    head = (
        f"{doc['anomalies_total']} anomalies (high {sev['high']}, medium {sev['medium']}, low {sev['low']}) "
        f"on {doc['devices']} devices; thresholds per device: "
        + ", ".join(f"{k} >= {v}" for k, v in doc["thresholds"].items())
    )
    table = _table(
        doc["anomalies"],
        [
            ("severity", "severity", str),
            ("kind", "kind", str),
            ("asset", "asset", str),
            ("anomalous", "anomalous", str),
            ("exposed", "exposed", str),
            ("share", "share", lambda v: f"{v * 100:.1f}%"),
            ("events", "events", str),
            ("first_seen", "first", lambda v: str(v)[:10]),
            ("last_seen", "last", lambda v: str(v)[:10]),
        ],
    )
    groups = [
        f"  {a['kind']} {a['asset']}: {_group_text(g)}" for a in doc["anomalies"] for g in a["groups"][:3]
    ]
    return "\n".join([_header(doc, "Anomalies"), head, "", table, "", "Device correlation groups", *groups])


EA_RENDERERS: dict[str, Callable[[Row], str]] = {
    "insights": insights_text,
    "startup-processes": startup_processes_text,
    "resource": resource_text,
    "battery": battery_text,
    "wfa": wfa_text,
    "anomalies": anomalies_text,
}
