"""Imported once by the warm engine's fork server (:mod:`methods.build.kernels`), after the chapters'
packages: it fills the caches that every chapter would otherwise fill at its start, so that each
forked kernel inherits them. Nothing here touches what a chapter computes or shows; the state it
leaves is the same for every chapter (the tests compare warm and cold chapters).

* the handbook's bibliography, parsed (a chapter cites its sources by "Author Year");
* the handbook's catalogue of translations (every chapter is shown in each language; a country's
  own catalogue is read by its chapter);
* matplotlib's fonts and text layout, loaded by drawing one small figure with the chapters' style,
  through the SVG canvas directly (pyplot is not used: its backend is chosen in the kernel);
* pandas' table styler and its HTML template;
* and, not a cache: a kernel's output stream that holds nothing to send does not wait for the
  kernel's output thread when it is flushed (:func:`_streams_flush_only_what_they_hold`).
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


def _streams_flush_only_what_they_hold() -> None:
    """ipykernel flushes the kernel's standard output and error before it publishes each display
    (a figure, a table, a paragraph), and each flush hands a flush to the kernel's output thread
    and waits for its answer, even when nothing was written: two waits for each of a chapter's
    hundred-odd displays, about a tenth of a second of a drug chapter. A stream that holds no text
    (nothing written since it was last sent, nothing waiting to be sent) now returns at once; one
    that holds text still hands it over and waits, so text written before a display is still sent
    before it, as in a cold kernel (tests/test_kernels.py). If ipykernel's stream no longer has
    what this reads, flushing is left as it is."""
    try:
        from ipykernel.iostream import OutStream
    except ImportError:
        return
    flush = OutStream.flush

    def flush_what_it_holds(self):
        try:
            holds_nothing = (not self._flush_pending and not self._subprocess_flush_pending and not self._buffers
                             and self.echo is None)
        except AttributeError:
            holds_nothing = False
        if not holds_nothing:
            flush(self)

    flush_what_it_holds.__doc__ = flush.__doc__
    OutStream.flush = flush_what_it_holds


_warm()
_streams_flush_only_what_they_hold()
