"""The figures as a table on stdout and as one JSON document; goals from docs/benchmark.md."""

from __future__ import annotations

from typing import Any

# key -> (label, unit, goal, True when higher is better)
GOALS: dict[str, tuple[str, str, float, bool]] = {
    "end_to_end_events_per_s": ("end-to-end sustained (POST -> queryable)", "events/s", 50_000, True),
    "p50_event_to_queryable_s": ("event-to-queryable p50 at half max", "s", 2.0, False),
    "p99_event_to_queryable_s": ("event-to-queryable p99 at half max", "s", 2.0, False),
    "bytes_per_event": ("bytes/event on disk, boot + crash tables", "B", 12.0, False),
    "rss_mb_per_million_devices": ("processor RSS per 10^6 devices", "MB", 100.0, False),
    "percentile_max_rel_error": ("p50/p90/p99 max relative error", "ratio", 0.01, False),
    "ratio_to_quixstreams": ("fleetpulse processor / Quix Streams", "x", 3.0, True),
    "ratio_to_faust_naive": ("fleetpulse processor / naive faust", "x", 10.0, True),
}


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4f}"


def render(doc: dict[str, Any]) -> str:
    """Aligned text: headline figures against goals, then stages, storage and peers."""
    lines = [f"{'figure':<46} {'value':>12} {'unit':<9} {'goal':>9}  met"]
    for key, (label, unit, goal, higher) in GOALS.items():
        value = float(doc.get(key, float("nan")))
        met = value >= goal if higher else value <= goal
        lines.append(f"{label:<46} {_fmt(value):>12} {unit:<9} {_fmt(goal):>9}  {'yes' if met else 'NO'}")
    lines.append("")
    for key, value in doc["stages"].items():
        lines.append(f"{key:<46} {_fmt(float(value)):>12}")
    lines.append("")
    lines.append(
        f"{'raw table':<22} {'rows':>9} {'B/event':>8} {'disk B/ev':>9} {'JSON B':>7} {'JSON/CH':>8}"
    )
    for table, s in doc["storage"].items():
        lines.append(
            f"{table:<22} {s['rows']:>9,.0f} {s['bytes_per_event']:>8.1f} {s['disk_bytes_per_event']:>9.1f} "
            f"{s['json_bytes_per_event']:>7.0f} {s['json_ratio']:>7.1f}x"
        )
    lines.append("")
    ours = float(doc["peers"].get("fleetpulse_worker") or doc["peers"].get("fleetpulse", 0.0))
    lines.append(f"{'peer (same events, same aggregation)':<40} {'events/s':>12} {'fleetpulse / peer':>18}")
    for name, rate in doc["peers"].items():
        ratio = ours / rate if rate else float("nan")
        lines.append(f"{name:<40} {_fmt(float(rate)):>12} {_fmt(ratio):>17}x")
    return "\n".join(lines)
