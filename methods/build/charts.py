"""Charts of the regional pages, drawn with matplotlib and written as SVG.

Text stays text in the SVG (``svg.fonttype: none``), so it is searchable and scales with the page,
and the files are deterministic (no date, fixed ids), so an unchanged chart is not rewritten.
"""
from __future__ import annotations

import io
import textwrap

import matplotlib
import matplotlib.ticker

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

from ..model.chapter.figures import INWARD, MIN_FONT, OUTWARD, PALETTE, WIDTH, laid_out  # noqa: E402

# the chapters' style (methods/model/chapter/figures.py): text at least MIN_FONT points at the
# figure's natural width, about the width of the text column
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "iff-handbook", "font.size": 11, "axes.titlesize": 12,
         "xtick.labelsize": MIN_FONT, "ytick.labelsize": MIN_FONT, "legend.fontsize": MIN_FONT, "axes.spines.top": False,
         "axes.spines.right": False, "font.family": ["DejaVu Sans", "sans-serif"], "text.parse_math": False}


def svg(fig) -> str:
    """A figure as SVG text (and the figure closed), laid out once (drawn once, not twice)."""
    buffer = io.StringIO()
    laid_out(fig).savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def grouped_bars(categories: list[str], series: dict[str, list[float]], title: str, ylabel: str,
                 roles: dict[str, str] | None = None, tr=None) -> str:
    """Bars grouped by category, one bar per series, a y axis with its unit and a legend outside the
    plot. ``roles``: the series that are inward or outward flows (drawn in those flows' colours)."""
    names = list(series)
    role_colors = {"inward": INWARD, "outward": OUTWARD}
    colors = {n: role_colors.get((roles or {}).get(n, n), PALETTE[i % len(PALETTE)]) for i, n in enumerate(names)}
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 4.4), layout="constrained")
        step = 0.8 / max(len(names), 1)
        for j, name in enumerate(names):
            xs = [i - 0.4 + step * (j + 0.5) for i in range(len(categories))]
            # a value not estimated (NaN) draws no bar: never a bar of zero
            ax.bar(xs, series[name], width=step * 0.92, color=colors[name], label=name)
        ax.set_xticks(range(len(categories)), categories, rotation=30 if len(categories) > 5 else 0,
                      ha="right" if len(categories) > 5 else "center", rotation_mode="anchor")
        # numbers in the edition's style (``tr``: its translator; English by default)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _pos: tr.number(v, 0) if tr is not None else f"{v:,.0f}"))
        ax.set_ylabel(ylabel)
        ax.yaxis.grid(True, color="#e0e0e0")
        ax.set_axisbelow(True)
        ax.set_title("\n".join(textwrap.wrap(title, 78)) or title, loc="left")  # long titles wrap, never run off
        fig.legend(loc="outside lower center", frameon=False, ncol=min(len(names), 4))  # below: never over the bars
        return svg(fig)
