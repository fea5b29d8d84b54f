"""Text from a parameter file stays text: escaping for MyST Markdown and HTML, and the Jinja2
environment in which every generated page is written.

Parameter files come from outside. Whatever a name, an assumption or a source's page reference
holds — HTML, a MyST role such as ``{download}``, a substitution, a dollar sign that would open a
formula — it must reach the reader as the characters typed. :func:`md_text` backslash-escapes every
ASCII punctuation character (CommonMark lets any of them be escaped, and an escaped character is
always literal), so nothing in the text can open markup; :func:`html_text` escapes for HTML.

In the page templates every ``{{ value }}`` is passed through :func:`md_text` unless it is a
:class:`Md` — Markdown the program itself composed (links, roles naming validated keys).
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


class Md(str):
    """Markdown composed by the program (not user text): written as it is."""


def md_text(value) -> str:
    """Any text as literal MyST Markdown on one line: whitespace (newlines included) collapses to a
    space and every ASCII punctuation character is backslash-escaped."""
    if isinstance(value, Md):
        return value
    return _PUNCT.sub(r"\\\1", " ".join(str(value).split()))


def html_text(value) -> str:
    """Any text as literal HTML (quotes included)."""
    return html.escape(str(value), quote=True)


def _finalize(value):
    if value is None:
        return ""
    return md_text(value)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), finalize=_finalize, autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["html"] = lambda v: Md(html_text(v))
    env.filters["md"] = lambda v: Md(md_text(v))
    env.filters["raw"] = Md  # for Markdown the program composed, e.g. a table it rendered
    return env


_ENV: jinja2.Environment | None = None


def render(template: str, **context) -> str:
    """A page from ``methods/build/templates/<template>``."""
    global _ENV
    if _ENV is None:
        _ENV = environment()
    return _ENV.get_template(template).render(**context)


def yaml_quote(value) -> str:
    """Any text as one YAML double-quoted scalar (escapes for line breaks and control characters):
    a value a user typed can be written into a YAML file without changing its structure."""
    import yaml

    return yaml.safe_dump(str(value), default_style='"', allow_unicode=True, width=10**9).rstrip("\n")


def render_yaml(template: str, **context) -> str:
    """A YAML file from ``methods/build/templates/<template>``; user values go through ``| q``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["q"] = yaml_quote
    return env.get_template(template).render(**context)
