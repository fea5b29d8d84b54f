"""The Jinja2 environments in which every generated page and file is written.

Text from a parameter file stays text (:mod:`methods.model.chapter.text`). In the page templates
every ``{{ value }}`` is passed through :func:`md_text` unless it is a :class:`Md` — Markdown the
program itself composed (links, roles naming validated keys). In the YAML template of a blank
parameter file, every value a user typed is written as a quoted YAML string (:func:`yaml_quote`).
"""
from __future__ import annotations

from pathlib import Path

import jinja2

from ..model.chapter.text import Md, html_text, md_text

TEMPLATES = Path(__file__).parent / "templates"


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
    # a number the program formats, as it is (inside $...$ math a backslash escape would change it)
    env.filters["num"] = lambda v, digits=2: Md(f"{float(v):,.{int(digits)}f}")
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
