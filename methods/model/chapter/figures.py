"""Figures of the chapters: value chains, price ladders, IFFs by year, tornado charts, payment maps.

Each function draws on a new matplotlib figure, lays it out (``laid_out``) and returns it; the
notebook displays it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from ..i18n import N_, Translator  # noqa: E402
from ..params import PLACES, STAGE_LABELS  # noqa: E402

EN = Translator("en")
PLACE_NAMES = {"origin": N_("origin"), "transit": N_("transit"), "destination": N_("destination")}

INWARD, OUTWARD, DOMESTIC, OTHER = "#1b7837", "#b2182b", "#878787", "#d9d9d9"
PALETTE = ["#2166ac", "#4393c3", "#92c5de", "#f4a582", "#d6604d", "#b2182b", "#5aae61", "#9970ab"]
# One style for every figure. Text is at least MIN_FONT points (the footnote size of the page at the
# figure's natural width: figures are drawn about as wide as the text column); SVG output keeps text
# as text (searchable, sharp at any zoom) and is deterministic. text.parse_math off: labels come from
# parameter files, and no part of them may be read as a formula.
MIN_FONT = 10
WIDTH = 7.5  # inches: about the width of the text column at 1400 px
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "font.size": 11, "axes.titlesize": 12,
                     "axes.labelsize": 11, "xtick.labelsize": MIN_FONT, "ytick.labelsize": MIN_FONT,
                     "legend.fontsize": MIN_FONT, "axes.spines.top": False, "axes.spines.right": False,
                     "text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": "iff-handbook",
                     "font.family": ["DejaVu Sans", "sans-serif"]})


def _measure_svg_text_once() -> None:
    """Measure each text of the SVG figures once per process, not once per figure and per draw.

    matplotlib caches a text's size per renderer instance, and every ``savefig`` makes two SVG
    renderers (one to lay the figure out, one to write it): a chapter's figures measured the same
    tick labels, titles and legend entries again and again (a fifth of a chapter's time). An SVG
    renderer measures text with the module's ``TextToPath`` at 72 dpi, without hinting; the size
    depends only on the text, its font properties and whether it is math, which are the cache's key.
    Other renderers (Agg, PDF) keep matplotlib's own cache. Written for the pinned matplotlib
    (tests/test_pins.py); tests/test_figures.py checks that a figure is byte for byte the same with
    and without it.
    """
    import functools

    import matplotlib.text as mtext
    from matplotlib.backends.backend_svg import RendererSVG
    from matplotlib.textpath import text_to_path

    per_renderer = getattr(mtext._get_text_metrics_function, "__wrapped__", mtext._get_text_metrics_function)

    @functools.lru_cache(maxsize=8192)
    def svg_metrics(text, fontprop, ismath, dpi):  # dpi: part of matplotlib's key; SVG text ignores it
        return text_to_path.get_text_width_height_descent(text, fontprop, ismath)

    @functools.wraps(per_renderer)
    def metrics_function(renderer):
        # savefig draws SVG through a MixedModeRenderer, whose _renderer is the SVG renderer (or,
        # while an artist is rasterized, an Agg one)
        return svg_metrics if type(getattr(renderer, "_renderer", renderer)) is RendererSVG else per_renderer(renderer)

    metrics_function.svg_metrics = svg_metrics
    mtext._get_text_metrics_function = metrics_function


_measure_svg_text_once()


def _measure_svg_font_heights_once() -> None:
    """Look up each font's height metrics once per process for the SVG figures, not once per text
    and per draw.

    To lay out a text, matplotlib asks the renderer for the font's ascent, descent and line gap
    (``_get_font_height_metrics``, which only the PDF and PostScript renderers have) or else finds
    the font file and reads them from its tables, for every text each time it is measured: about a
    sixth of the figures' time. This gives the SVG renderer that method, computed as matplotlib's
    ``Text._get_layout`` computes them and kept per font: they depend only on the font properties
    and the figure's dpi, which is 72 while an SVG renderer exists (``print_svg`` sets it before it
    makes one). Written for the pinned matplotlib (tests/test_pins.py); tests/test_figures.py checks
    that a figure is byte for byte the same with and without it.
    """
    import functools

    from matplotlib.backends.backend_svg import RendererSVG
    from matplotlib.font_manager import fontManager, get_font

    @functools.lru_cache(maxsize=512)
    def font_height_metrics(prop, dpi: float = 72.0):
        font = get_font(fontManager._find_fonts_by_props(prop))
        for table_name, linegap_key, ascent_key, descent_key in (
                ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"), ("hhea", "lineGap", "ascent", "descent")):
            table = font.get_sfnt_table(table_name)
            if table is None:
                continue
            scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
            return table[ascent_key] * scale, -table[descent_key] * scale, table[linegap_key] * scale
        return None, None, None  # matplotlib then does the same, and measures the text "lp"

    def svg_font_height_metrics(self, prop):
        return font_height_metrics(prop.copy())  # a copy: the key must not change after it is kept

    svg_font_height_metrics.cached = font_height_metrics
    RendererSVG._get_font_height_metrics = svg_font_height_metrics


_measure_svg_font_heights_once()


def without_axes(ax) -> None:
    """``ax`` drawn as a plain canvas for a diagram: no axis lines, ticks or labels. Its axes are
    hidden as well as switched off: matplotlib still measured the ticks of a switched-off axes
    each time it placed the title (creating them first), a third of a diagram's time; the
    figure is the same. A diagram's limits are set before it is drawn on, and its boxes and arrows
    are added with ``add_artist``, not ``add_patch``, which would compute each shape's extent
    (for an arrow, its path on the page) to widen limits that are fixed."""
    ax.axis("off")
    ax.xaxis.set_visible(False)
    ax.yaxis.set_visible(False)


def laid_out(fig):
    """``fig`` laid out now, once, as its SVG will be drawn, with its layout engine then switched off.

    With a layout engine (here matplotlib's constrained layout), ``savefig`` draws a figure twice:
    once without rendering, to lay it out, and once to write it; that first draw was a fifth of a
    chapter's figure time. A chapter's figures do not change once made, so laying them out here,
    with an SVG canvas (the renderer that will measure their text when they are written), gives the
    same SVG with one draw instead of two (tests/test_figures.py checks it byte for byte).
    Call it last: a figure changed afterwards is not laid out again.
    """
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    engine = fig.get_layout_engine()
    if engine is None:
        return fig
    canvas = fig.canvas
    FigureCanvasSVG(fig)  # the figure's canvas while it is laid out
    try:
        engine.execute(fig)
    finally:
        fig.set_canvas(canvas)
    with plt.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)  # none at all: even a placeholder engine makes savefig draw twice
    return fig


def _money(x: float, tr: Translator = EN) -> str:
    a = abs(x)
    if a >= 1e9:
        return tr("${value} bn").format(value=tr.number(x / 1e9, 2))
    if a >= 1e6:
        return tr("${value} m").format(value=tr.number(x / 1e6, 1))
    if a >= 1e3:
        return tr("${value} k").format(value=tr.number(x / 1e3, 0))
    return "$" + tr.number(x, 0)


def _wrap(text: str, width: int) -> str:
    """Long labels on several lines (whole words), so they need no smaller type."""
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def _qty(x: float, unit: str, tr: Translator = EN) -> str:
    if unit == "t":
        return f"{tr.number(x, 0)} t"
    if x >= 1e3:
        return f"{tr.number(x / 1e3, 1)} t"
    return f"{tr.number(x, 0)} kg"


def chain_diagram(chain_result, year_index: int, year: int, title: str, tr: Translator = EN):
    """The chain read from top to bottom: a box per stage with its supply, what stays in the country
    (seized, consumed, lost, licit use) beside it, and what crosses the border (exports: inward IFFs;
    imports and chemicals: outward IFFs; drug in transit, which is no IFF) on the right."""
    names = list(chain_result.balances)
    n = len(names)
    row = 1.75
    fig, ax = plt.subplots(figsize=(WIDTH, row * n + 0.5), layout="constrained")
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(-0.2, row * n + 0.1)
    without_axes(ax)
    inward_by_stage: dict[str, float] = {}
    outward_by_stage: dict[str, float] = {}
    chemicals: dict[str, float] = {}
    for f in chain_result.flows:
        val = float(np.asarray(f.value_usd)[..., year_index])
        if f.component == "drug_sales":
            inward_by_stage[f.product] = inward_by_stage.get(f.product, 0.0) + val
        elif f.component == "drug_purchases":
            outward_by_stage[f.product] = outward_by_stage.get(f.product, 0.0) + val
        elif f.component == "precursors":
            chemicals[f.detail.get("stage")] = chemicals.get(f.detail.get("stage"), 0.0) + val
    at = lambda arr: float(np.asarray(arr)[..., year_index])  # noqa: E731
    for i, name in enumerate(names):
        b = chain_result.balances[name]
        y = row * (n - 1 - i) + 0.35
        unit_note = tr({"coca_leaf": N_("leaf"), "opium": N_("gum")}.get(name, N_("pure")))
        ax.add_artist(FancyBboxPatch((0.05, y), 2.3, 0.95, boxstyle="round,pad=0.05", fc="#eef3f8", ec="#2166ac"))
        ax.text(1.2, y + 0.64, _wrap(tr(STAGE_LABELS[name]).capitalize(), 20), ha="center", va="center", fontsize=11,
                weight="bold", linespacing=1.1)
        supply = at(b.processed()) + at(b.imports)
        ax.text(1.2, y + 0.2, tr("supply {quantity} ({unit})").format(quantity=_qty(supply, b.unit, tr), unit=unit_note),
                ha="center", va="center", fontsize=MIN_FONT)
        if i < n - 1:
            ax.add_artist(FancyArrowPatch((1.2, y - 0.08), (1.2, y - row + 1.05), arrowstyle="-|>", mutation_scale=14,
                                         color="#2166ac"))
            ax.text(1.3, y - (row - 0.95) / 2 - 0.05, tr("to next stage: {quantity}").format(quantity=_qty(at(b.outflow), b.unit, tr)),
                    fontsize=MIN_FONT,
                    va="center", color="#2166ac")
        stays = [(item, label) for item, label in (("seizures", N_("seized")), ("consumption", N_("consumed")),
                                                   ("losses", N_("lost")), ("licit_use", N_("licit use")))
                 if at(getattr(b, item)) > 0]
        lines = [f"{tr(label)}: {_qty(at(getattr(b, item)), b.unit, tr)}" for item, label in stays]
        if lines:
            ax.text(2.55, y + 0.9, tr("stays in the country") + "\n" + "\n".join(lines), ha="left", va="top", fontsize=MIN_FONT,
                    color="#444444", linespacing=1.25)
        crossing = []
        if at(b.exports) > 0:
            crossing.append((tr("exports {quantity}\n→ inward IFF {value}").format(
                quantity=_qty(at(b.exports), b.unit, tr), value=_money(inward_by_stage.get(name, 0.0), tr)), INWARD))
        if at(b.imports) > 0:
            crossing.append((tr("imports {quantity}\n→ outward IFF {value}").format(
                quantity=_qty(at(b.imports), b.unit, tr), value=_money(outward_by_stage.get(name, 0.0), tr)), OUTWARD))
        if chemicals.get(name, 0.0) > 0:
            crossing.append((tr("chemicals bought abroad\n→ outward IFF {value}").format(value=_money(chemicals[name], tr)),
                             OUTWARD))
        if at(getattr(b, "transit_in", 0.0)) > 0:
            crossing.append((tr("in transit (no IFF): {entering} in,\n{leaving} out").format(
                entering=_qty(at(b.transit_in), b.unit, tr), leaving=_qty(at(b.transit_out), b.unit, tr)), DOMESTIC))
        for k, (text, color) in enumerate(crossing):
            ax.text(4.45, y + 0.95 - 0.5 * k, text, ha="left", va="top", fontsize=MIN_FONT, color=color, linespacing=1.15)
    ax.set_title(_wrap(f"{title}, {year}", 70), loc="left")
    return laid_out(fig)


def price_ladder(points: list[tuple[str, float]], title: str, tr: Translator = EN):
    """Prices per pure kilogram at each place, on a logarithmic scale."""
    labels = [_wrap(p[0], 40) for p in points]
    values = [p[1] for p in points]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.2 * lines + 0.18 * len(points) + 1.2), layout="constrained")
    ax.barh(range(len(points)), values, color="#4393c3")
    ax.set_yticks(range(len(points)), labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # unlabelled ticks: only time to draw
    ax.set_xlabel(tr("US dollars per kilogram of pure drug (log scale)"))
    for i, val in enumerate(values):
        ax.text(val * 1.05, i, tr.number(val, 0), va="center", fontsize=MIN_FONT)
    ax.set_title(title, loc="left")
    return laid_out(fig)


def iff_by_year(years: list[int], inward: dict[str, np.ndarray], outward: dict[str, np.ndarray],
                title: str, low=None, high=None, labels: dict[str, str] | None = None, tr: Translator = EN):
    """Inward (up) and outward (down) IFFs by year, stacked by product, with the total's interval."""
    fig, ax = plt.subplots(figsize=(WIDTH, 4.6), layout="constrained")
    x = np.arange(len(years))
    products = sorted(set(inward) | set(outward))
    colors = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(products)}
    from .tables import product_label

    name = {p: (labels or {}).get(p) or product_label(p, tr) for p in products}
    up = np.zeros(len(years))
    down = np.zeros(len(years))
    for p in products:
        if p in inward and np.any(inward[p] > 0):
            ax.bar(x, inward[p] / 1e6, bottom=up, color=colors[p], label=tr("{name} (inward)").format(name=name[p]), width=0.6)
            up += inward[p] / 1e6
        if p in outward and np.any(outward[p] > 0):
            ax.bar(x, -outward[p] / 1e6, bottom=-down, color=colors[p], hatch="//", edgecolor="white",
                   label=tr("{name} (outward)").format(name=name[p]), width=0.6)
            down += outward[p] / 1e6
    if low is not None and high is not None:
        total = up + down
        ax.vlines(x + 0.36, low / 1e6, high / 1e6, color="black", lw=1.2, label=tr("total: 90% Monte Carlo interval"))
        ax.plot(x + 0.36, total, "o", color="black", ms=3, label=tr("total (inward + outward), central"))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [str(y) for y in years])
    ax.set_ylabel(tr("millions of current US dollars\n(outward shown below zero)"))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: tr.number(v, 0)))
    handles, texts = ax.get_legend_handles_labels()
    wide = max((len(t) for t in texts), default=0) > 40
    # below the plot, never over the data or the title; long labels one per line, wrapped
    fig.legend(handles, [_wrap(t, 80) for t in texts], frameon=False, loc="outside lower center", ncol=1 if wide else 2)
    ax.set_title(_wrap(title, 70), loc="left")
    return laid_out(fig)


def tornado_chart(central: float, bars, title: str, labeller=lambda b: b.input, top: int = 10, tr: Translator = EN):
    """One-at-a-time sensitivity: the output with each input at its low and high bound."""
    bars = [b for b in bars if b.swing > 0][:top]
    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * max(len(bars), 1) + 1.8), layout="constrained")
    if not bars:
        ax.text(0.5, 0.5, tr("No input of this market has bounds."), ha="center", va="center", transform=ax.transAxes)
        without_axes(ax)
        return laid_out(fig)
    for i, b in enumerate(bars):
        lo, hi = b.output_at_low / 1e6, b.output_at_high / 1e6
        ax.barh(i, lo - central / 1e6, left=central / 1e6, color="#92c5de", label=tr("input at low bound") if i == 0 else None)
        ax.barh(i, hi - central / 1e6, left=central / 1e6, color="#f4a582", label=tr("input at high bound") if i == 0 else None)
    ax.axvline(central / 1e6, color="black", lw=0.8)
    ax.set_yticks(range(len(bars)), [_wrap(labeller(b), 38) for b in bars])
    ax.invert_yaxis()
    ax.set_xlabel(tr("total IFFs, millions of current US dollars"))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: tr.number(v, 0)))
    fig.legend(frameon=False, loc="outside lower center", ncol=2)  # below the plot: never over the bars
    ax.set_title(title, loc="left")
    return laid_out(fig)


def payments_diagram(corridor, reporting_country: str, year_index: int, year: int, names: dict[str, str],
                     tr: Translator = EN):
    """Fees by place of payment (left) and residence of the smuggler (right), coloured by what
    each payment is for the reporting country."""
    fig, ax = plt.subplots(figsize=(WIDTH, 4.0), layout="constrained")
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 3.4)
    without_axes(ax)
    places = [p for p in PLACES if any(x.route == p for x in corridor.payments)]
    residences = [p for p in PLACES if any(
        x.payee == {"origin": corridor.origin, "transit": corridor.transit, "destination": corridor.destination}[p]
        for x in corridor.payments)]
    country = {"origin": corridor.origin, "transit": corridor.transit, "destination": corridor.destination}
    ly = {p: 2.8 - i * 1.1 for i, p in enumerate(places)}
    ry = {p: 2.8 - i * 1.1 for i, p in enumerate(residences)}
    total = float(np.asarray(corridor.fees_usd)[..., year_index]) or 1.0
    for p in places:
        ax.add_artist(FancyBboxPatch((0.2, ly[p] - 0.3), 2.6, 0.6, boxstyle="round,pad=0.03", fc="#f7f7f7", ec="#636363"))
        ax.text(1.5, ly[p], tr("paid at {place}\n({country})").format(place=tr(PLACE_NAMES[p]), country=names.get(country[p], country[p])),
                ha="center", va="center", fontsize=MIN_FONT)
    for r in residences:
        ax.add_artist(FancyBboxPatch((7.2, ry[r] - 0.3), 2.6, 0.6, boxstyle="round,pad=0.03", fc="#f7f7f7", ec="#636363"))
        ax.text(8.5, ry[r], tr("smugglers resident in\n{country}").format(country=names.get(country[r], country[r])),
                ha="center", va="center",
                fontsize=MIN_FONT)
    colors = {"inward": INWARD, "outward": OUTWARD, "domestic": DOMESTIC, None: OTHER}
    for pay in corridor.payments:
        res = next(k for k in residences if country[k] == pay.payee)
        val = float(np.asarray(pay.value_usd)[..., year_index])
        if val <= 0:
            continue
        d = pay.direction(reporting_country)
        ax.add_artist(FancyArrowPatch((2.9, ly[pay.route]), (7.1, ry[res]), arrowstyle="-|>",
                                     mutation_scale=10, lw=0.6 + 6 * val / total, color=colors[d], alpha=0.85))
        xm, ym = 5.0, (ly[pay.route] + ry[res]) / 2
        ax.text(xm, ym, _money(val, tr), fontsize=MIN_FONT, ha="center", va="center",
                bbox=dict(fc="white", ec="none", pad=0.5))
    handles = [plt.Line2D([], [], color=colors[k], lw=3, label=tr(lab)) for k, lab in
               (("inward", N_("inward IFF")), ("outward", N_("outward IFF")), ("domestic", N_("domestic")),
                (None, N_("not this country's flow")))]
    fig.legend(handles=handles, frameon=False, loc="outside lower center", ncol=2)
    ax.set_title(_wrap(tr("{corridor}, {year}: fees by place of payment and smuggler residence").format(
        corridor=tr.text(corridor.label), year=year), 70), loc="left")
    return laid_out(fig)
