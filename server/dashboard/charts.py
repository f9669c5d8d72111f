"""A small inline SVG trend chart: one indicator's rate per period, the target as a line.

Drawn on the server so it needs no JavaScript and prints as it shows. Every text in it
is escaped; the numbers are formatted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 260, 96
LEFT, RIGHT, TOP, BOTTOM = 30, 8, 8, 18


@dataclass(frozen=True)
class Point:
    label: str  # the period, e.g. 2026-Q3
    rate: float | None  # 0..1, None without data
    numerator: int
    denominator: int
    met: bool | None


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def trend_svg(points: Sequence[Point], *, target: float | None, title: str) -> SafeString:
    """The chart as SVG markup; a gap in the line where a period has no data.

    >>> svg = trend_svg([Point("2026-Q1", 0.5, 1, 2, False)], target=0.95, title="BCG")
    >>> svg.startswith("<svg") and "50.0%" in svg
    True
    """
    n = max(len(points), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n)

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - max(0.0, min(1.0, rate)))

    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0.0, 0.5, 1.0):
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="axis" x="{LEFT - 3}" y="{ty + 3:.1f}" text-anchor="end">'
            f"{int(tick * 100)}%</text>"
        )
    if target is not None:
        ty = y(target)
        parts.append(
            f'<line class="target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}">'
            f"<title>{_pct(target)}</title></line>"
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, p in enumerate(points):
        if p.rate is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(p.rate):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        parts.append(f'<polyline class="line" points="{" ".join(seg)}"/>')
    for i, p in enumerate(points):
        label = escape(p.label)
        if p.rate is None:
            parts.append(
                f'<circle class="point nodata" cx="{x(i):.1f}" cy="{y(0):.1f}" r="2.5">'
                f"<title>{label}: –</title></circle>"
            )
            continue
        state = "below" if p.met is False else "ok"
        parts.append(
            f'<circle class="point {state}" cx="{x(i):.1f}" cy="{y(p.rate):.1f}" r="3.5">'
            f"<title>{label}: {_pct(p.rate)} ({p.numerator}/{p.denominator})</title></circle>"
        )
    if points:
        for i in (0, len(points) - 1):
            anchor = "start" if i == 0 and len(points) > 1 else "end"
            tx = x(i) - 6 if anchor == "start" else x(i) + 6
            parts.append(
                f'<text class="axis" x="{tx:.1f}" y="{HEIGHT - 4}" text-anchor="{anchor}">'
                f"{escape(points[i].label)}</text>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
