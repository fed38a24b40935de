"""Shadow: the latency/cost scatter as one inline SVG (for ``/ui`` and ``compare --html``).

Pure string building: every value through ``html.escape``, no script, no external reference.
x is the mean cost per call (USD), y the p50 latency (ms); both axes have "nice" ticks and
grid lines, each point its own colour, and a legend below names them (labels on the points
themselves overlapped as soon as two models cost about the same).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Colour-blind-friendly palette (Okabe-Ito), repeated past eight series.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000")
LEFT, RIGHT, TOP, BOTTOM = 72, 40, 16, 48
LEGEND_ROW = 18


@dataclass(frozen=True, slots=True)
class ChartPoint:
    key: str  # links the point to its table row (data-pair)
    label: str
    cost_usd: float
    latency_ms: float


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and evenly spaced round values (1, 2, 2.5 or 5 x 10^n) up to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def tick_label(value: float, step: float) -> str:
    """Enough decimals to tell neighbouring ticks apart, no more (step 0.025 -> 3)."""
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(step))
    extra = 1 if round(step / 10**exponent, 6) == 2.5 else 0
    return f"{value:.{max(0, -exponent + extra)}f}"


def _axes(xt: list[float], yt: list[float], width: int, plot_h: int) -> list[str]:
    plot_w = width - LEFT - RIGHT
    parts: list[str] = []
    for i, value in enumerate(xt):
        x = LEFT + i / (len(xt) - 1) * plot_w
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" '
            f'stroke="#e4e8ec"/><text class="xtick" x="{x:.1f}" y="{TOP + plot_h + 16}" '
            f'font-size="11" text-anchor="middle">{_e(tick_label(value, xt[1] - xt[0]))}</text>'
        )
    for i, value in enumerate(yt):
        y = TOP + plot_h - i / (len(yt) - 1) * plot_h
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT}" y2="{y:.1f}" '
            f'stroke="#e4e8ec"/><text class="ytick" x="{LEFT - 6}" y="{y + 4:.1f}" '
            f'font-size="11" text-anchor="end">{_e(tick_label(value, yt[1] - yt[0]))}</text>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="#888"/><text x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h + 36}" '
        'font-size="12" text-anchor="middle">mean cost per call (USD)</text>'
        f'<text x="16" y="{TOP + plot_h / 2:.0f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2:.0f})">p50 latency (ms)</text>'
    )
    return parts


def scatter_svg(points: Sequence[ChartPoint], width: int = 640, plot_h: int = 260) -> str:
    """The chart, or an empty string when there is no point."""
    if not points:
        return ""
    xt = nice_ticks(max(p.cost_usd for p in points) * 1.05)
    yt = nice_ticks(max(p.latency_ms for p in points) * 1.05)
    plot_w = width - LEFT - RIGHT
    parts = _axes(xt, yt, width, plot_h)
    legend_top = TOP + plot_h + BOTTOM + 8
    for i, p in enumerate(points):
        colour = PALETTE[i % len(PALETTE)]
        x = LEFT + p.cost_usd / xt[-1] * plot_w
        y = TOP + plot_h - p.latency_ms / yt[-1] * plot_h
        tip = f"{p.label}: ${p.cost_usd:.8f}/call, p50 {p.latency_ms:.0f} ms"
        ly = legend_top + i * LEGEND_ROW
        parts.append(
            f'<circle data-pair="{_e(p.key)}" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}">'
            f"<title>{_e(tip)}</title></circle>"
            f'<g class="legend" data-pair="{_e(p.key)}"><circle cx="{LEFT + 6}" cy="{ly - 4}" '
            f'r="5" fill="{colour}"/><text x="{LEFT + 18}" y="{ly}" font-size="12">'
            f"{_e(p.label)}</text></g>"
        )
    height = legend_top + len(points) * LEGEND_ROW
    return (
        f'<svg id="shadow-chart" role="img" aria-label="p50 latency against mean cost per call" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
