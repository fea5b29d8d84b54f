"""A small grouped bar chart written as SVG by hand: the cross-country pages need no plotting library."""
from __future__ import annotations

import html
import math

PALETTE = ["#2166ac", "#d6604d", "#5aae61", "#9970ab", "#f4a582", "#4393c3", "#b2182b", "#92c5de"]


def _nice_step(span: float) -> float:
    raw = span / 5 if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def grouped_bars(categories: list[str], series: dict[str, list[float]], title: str, ylabel: str,
                 colors: dict[str, str] | None = None, width: int = 760, height: int = 360) -> str:
    """Bars grouped by category, one bar per series, with a y axis, gridlines and a legend."""
    esc = html.escape
    left, right, top, bottom = 70, 170, 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vals in series.values() for v in vals if v == v]
    vmax = max(values + [0.0])
    step = _nice_step(vmax)
    ymax = step * math.ceil(vmax / step) if vmax > 0 else 1.0
    y = lambda v: top + plot_h * (1 - v / ymax)  # noqa: E731
    names = list(series)
    colors = colors or {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(names), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'font-family="DejaVu Sans, Arial, sans-serif" font-size="11" role="img" aria-label="{esc(title)}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="13">{esc(title)}</text>']
    tick = 0.0
    while tick <= ymax + 1e-9:
        ty = y(tick)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick:,.0f}</text>')
        tick += step
    out.append(f'<text transform="translate(16,{top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle">{esc(ylabel)}</text>')
    for i, cat in enumerate(categories):
        gx = left + i * group_w + group_w * 0.1
        for j, name in enumerate(names):
            v = series[name][i]
            if not v == v or v <= 0:
                continue
            bx, by = gx + j * bar_w, y(v)
            out.append(f'<rect x="{bx:.1f}" y="{by:.1f}" width="{bar_w * 0.92:.1f}" height="{top + plot_h - by:.1f}" '
                       f'fill="{colors[name]}"><title>{esc(name)}, {esc(cat)}: {v:,.1f}</title></rect>')
        out.append(f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{esc(cat)}</text>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="black"/>')
    for j, name in enumerate(names):
        ly = top + 8 + j * 18
        out.append(f'<rect x="{left + plot_w + 16}" y="{ly - 9}" width="12" height="12" fill="{colors[name]}"/>')
        out.append(f'<text x="{left + plot_w + 34}" y="{ly + 1}">{esc(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
