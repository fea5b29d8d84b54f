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


def role_text(label: str) -> str:
    """Text for the label of a MyST role (``{doc}`label <target>```): inside a role the text is taken
    as it is, so a backslash escape would show; the characters that would end the label (a
    backtick, angle brackets, a pipe) are replaced instead. Inside a role nothing else is markup: a
    country's name from a parameter file is shown as typed."""
    return (" ".join(str(label).split()).replace("`", "'").replace("<", "‹").replace(">", "›")
            .replace("|", "∣"))  # a pipe would end the cell of a table the label is in


class Message(Md):
    """A translated ``{% trans %}`` block: Markdown of the template (or of its translation), into
    which each value is put as literal text (:func:`md_text`, unless it is :class:`Md` already)."""

    def __mod__(self, values):
        if isinstance(values, dict):
            values = {k: md_text(v) if v is not None else "" for k, v in values.items()}
        return Md(str.__mod__(self, values))


def environment(lang: str = "en") -> jinja2.Environment:
    """The environment of the pages in one language: ``{% trans %}`` blocks take their words from
    the catalogue (a value put into a block must be Markdown already: ``name=name|md``)."""
    from ..model.i18n import Translator, number

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), finalize=_finalize, autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    tr = Translator(lang)
    env.install_gettext_callables(gettext=lambda s: Message(tr(s)), ngettext=None, newstyle=False)  # no plurals used
    env.policies["ext.i18n.trimmed"] = True
    env.filters["html"] = lambda v: Md(html_text(v))
    env.filters["md"] = lambda v: Md(md_text(v))
    env.filters["raw"] = Md  # for Markdown the program composed, e.g. a table it rendered
    # a number the program formats, as it is (inside $...$ math a backslash escape would change it)
    env.filters["num"] = lambda v, digits=2: Md(number(float(v), int(digits), lang))
    env.globals["lang"] = lang
    return env


_ENV: dict[str, jinja2.Environment] = {}


def render(template: str, lang: str = "en", **context) -> str:
    """A page from ``methods/build/templates/<template>``, in English or Spanish."""
    if lang not in _ENV:
        _ENV[lang] = environment(lang)
    return _ENV[lang].get_template(template).render(**context)


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
