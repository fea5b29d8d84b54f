"""Figures of the chapters: value chains, price ladders, IFFs by year, tornado charts, payment maps.

Each function draws on a new matplotlib figure and returns it; the notebook displays it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from ..params import PLACES, STAGE_LABELS  # noqa: E402

INWARD, OUTWARD, DOMESTIC, OTHER = "#1b7837", "#b2182b", "#878787", "#d9d9d9"
PALETTE = ["#2166ac", "#4393c3", "#92c5de", "#f4a582", "#d6604d", "#b2182b", "#5aae61", "#9970ab"]
# text.parse_math off: labels come from parameter files, and no part of them may be read as a formula
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "axes.spines.top": False,
                     "axes.spines.right": False, "text.parse_math": False})


def _money(x: float) -> str:
    a = abs(x)
    if a >= 1e9:
        return f"${x / 1e9:,.2f} bn"
    if a >= 1e6:
        return f"${x / 1e6:,.1f} m"
    if a >= 1e3:
        return f"${x / 1e3:,.0f} k"
    return f"${x:,.0f}"


def _qty(x: float, unit: str) -> str:
    if unit == "t":
        return f"{x:,.0f} t"
    if x >= 1e3:
        return f"{x / 1e3:,.1f} t"
    return f"{x:,.0f} kg"


def chain_diagram(chain_result, year_index: int, year: int, title: str):
    """Boxes per stage with quantities; arrows for flows out of (and into) the chain, with values."""
    names = list(chain_result.balances)
    n = len(names)
    fig, ax = plt.subplots(figsize=(2.9 * n + 2.4, 3.6), layout="constrained")
    ax.set_xlim(-0.4, 3 * n + 0.9)
    ax.set_ylim(-2.2, 2.0)
    ax.axis("off")
    inward_by_stage: dict[str, float] = {}
    outward_by_stage: dict[str, float] = {}
    for f in chain_result.flows:
        val = float(np.asarray(f.value_usd)[..., year_index])
        if f.component == "drug_sales":
            inward_by_stage[f.product] = inward_by_stage.get(f.product, 0.0) + val
        elif f.component == "drug_purchases":
            outward_by_stage[f.product] = outward_by_stage.get(f.product, 0.0) + val
    for i, name in enumerate(names):
        b = chain_result.balances[name]
        x0 = 3 * i
        unit_note = {"coca_leaf": "leaf", "opium": "gum"}.get(name, "pure")
        box = FancyBboxPatch((x0, 0), 2.0, 1.0, boxstyle="round,pad=0.05", fc="#eef3f8", ec="#2166ac")
        ax.add_patch(box)
        ax.text(x0 + 1.0, 0.68, STAGE_LABELS[name].capitalize(), ha="center", va="center", fontsize=9, weight="bold")
        processed = float(np.asarray(b.processed())[..., year_index]) + float(np.asarray(b.imports)[..., year_index])
        ax.text(x0 + 1.0, 0.3, f"supply {_qty(processed, b.unit)} ({unit_note})", ha="center", va="center", fontsize=8)
        if i < n - 1:
            out = float(np.asarray(b.outflow)[..., year_index])
            ax.add_patch(FancyArrowPatch((x0 + 2.1, 0.5), (x0 + 2.9, 0.5), arrowstyle="-|>", mutation_scale=14, color="#2166ac"))
            ax.text(x0 + 2.5, 0.62, _qty(out, b.unit), ha="center", fontsize=7)
        uses = [("seizures", "seized"), ("consumption", "consumed"), ("losses", "lost"), ("licit_use", "licit use")]
        lines = [f"{label}: {_qty(float(np.asarray(getattr(b, item))[..., year_index]), b.unit)}"
                 for item, label in uses if float(np.asarray(getattr(b, item))[..., year_index]) > 0]
        if lines:
            ax.add_patch(FancyArrowPatch((x0 + 0.6, -0.08), (x0 + 0.6, -0.55), arrowstyle="-|>", mutation_scale=12, color=DOMESTIC))
            ax.text(x0 + 0.05, -0.65, "\n".join(lines), ha="left", va="top", fontsize=7, color="#444444")
        exp = float(np.asarray(b.exports)[..., year_index])
        if exp > 0:
            ax.add_patch(FancyArrowPatch((x0 + 1.5, 1.08), (x0 + 1.9, 1.5), arrowstyle="-|>", mutation_scale=12, color=INWARD))
            ax.text(x0 + 1.95, 1.5, f"exports {_qty(exp, b.unit)}\ninward {_money(inward_by_stage.get(name, 0.0))}",
                    fontsize=7, color=INWARD, va="center")
        imp = float(np.asarray(b.imports)[..., year_index])
        if imp > 0:
            ax.add_patch(FancyArrowPatch((x0 - 0.25, 1.5), (x0 + 0.3, 1.08), arrowstyle="-|>", mutation_scale=12, color=OUTWARD))
            ax.text(x0 - 0.25, 1.58, f"imports {_qty(imp, b.unit)}\noutward {_money(outward_by_stage.get(name, 0.0))}",
                    fontsize=7, color=OUTWARD, va="bottom")
        prec = sum(float(np.asarray(f.value_usd)[..., year_index]) for f in chain_result.flows
                   if f.component == "precursors" and f.detail.get("stage") == name)
        if prec > 0:
            ax.text(x0 + 1.0, -0.3, f"imported chemicals: {_money(prec)} (outward)", ha="center", fontsize=7, color=OUTWARD)
    ax.set_title(f"{title}, {year}", fontsize=10, loc="left")
    return fig


def price_ladder(points: list[tuple[str, float]], title: str):
    """Prices per pure kilogram at each place, on a logarithmic scale."""
    labels = [p[0] for p in points]
    values = [p[1] for p in points]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(points) + 1.0), layout="constrained")
    ax.barh(range(len(points)), values, color="#4393c3")
    ax.set_yticks(range(len(points)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("US dollars per kilogram of pure drug (log scale)")
    for i, val in enumerate(values):
        ax.text(val * 1.05, i, f"{val:,.0f}", va="center", fontsize=7)
    ax.set_title(title, fontsize=10, loc="left")
    return fig


def iff_by_year(years: list[int], inward: dict[str, np.ndarray], outward: dict[str, np.ndarray],
                title: str, low=None, high=None, labels: dict[str, str] | None = None):
    """Inward (up) and outward (down) IFFs by year, stacked by product, with the total's interval."""
    fig, ax = plt.subplots(figsize=(8.5, 3.6), layout="constrained")
    x = np.arange(len(years))
    products = sorted(set(inward) | set(outward))
    colors = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(products)}
    name = {p: (labels or {}).get(p, STAGE_LABELS.get(p, p.replace("_", " "))) for p in products}
    up = np.zeros(len(years))
    down = np.zeros(len(years))
    for p in products:
        if p in inward and np.any(inward[p] > 0):
            ax.bar(x, inward[p] / 1e6, bottom=up, color=colors[p], label=f"{name[p]} (inward)", width=0.6)
            up += inward[p] / 1e6
        if p in outward and np.any(outward[p] > 0):
            ax.bar(x, -outward[p] / 1e6, bottom=-down, color=colors[p], hatch="//", edgecolor="white",
                   label=f"{name[p]} (outward)", width=0.6)
            down += outward[p] / 1e6
    if low is not None and high is not None:
        total = up + down
        ax.vlines(x + 0.36, low / 1e6, high / 1e6, color="black", lw=1.2, label="total: 90% Monte Carlo interval")
        ax.plot(x + 0.36, total, "o", color="black", ms=3, label="total (inward + outward), central")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [str(y) for y in years])
    ax.set_ylabel("millions of current US dollars\n(outward shown below zero)")
    fig.legend(fontsize=7, frameon=False, loc="outside right upper")
    ax.set_title(title, fontsize=10, loc="left")
    return fig


def tornado_chart(central: float, bars, title: str, labeller=lambda b: b.input, top: int = 10):
    """One-at-a-time sensitivity: the output with each input at its low and high bound."""
    bars = [b for b in bars if b.swing > 0][:top]
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * max(len(bars), 1) + 1.2), layout="constrained")
    if not bars:
        ax.text(0.5, 0.5, "No input of this market has bounds.", ha="center", va="center", transform=ax.transAxes)
        ax.axis("off")
        return fig
    for i, b in enumerate(bars):
        lo, hi = b.output_at_low / 1e6, b.output_at_high / 1e6
        ax.barh(i, lo - central / 1e6, left=central / 1e6, color="#92c5de", label="input at low bound" if i == 0 else None)
        ax.barh(i, hi - central / 1e6, left=central / 1e6, color="#f4a582", label="input at high bound" if i == 0 else None)
    ax.axvline(central / 1e6, color="black", lw=0.8)
    ax.set_yticks(range(len(bars)), [labeller(b) for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("total IFFs, millions of current US dollars")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_title(title, fontsize=10, loc="left")
    return fig


def payments_diagram(corridor, reporting_country: str, year_index: int, year: int, names: dict[str, str]):
    """Fees by place of payment (left) and residence of the smuggler (right), coloured by what
    each payment is for the reporting country."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4), layout="constrained")
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 3.4)
    ax.axis("off")
    places = [p for p in PLACES if any(x.route == p for x in corridor.payments)]
    residences = [p for p in PLACES if any(
        x.payee == {"origin": corridor.origin, "transit": corridor.transit, "destination": corridor.destination}[p]
        for x in corridor.payments)]
    country = {"origin": corridor.origin, "transit": corridor.transit, "destination": corridor.destination}
    ly = {p: 2.8 - i * 1.1 for i, p in enumerate(places)}
    ry = {p: 2.8 - i * 1.1 for i, p in enumerate(residences)}
    total = float(np.asarray(corridor.fees_usd)[..., year_index]) or 1.0
    for p in places:
        ax.add_patch(FancyBboxPatch((0.2, ly[p] - 0.3), 2.6, 0.6, boxstyle="round,pad=0.03", fc="#f7f7f7", ec="#636363"))
        ax.text(1.5, ly[p], f"paid at {p}\n({names.get(country[p], country[p])})", ha="center", va="center", fontsize=7.5)
    for r in residences:
        ax.add_patch(FancyBboxPatch((7.2, ry[r] - 0.3), 2.6, 0.6, boxstyle="round,pad=0.03", fc="#f7f7f7", ec="#636363"))
        ax.text(8.5, ry[r], f"smugglers resident in\n{names.get(country[r], country[r])}", ha="center", va="center", fontsize=7.5)
    colors = {"inward": INWARD, "outward": OUTWARD, "domestic": DOMESTIC, None: OTHER}
    for pay in corridor.payments:
        res = next(k for k in residences if country[k] == pay.payee)
        val = float(np.asarray(pay.value_usd)[..., year_index])
        if val <= 0:
            continue
        d = pay.direction(reporting_country)
        ax.add_patch(FancyArrowPatch((2.9, ly[pay.route]), (7.1, ry[res]), arrowstyle="-|>",
                                     mutation_scale=10, lw=0.6 + 6 * val / total, color=colors[d], alpha=0.85))
        xm, ym = 5.0, (ly[pay.route] + ry[res]) / 2
        ax.text(xm, ym, _money(val), fontsize=6.5, ha="center", va="center",
                bbox=dict(fc="white", ec="none", pad=0.5))
    handles = [plt.Line2D([], [], color=colors[k], lw=3, label=lab) for k, lab in
               (("inward", "inward IFF"), ("outward", "outward IFF"), ("domestic", "domestic"), (None, "not this country's flow"))]
    fig.legend(handles=handles, fontsize=7, frameon=False, loc="outside lower center", ncol=4)
    ax.set_title(f"{corridor.label}, {year}: fees by place of payment and smuggler residence", fontsize=9, loc="left")
    return fig
