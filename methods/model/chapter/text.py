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


class Html(str):
    """HTML composed by the program itself (user text in it already escaped): written as it is."""


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


_KEY_PATTERNS: dict[frozenset, re.Pattern] = {}


def _key_pattern(keys) -> re.Pattern | None:
    keys = frozenset(keys)
    if not keys:
        return None
    if keys not in _KEY_PATTERNS:
        alternatives = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
        _KEY_PATTERNS[keys] = re.compile(rf"\[?(?<![\w])({alternatives})(?![\w])\]?")
    return _KEY_PATTERNS[keys]


def cited(value, citations: dict[str, tuple[str, str]], fmt: str = "html") -> str:
    """A text with every bibliography key it names (alone, or in square brackets) shown as a
    citation, "Author Year", linked to the bibliography; the rest of the text escaped literally.

    ``citations``: key -> (label, link). ``fmt``: "html" (an :class:`Html` string), "md" (an
    :class:`Md` string with Markdown links) or "myst" (an :class:`Md` string with ``{cite:t}`` roles,
    for pages the book builds, which resolve and check the keys themselves).
    """
    text = " ".join(str(value).split())
    pattern = _key_pattern(citations)
    # the text around a citation keeps its spaces (md_text would trim them)
    escape = html_text if fmt == "html" else (lambda segment: _PUNCT.sub(r"\\\1", segment))
    out, pos = [], 0
    for m in (pattern.finditer(text) if pattern else []):
        out.append(escape(text[pos:m.start()]))
        key = m.group(1)
        label, link = citations[key]
        if fmt == "html":
            out.append(f'<a class="iff-cite" href="{html_text(link)}">{html_text(label)}</a>')
        elif fmt == "md":
            out.append(f"[{md_text(label)}]({link})")
        else:
            out.append(f"{{cite:t}}`{key}`")
        pos = m.end()
    out.append(escape(text[pos:]))
    return (Html if fmt == "html" else Md)("".join(out))
