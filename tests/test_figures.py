"""Figures that read: legends never over the data or the title, and no text below the minimum size."""
from __future__ import annotations

import matplotlib

matplotlib.use("agg")  # a renderer that measures text
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import REPO  # noqa: E402
from methods.model.chapter import figures  # noqa: E402
from methods.model.params import load_country  # noqa: E402
from methods.model.results import evaluate_market, market_totals, totals  # noqa: E402
from methods.model.uncertainty import Prepared, tornado  # noqa: E402


def _boxes_overlap(a, b) -> bool:
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


def _check(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # noqa: F841
    ax = fig.axes[0]
    legends = list(fig.legends) + ([ax.get_legend()] if ax.get_legend() else [])
    for legend in legends:
        box = legend.get_window_extent(renderer)
        if ax.axison:
            assert not _boxes_overlap(box, ax.get_window_extent(renderer)), "the legend covers the plot"
        assert not _boxes_overlap(box, ax.title.get_window_extent(renderer)), "the legend covers the title"
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
    assert min(sizes) >= figures.MIN_FONT, f"text of {min(sizes)} pt"
    width = fig.get_size_inches()[0]
    assert width <= figures.WIDTH + 1e-9  # drawn at the width of the text column: the text keeps its size


@pytest.mark.parametrize("iso", ["MEX", "COL"])
def test_iff_chart_and_tornado_keep_their_legends_outside(iso):
    for market in ("drugs", "smuggling"):
        cf = load_country(REPO / "parameters" / f"{iso}.yml")
        prepared = Prepared.from_file(cf)
        _, records = evaluate_market(cf, market, prepared.central)
        c = totals(records, iso, len(cf.years))
        inward = {p: c[(p, "inward")] for p, d in c if d == "inward" and p != "all"}
        outward = {p: c[(p, "outward")] for p, d in c if d == "outward" and p != "all"}
        labels = {k: v.label for k, v in cf.markets.smuggling.corridors.items()} if market == "smuggling" else None
        total = c[("all", "total")]
        _check(figures.iff_by_year(cf.years, inward, outward, f"{cf.name}: IFFs from {market}", low=0.8 * total,
                                   high=1.2 * total, labels=labels))
        mid, bars = tornado(prepared, lambda v: market_totals(cf, market, v), ("all", "total"), -1,
                            prefix=("markets", market))
        _check(figures.tornado_chart(mid, bars, f"{cf.name}: what moves the total"))


@pytest.mark.parametrize("iso", ["COL", "ECU", "MEX", "PER", "XBO"])
def test_value_chain_diagrams_use_legible_text(iso):
    cf = load_country(REPO / "parameters" / f"{iso}.yml")
    result, _ = evaluate_market(cf, "drugs", Prepared.from_file(cf).central)
    for drug, chain in result.chains.items():
        _check(figures.chain_diagram(chain, -1, cf.years[-1], f"{cf.name}: {drug} chain"))


def test_payment_diagrams_use_legible_text():
    cf = load_country(REPO / "parameters" / "MEX.yml")
    result, _ = evaluate_market(cf, "smuggling", Prepared.from_file(cf).central)
    for corridor in result.corridors.values():
        fig = figures.payments_diagram(corridor, "MEX", -1, cf.years[-1], {"MEX": "Mexico", "USA": "United States"})
        _check(fig)


def _chapter_figures_as_svg() -> list[str]:
    """Every kind of chapter figure, in both languages, as the SVG a chapter writes: PER's IFFs by
    year, tornado chart, value chains and price ladder, and Mexico's payment diagrams."""
    import io

    import matplotlib.pyplot as plt

    from methods.model.i18n import translators

    cf = load_country(REPO / "parameters" / "PER.yml")
    prepared = Prepared.from_file(cf)
    result, records = evaluate_market(cf, "drugs", prepared.central)
    c = totals(records, "PER", len(cf.years))
    inward = {p: c[(p, "inward")] for p, d in c if d == "inward" and p != "all"}
    outward = {p: c[(p, "outward")] for p, d in c if d == "outward" and p != "all"}
    mid, bars = tornado(prepared, lambda v: market_totals(cf, "drugs", v), ("all", "total"), -1, prefix=("markets", "drugs"))
    mex = load_country(REPO / "parameters" / "MEX.yml")
    corridors, _ = evaluate_market(mex, "smuggling", Prepared.from_file(mex).central)
    out = []
    for tr in translators("PER", ["en", "es"]).values():
        made = [figures.iff_by_year(cf.years, inward, outward, "IFFs", low=0.8 * c[("all", "total")],
                                    high=1.2 * c[("all", "total")], tr=tr),
                figures.tornado_chart(mid, bars, "what moves the total", tr=tr),
                figures.price_ladder([("coca paste: farm gate", 600.0), ("cocaine hydrochloride: wholesale, export", 1650.0)],
                                     "prices", tr=tr)]
        made += [figures.chain_diagram(chain, -1, cf.years[-1], drug, tr=tr) for drug, chain in result.chains.items()]
        made += [figures.payments_diagram(corridor, "MEX", -1, mex.years[-1], {"MEX": "Mexico"}, tr)
                 for corridor in corridors.corridors.values()]
        for fig in made:
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None})  # as the chapters: no bbox_inches
            out.append(buffer.getvalue())
            plt.close(fig)
    return out


def _same_figures_without(remove_patch) -> None:
    """Every kind of chapter figure, in both languages, byte for byte the same with one of
    figures.py's patches and after ``remove_patch()`` (a monkeypatch, undone after the test)."""
    import matplotlib.pyplot as plt

    plt.close("all")  # the other tests' figures
    with_patch = _chapter_figures_as_svg()
    remove_patch()
    without = _chapter_figures_as_svg()
    assert len(with_patch) == len(without) >= 10
    for a, b in zip(with_patch, without):
        assert a == b


def test_a_figure_is_the_same_with_text_measured_once_per_process(monkeypatch):
    """figures.py measures each SVG text once per process instead of once per renderer: the figures
    it writes must be byte for byte those matplotlib writes with its own per-renderer cache, in both
    languages, drawn after other figures have filled the shared cache."""
    import matplotlib.text as mtext

    shared = mtext._get_text_metrics_function
    assert hasattr(shared, "svg_metrics"), "figures.py no longer shares SVG text measurements"
    _same_figures_without(lambda: monkeypatch.setattr(mtext, "_get_text_metrics_function", shared.__wrapped__))
    assert shared.svg_metrics.cache_info().hits > 0


def test_a_figure_is_the_same_with_font_heights_looked_up_once_per_process(monkeypatch):
    """figures.py gives the SVG renderer the fonts' height metrics, kept per font, instead of
    matplotlib finding the font and reading its tables for every text: the figures must be byte
    for byte those written without it, in both languages."""
    from matplotlib.backends.backend_svg import RendererSVG

    method = RendererSVG.__dict__.get("_get_font_height_metrics")
    assert method is not None and hasattr(method, "cached"), "figures.py no longer keeps the fonts' height metrics"
    _same_figures_without(lambda: monkeypatch.delattr(RendererSVG, "_get_font_height_metrics"))  # matplotlib's own way
    assert method.cached.cache_info().hits > 0


def test_a_figure_laid_out_once_is_the_one_savefig_would_lay_out(monkeypatch):
    """figures.py lays each figure out once, when it is made, and switches the layout engine off, so
    that savefig draws it once instead of twice: the SVG must be byte for byte the one matplotlib
    writes when it lays the figure out itself, for every kind of figure in both languages."""
    import matplotlib.pyplot as plt

    plt.close("all")
    once = _chapter_figures_as_svg()
    made = figures.iff_by_year([2020], {"cocaine": np.array([1e6])}, {}, "IFFs")
    assert made.get_layout_engine() is None, "the figure still has a layout engine: savefig would draw it twice"
    plt.close(made)
    monkeypatch.setattr(figures, "laid_out", lambda fig: fig)  # the layout engine left on, run by savefig
    by_savefig = _chapter_figures_as_svg()
    assert len(once) == len(by_savefig) >= 10
    for a, b in zip(once, by_savefig):
        assert a == b
