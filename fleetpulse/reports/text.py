"""Terminal rendering of the report documents (times in seconds, scores 0-100)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Row = dict[str, Any]


def secs(ms: float | None) -> str:
    """Milliseconds as seconds with one decimal (``-`` when missing)."""
    return "-" if ms is None else f"{ms / 1000:.1f}"


def score(value: float | None) -> str:
    return "insufficient data" if value is None else f"{value:.0f}"


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _header(doc: Row, title: str) -> str:
    f = doc["filters"]
    extra = ", ".join(f"{k}={f[k]}" for k in ("tenant", "model", "os_build", "app", "group") if f.get(k))
    return f"{title}  [{f['since']} .. {f['until']})" + (f"  {extra}" if extra else "")


def value(v: float | None) -> str:
    """A metric value of any scale: thousands separated from 100 up, 3 significant digits below."""
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _table(rows: Sequence[Row], cols: Sequence[tuple[str, str, Callable[[Any], str]]]) -> str:
    """Aligned columns; a column is right-aligned when its values are numbers (or missing)."""
    if not rows:
        return "(no rows)"
    heads = [h for _, h, _ in cols]
    cells = [[fmt(r.get(k)) for k, _, fmt in cols] for r in rows]
    numeric = [all(isinstance(r.get(k), int | float) or r.get(k) is None for r in rows) for k, _, _ in cols]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(heads), "  ".join("-" * w for w in widths), *(line(c) for c in cells)])


def startup_text(doc: Row) -> str:
    s = doc["scores"]
    tiles = (
        f"Startup score {score(s['startup_score'])}   Boot score {score(s['boot_score'])} "
        f"({s['boot_devices']} devices)   Sign-in score {score(s['signin_score'])} "
        f"({s['signin_devices']} devices)"
    )
    counts = (
        f"{doc['devices']} devices, {doc['boots']} full boots ({doc['boots_fast_startup']} Fast Startup "
        f"excluded), {doc['signins']} sign-ins ({doc['signins_excluded']} first / after-feature-update "
        "sign-ins excluded)"
    )
    table = _table(
        doc["metrics"],
        [
            ("label", "phase", str),
            ("p50", "median s", secs),
            ("p90", "p90 s", secs),
            ("count", "events", str),
            ("devices", "devices", str),
        ],
    )
    return "\n".join([_header(doc, "Startup performance"), tiles, counts, "", table])


def models_text(doc: Row) -> str:
    table = _table(
        doc["models"],
        [
            ("model", "model", str),
            ("devices", "devices", str),
            ("startup_score", "startup", score),
            ("boot_score", "boot", score),
            ("signin_score", "sign-in", score),
            ("core_boot_ms_p50", "core boot p50", secs),
            ("core_boot_ms_p90", "core boot p90", secs),
            ("core_logon_ms_p50", "core sign-in p50", secs),
            ("core_logon_ms_p90", "core sign-in p90", secs),
        ],
    )
    return "\n".join([_header(doc, "Model performance (worst first)"), table])


def devices_text(doc: Row) -> str:
    table = _table(
        doc["devices"],
        [
            ("device_id", "device", str),
            ("model", "model", str),
            ("os_build", "OS build", str),
            ("boots", "boots", str),
            ("core_boot_ms", "core boot s", secs),
            ("gp_boot_ms", "GP boot s", secs),
            ("total_boot_ms", "total boot s", secs),
            ("signins", "sign-ins", str),
            ("core_logon_ms", "core sign-in s", secs),
            ("total_logon_ms", "responsive s", secs),
            ("boot_score", "boot score", score),
        ],
    )
    title = f"Slowest devices (median per device; {doc['total_devices']} devices in range)"
    return "\n".join([_header(doc, title), table])


def restarts_text(doc: Row) -> str:
    summary = (
        f"{doc['restarts']} restarts on {doc['active_devices']} active devices "
        f"({num(doc['restarts_per_device'])} per device), abnormal {pct(doc['abnormal_share'])}; "
        f"{doc['stop_errors']} Stop errors on {doc['stop_error_devices']} devices "
        f"({num(doc['stop_errors_per_device'], 3)} per device)"
    )
    cats = _table(
        doc["categories"],
        [
            ("category", "category", str),
            ("restarts", "restarts", str),
            ("share", "share", pct),
            ("devices", "devices", str),
            ("per_device", "per device", lambda v: num(v, 3)),
        ],
    )
    parts = [_header(doc, "Restart frequency"), summary, "", cats]
    if doc["top_bug_checks"]:
        parts += [
            "",
            "Top Stop error codes",
            _table(
                doc["top_bug_checks"],
                [
                    ("bug_check_code", "bug check", str),
                    ("stop_errors", "Stop errors", str),
                    ("devices", "devices", str),
                ],
            ),
        ]
    return "\n".join(parts)


def apps_text(doc: Row) -> str:
    head = (
        f"App reliability score {score(doc['app_reliability_score'])}   "
        f"{doc['apps_total']} apps, {doc['enrolled_devices']} enrolled devices"
    )
    table = _table(
        doc["apps"],
        [
            ("app", "app", str),
            ("crashes", "crashes", str),
            ("hangs", "hangs", str),
            ("active_devices", "active devices", str),
            ("usage_hours", "usage h", lambda v: num(v, 1)),
            ("mttf_hours", "MTTF h", lambda v: num(v, 1)),
            ("score", "score", score),
        ],
    )
    return "\n".join([_header(doc, "Application reliability (top crashing apps)"), head, "", table])


def cause_text(cause: Row | None) -> str:
    if not cause:
        return "-"
    return (
        f"{cause['change_name']} ({pct(cause['prevalence_affected'], 0)} of affected vs "
        f"{pct(cause['prevalence_unaffected'], 0)})"
    )


def regressions_text(doc: Row) -> str:
    rows = [
        {
            **r,
            "where": f"{r['scope_type']}:{r['scope']}" if r["scope"] else r["scope_type"],
            "change": r["change_pct"] / 100.0,
            "cause": r["likely_cause"],
            "started": r["started_at"][:10],
        }
        for r in doc["regressions"]
    ]
    table = _table(
        rows,
        [
            ("where", "scope", str),
            ("metric", "metric", str),
            ("baseline_value", "baseline", value),
            ("current_value", "current", value),
            ("change", "change", pct),
            ("p_value", "p", lambda v: f"{v:.2g}"),
            ("started", "started", str),
            ("status", "status", str),
            ("cause", "likely cause", cause_text),
        ],
    )
    return "\n".join([_header(doc, f"Regressions ({doc['open']} open)"), table])


def device_text(doc: Row) -> str:
    if not doc["found"]:
        return "\n".join([_header(doc, f"Device {doc['device_id']}"), "no census and no event in range"])
    c = doc["census"] or {}
    ident = (
        f"{doc['model'] or c.get('oem_manufacturer_name', '-') + '/' + c.get('oem_model_number', '-')}  "
        f"OS {doc['os_build'] or c.get('os_build', '-')}"
    )
    hw = (
        f"{c.get('processor_model', '-')}, {c.get('total_physical_ram_mb', '-')} MB RAM, "
        f"{c.get('primary_disk_media_type', '-')} disk, {c.get('os_edition', '-')}, "
        f"{c.get('group_chassis', '-')}, census {c.get('census_time', '-')}"
        if c
        else "no census in range"
    )
    d, f = doc["scores"]["device"], doc["scores"]["fleet"]
    tiles = (
        f"Startup score {score(d['startup_score'])} (fleet {score(f['startup_score'])})   "
        f"Boot {score(d['boot_score'])} (fleet {score(f['boot_score'])})   "
        f"Sign-in {score(d['signin_score'])} (fleet {score(f['signin_score'])})"
    )
    counts = ", ".join(f"{n} {k}" for k, n in doc["counts"].items())
    metrics = _table(
        doc["metrics"],
        [
            ("label", "phase", str),
            ("device_median", "device median s", secs),
            ("fleet_p50", "fleet p50 s", secs),
        ],
    )
    timeline = _table(
        doc["timeline"][:50],
        [("time", "time", str), ("kind", "kind", str), ("title", "what", str), ("ms", "ms", value),
         ("detail", "detail", str)],
    )  # fmt: skip
    return "\n".join(
        [_header(doc, f"Device {doc['device_id']}"), ident, hw, tiles, counts, "", metrics, "",
         "Timeline (newest first, up to 50)", timeline]
    )  # fmt: skip


RENDERERS: dict[str, Callable[[Row], str]] = {
    "startup": startup_text,
    "models": models_text,
    "devices": devices_text,
    "restarts": restarts_text,
    "apps": apps_text,
    "regressions": regressions_text,
    "device": device_text,
}
