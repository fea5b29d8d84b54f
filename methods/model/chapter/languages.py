"""Both languages of a chapter from one execution.

A chapter is executed once. Each cell that shows something to readers shows it once per language,
tagging the output with its language (``show``), and each glued figure is glued once per language
(``glue_in``: the Spanish one under ``<name>__es``). The runner then writes two notebooks from the
executed one: the English chapter keeps the English outputs, the Spanish chapter the Spanish ones
under the names the page refers to, with its prose taken from the catalogue
(:mod:`methods.build.runner`).
"""
from __future__ import annotations

from IPython.display import display

LANG_KEY = "iff_lang"
GLUE_SUFFIX = "__"


def show(lang: str, obj) -> None:
    """Display ``obj`` as the output of language ``lang``."""
    display(obj, metadata={LANG_KEY: lang})


def glue_in(name: str, lang: str, obj) -> None:
    """Glue ``obj`` (a figure, a text) for the chapter in language ``lang``."""
    from myst_nb import glue

    glue(name if lang == "en" else f"{name}{GLUE_SUFFIX}{lang}", obj, display=False)
