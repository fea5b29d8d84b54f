"""Text from a parameter file stays text, wherever it is shown.

Parameter files come from outside. Whatever a name, an assumption or a source's page reference
holds — HTML, a MyST role such as ``{download}``, a substitution, a dollar sign that would open a
formula, a spreadsheet formula — it must reach the reader as the characters typed:

* :func:`md_text` for MyST Markdown (pages, and Markdown a chapter displays): every ASCII
  punctuation character is backslash-escaped (CommonMark lets any of them be escaped, and an
  escaped character is always literal), so nothing in the text can open markup;
* :func:`html_text` for HTML;
* in figures, matplotlib's reading of ``$...$`` as a formula is switched off for every text
  (:mod:`.figures`);
* :func:`spreadsheet_text` for a CSV cell (OWASP's guidance on CSV injection: a cell that starts
  with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe).
"""
from __future__ import annotations

import html
import re

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Md(str):
    """Markdown composed by the program itself (not user text): written as it is."""


def md_text(value) -> str:
    """Any text as literal MyST Markdown on one line: whitespace (newlines included) collapses to a
    space and every ASCII punctuation character is backslash-escaped."""
    if isinstance(value, Md):
        return value
    return _PUNCT.sub(r"\\\1", " ".join(str(value).split()))


def html_text(value) -> str:
    """Any text as literal HTML (quotes included)."""
    return html.escape(str(value), quote=True)


def spreadsheet_text(value: str) -> str:
    """A text cell that no spreadsheet reads as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
