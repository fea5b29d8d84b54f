"""Both languages of a chapter from one execution.

A chapter is executed once. Each cell that shows something to readers shows it once per language,
tagging the output with its language (``show``), and each glued figure is glued once per language
(``glue_in``: the Spanish one under ``<name>__es``). The runner then writes two notebooks from the
executed one: the English chapter keeps the English outputs, the Spanish chapter the Spanish ones
under the names the page refers to, with its prose taken from the catalogue
(:mod:`methods.build.runner`).

Numbers and short texts are glued many at a time (``glue_values``): one output holds them all, and
the runner turns it back into the outputs myst-nb's ``glue`` would have made, one per name
(``expand_glued``), before the chapter is written. A kernel sends each output as a message of its
own, and a training chapter glues some 1,700 numbers: one message instead of 1,700 saves about
0.4 ms each.
"""
from __future__ import annotations

from collections.abc import Mapping

from IPython.display import display

LANG_KEY = "iff_lang"
GLUE_SUFFIX = "__"
GLUED_MIME = "application/vnd.iff.glued+json"  # many glued values in one output, expanded by the runner


def show(lang: str, obj) -> None:
    """Display ``obj`` as the output of language ``lang``."""
    display(obj, metadata={LANG_KEY: lang})


def glue_in(name: str, lang: str, obj) -> None:
    """Glue ``obj`` (a figure, a text) for the chapter in language ``lang``."""
    from myst_nb import glue

    glue(name if lang == "en" else f"{name}{GLUE_SUFFIX}{lang}", obj, display=False)


def glue_values(values: Mapping[str, object]) -> None:
    """Glue many numbers or texts (``{name: value}``, not displayed) in one output; the runner turns
    it into one output per name, each as ``myst_nb.glue(name, value, display=False)`` makes it
    (``expand_glued``). Numpy numbers are glued as plain Python numbers."""
    from IPython import get_ipython
    from IPython.core.formatters import format_display_data

    from .tables import plain

    shell = get_ipython()
    text = shell.display_formatter.formatters["text/plain"] if shell is not None else None
    glued = []  # [name, mime bundle] pairs, in order (the notebook file sorts an object's keys)
    for name, value in values.items():
        value = plain(value)
        if text is not None:  # a number or a text has no other representation than its plain text
            glued.append([str(name), {"text/plain": text(value)}])
        else:
            glued.append([str(name), format_display_data(value)[0]])
    if glued:
        display({GLUED_MIME: {"glued": glued}}, raw=True)


def expand_glued(nb):
    """The notebook with each output of ``glue_values`` replaced, in place and in order, by one
    output per glued name: the output ``myst_nb.glue(name, value, display=False)`` makes."""
    import nbformat
    from myst_nb.ext.glue import GLUE_PREFIX

    for cell in nb.cells:
        if not any(GLUED_MIME in out.get("data", {}) for out in cell.get("outputs", [])):
            continue
        outputs = []
        for out in cell.outputs:
            payload = out.get("data", {}).get(GLUED_MIME)
            if payload is None:
                outputs.append(out)
                continue
            # as nbformat.v4.new_output makes them, without validating each one (a training chapter
            # glues some 1,700): the notebook is validated as a whole when it is written
            outputs.extend(nbformat.from_dict({
                "output_type": "display_data", "data": {GLUE_PREFIX + mime: v for mime, v in bundle.items()},
                "metadata": {"scrapbook": {"name": name, "mime_prefix": GLUE_PREFIX}}}) for name, bundle in payload["glued"])
        cell.outputs = outputs
    return nb
