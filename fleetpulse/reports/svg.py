"""Inline SVG charts built as text: grouped bars, horizontal bars and a line, no scripts.

Pure functions of their data (deterministic output, numbers rounded to 0.1 px) so the tests
compare exact markup. Every label is XML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#2f6fdf", "#e8833a", "#3aa17e", "#c0504d", "#8064a2")
FONT = "font-family='system-ui,sans-serif' font-size='11'"


def f(x: float) -> str:
    """A coordinate with at most one decimal (``12``, ``12.5``)."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


CHAR_PX = 6.2  # mean advance of an 11 px system-ui glyph: enough to tell when labels collide
MAX_LABEL_PX = 150.0  # a slanted label longer than this is cut with an ellipsis (full text in <title>)
SLANT_DEG = 35
SLANT_SIN = math.sin(math.radians(SLANT_DEG))
SLANT_COS = math.cos(math.radians(SLANT_DEG))


def label_width(text: str) -> float:
    return len(text) * CHAR_PX


def nice_max(value: float) -> float:
    """The smallest 1/2/2.5/5 x 10^k at or above ``value`` (axis top); 1 for empty data."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * exp + 1e-12:
            return step * exp
    return 10.0 * exp


def _ticks(top: float, fmt: str, x0: float, x1: float, y0: float, h: float) -> list[str]:
    out = []
    for i in range(5):
        v = top * i / 4
        y = y0 + h - h * i / 4
        out.append(f"<line x1='{f(x0)}' y1='{f(y)}' x2='{f(x1)}' y2='{f(y)}' stroke='#ddd'/>")
        out.append(f"<text x='{f(x0 - 4)}' y='{f(y + 4)}' text-anchor='end' {FONT}>{fmt.format(v)}</text>")
    return out


def bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    width: int = 640,
    height: int = 240,
    fmt: str = "{:.0f}",
    title: str = "",
) -> str:
    """Vertical grouped bars: one group per category, one bar per series (``None``: no bar)."""
    left, right, top_pad, bottom = 48.0, 10.0, 24.0, 40.0
    h = height - top_pad - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    top = nice_max(max(values, default=0.0))
    n = max(len(categories), 1)
    group_w = (width - left - right) / n
    # labels wider than their group would run into each other: slant them and make room below
    widest = max((label_width(c) for c in categories), default=0.0)
    slanted = widest > group_w - 4
    if slanted:  # the first slanted label reaches left of its group: widen the margin to keep it
        left = max(left, min(widest, MAX_LABEL_PX) * SLANT_COS - group_w / 2 + 6)
        group_w = (width - left - right) / n
    extra = min(widest, MAX_LABEL_PX) * SLANT_SIN + 8 - (bottom - 14) if slanted else 0.0
    height = int(height + max(extra, 0.0))
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>"
    ]
    parts += _ticks(top, fmt, left, width - right, top_pad, h)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for ci, cat in enumerate(categories):
        gx = left + ci * group_w + group_w * 0.1
        for si, (name, vs) in enumerate(series):
            v = vs[ci]
            if v is None:
                continue
            bh = h * v / top
            parts.append(
                f"<rect x='{f(gx + si * bar_w)}' y='{f(top_pad + h - bh)}' width='{f(bar_w - 1)}' "
                f"height='{f(bh)}' fill='{PALETTE[si % len(PALETTE)]}'><title>{escape(cat)} {escape(name)}: "
                f"{fmt.format(v)}</title></rect>"
            )
        x, y = left + ci * group_w + group_w / 2, top_pad + h + 14
        if slanted:
            shown = cat if label_width(cat) <= MAX_LABEL_PX else cat[: int(MAX_LABEL_PX / CHAR_PX) - 1] + "…"
            parts.append(
                f"<text x='{f(x)}' y='{f(y)}' text-anchor='end' "
                f"transform='rotate(-{SLANT_DEG} {f(x)} {f(y)})' {FONT}>"
                f"<title>{escape(cat)}</title>{escape(shown)}</text>"
            )
        else:
            parts.append(f"<text x='{f(x)}' y='{f(y)}' text-anchor='middle' {FONT}>{escape(cat)}</text>")
    for si, (name, _) in enumerate(series):
        x = left + si * 120
        parts.append(
            f"<rect x='{f(x)}' y='4' width='10' height='10' fill='{PALETTE[si % len(PALETTE)]}'/>"
            f"<text x='{f(x + 14)}' y='13' {FONT}>{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    items: Sequence[tuple[str, float]],
    *,
    width: int = 640,
    row: int = 22,
    fmt: str = "{:.0f}",
    title: str = "",
) -> str:
    """Horizontal bars, one per ``(label, value)``, the value printed after the bar."""
    label_w, pad = 170.0, 50.0
    height = row * max(len(items), 1) + 8
    top = max((v for _, v in items), default=0.0) or 1.0
    span = width - label_w - pad
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>"
    ]
    for i, (label, v) in enumerate(items):
        y = 4 + i * row
        bw = span * v / top
        parts.append(
            f"<text x='{f(label_w - 6)}' y='{f(y + row * 0.65)}' text-anchor='end' {FONT}>"
            f"{escape(label)}</text>"
        )
        parts.append(
            f"<rect x='{f(label_w)}' y='{f(y + 3)}' width='{f(bw)}' height='{f(row - 8)}' "
            f"fill='{PALETTE[0]}'/>"
        )
        parts.append(f"<text x='{f(label_w + bw + 4)}' y='{f(y + row * 0.65)}' {FONT}>{fmt.format(v)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    width: int = 640,
    height: int = 220,
    fmt: str = "{:.0f}",
    title: str = "",
) -> str:
    """A line through ``(label, value)`` points, evenly spaced; first and last labels on the axis."""
    left, right, top_pad, bottom = 48.0, 16.0, 12.0, 28.0
    h = height - top_pad - bottom
    w = width - left - right
    top = nice_max(max((v for _, v in points), default=0.0))
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>"
    ]
    parts += _ticks(top, fmt, left, width - right, top_pad, h)
    n = len(points)
    xy = [
        (left + (w * i / (n - 1) if n > 1 else w / 2), top_pad + h - h * v / top)
        for i, (_, v) in enumerate(points)
    ]
    if xy:
        path = " ".join(f"{f(x)},{f(y)}" for x, y in xy)
        parts.append(f"<polyline points='{path}' fill='none' stroke='{PALETTE[0]}' stroke-width='2'/>")
        for (x, y), (label, v) in zip(xy, points, strict=True):
            parts.append(
                f"<circle cx='{f(x)}' cy='{f(y)}' r='3' fill='{PALETTE[0]}'>"
                f"<title>{escape(label)}: {fmt.format(v)}</title></circle>"
            )
        for i in sorted({0, n - 1}):
            anchor = "start" if i == 0 else "end"
            parts.append(
                f"<text x='{f(xy[i][0])}' y='{f(height - 8)}' text-anchor='{anchor}' {FONT}>"
                f"{escape(points[i][0])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
