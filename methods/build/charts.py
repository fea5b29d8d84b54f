"""Charts of the regional pages, drawn with matplotlib and written as SVG.

Text stays text in the SVG (``svg.fonttype: none``), so it is searchable and scales with the page,
and the files are deterministic (no date, fixed ids), so an unchanged chart is not rewritten.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

from ..model.chapter.figures import INWARD, OUTWARD, PALETTE  # noqa: E402

STYLE = {"svg.fonttype": "none", "svg.hashsalt": "iff-handbook", "font.size": 11, "axes.spines.top": False,
         "axes.spines.right": False, "font.family": ["DejaVu Sans", "sans-serif"], "text.parse_math": False}


def svg(fig) -> str:
    """A figure as SVG text (and the figure closed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def grouped_bars(categories: list[str], series: dict[str, list[float]], title: str, ylabel: str,
                 colors: dict[str, str] | None = None) -> str:
    """Bars grouped by category, one bar per series, a y axis with its unit and a legend outside the plot."""
    names = list(series)
    colors = colors or {n: (INWARD if n == "inward" else OUTWARD if n == "outward" else PALETTE[i % len(PALETTE)])
                        for i, n in enumerate(names)}
    with plt.rc_context(STYLE):
        width = max(7.6, 0.75 * len(categories) * max(len(names), 1) * 0.5 + 3.5)
        fig, ax = plt.subplots(figsize=(width, 3.8), layout="constrained")
        step = 0.8 / max(len(names), 1)
        for j, name in enumerate(names):
            xs = [i - 0.4 + step * (j + 0.5) for i in range(len(categories))]
            ax.bar(xs, [v if v == v else 0.0 for v in series[name]], width=step * 0.92, color=colors[name], label=name)
        ax.set_xticks(range(len(categories)), categories, rotation=30 if len(categories) > 6 else 0,
                      ha="right" if len(categories) > 6 else "center")
        ax.set_ylabel(ylabel)
        ax.yaxis.grid(True, color="#e0e0e0")
        ax.set_axisbelow(True)
        ax.set_title(title, loc="left", fontsize=12)
        fig.legend(loc="outside right upper", frameon=False)
        return svg(fig)
