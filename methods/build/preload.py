"""Imported once by the warm engine's fork server (:mod:`methods.build.kernels`), after the chapters'
packages: it fills the caches that every chapter would otherwise fill at its start, so that each
forked kernel inherits them. Nothing here touches what a chapter computes or shows; the state it
leaves is the same for every chapter (the tests compare warm and cold chapters).

* the handbook's bibliography, parsed (a chapter cites its sources by "Author Year");
* the handbook's catalogue of translations (every chapter is shown in each language; a country's
  own catalogue is read by its chapter);
* matplotlib's fonts and text layout, loaded by drawing one small figure with the chapters' style,
  through the SVG canvas directly (pyplot is not used: its backend is chosen in the kernel);
* pandas' table styler and its HTML template.
"""
from __future__ import annotations


def _warm() -> None:
    import io

    try:
        from ..model.params.loading import bib_labels
        from .project import Project

        bib_labels(Project.find().bib_file)
    except Exception:  # noqa: BLE001 - only a warm-up: a chapter parses the file itself if this fails
        pass
    try:
        from ..model.i18n import LANGUAGES, catalogue

        for lang in LANGUAGES:
            catalogue(lang, "iff")  # cached by file and modification time: an edited file is read again
    except Exception:  # noqa: BLE001
        pass
    try:
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure

        from ..model.chapter import figures  # noqa: F401 (the chapters' style, set when imported)

        fig = Figure(figsize=(3, 2), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        ax.bar([0, 1], [1, 2], label="a")
        ax.set_title("Warm-up", loc="left")
        ax.set_xlabel("millions of current US dollars")
        fig.legend(loc="outside lower center")
        fig.savefig(io.StringIO(), format="svg")
    except Exception:  # noqa: BLE001
        pass
    try:
        import pandas as pd
        import pandas.io.formats.style  # noqa: F401

        pd.DataFrame({"a": [1.5]}).style.format("{:,.1f}").to_html()
    except Exception:  # noqa: BLE001
        pass


_warm()
