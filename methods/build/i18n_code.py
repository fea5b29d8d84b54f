"""The handbook's own words to translate (catalogue ``iff.po``): messages marked in the code with
``_("...")`` (the command line, validation errors, the chapters' tables, figures and sentences), the
generated pages' Jinja2 templates (``{% trans %}`` blocks), and the prose cells of the chapter
templates (each Markdown cell is one message, translated whole)."""
from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract, extract_from_dir

from .project import Project

# tr: a chapter's translator (methods.model.i18n.Translator); gettext: a page template's {% trans %} block
KEYWORDS = {"_": None, "N_": None, "tr": None, "gettext": None, "ngettext": (1, 2),
            "bad": (2,)}  # bad(kind, message, context): a validation error (methods.model.params.records)


def markdown_cells(template: Path) -> list[str]:
    """The Markdown cells of a chapter template (MyST text notebook), as jupytext reads them."""
    import jupytext

    nb = jupytext.read(template)
    return [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.strip()]


def config_messages(project: Project) -> list[tuple[str, str]]:
    """The handbook's title, footer and search prompt (``_config.yml``), which the Spanish edition's
    configuration translates (:func:`methods.build.sphinxbuild.language_config`)."""
    import yaml

    config = yaml.safe_load((project.root / "_config.yml").read_text(encoding="utf-8"))
    html = config.get("html") or {}
    theme = ((config.get("sphinx") or {}).get("config") or {}).get("html_theme_options") or {}
    texts = [config.get("title"), config.get("author"), html.get("extra_footer"), theme.get("search_bar_text")]
    return [(" ".join(t.split()), "_config.yml") for t in texts if isinstance(t, str)]


def schema_messages() -> list[tuple[str, str]]:
    """The descriptions of the parameter files' fields and models, which the page documenting the
    schema shows (:func:`methods.build.pages.write_schema_files`)."""
    from ..model.params import CountryFile

    out = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("description"), str):
                out.append((node["description"], "methods/model/params (field descriptions)"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(CountryFile.model_json_schema())
    return out


def code_messages(template: Path) -> list[tuple[int, str]]:
    """The messages marked in the code cells of a chapter template (``tr("...")``), with the number
    of the cell they are in."""
    import io

    import jupytext
    from babel.messages.extract import extract

    out = []
    cells = [c for c in jupytext.read(template).cells if c.cell_type == "code"]
    for number, cell in enumerate(cells, 1):
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for _line, message, _comments, _context in extract("python", io.BytesIO(code.encode("utf-8")), keywords=KEYWORDS):
            for text in (message if isinstance(message, tuple) else (message,)):
                out.append((number, text))
    return out


def code_template(project: Project) -> Catalog:
    template = Catalog(locale=None, charset="utf-8")
    methods = project.root / "methods"

    def add(text: str, where: str) -> None:
        if not text or not text.strip():
            return
        if text in template:
            template[text].locations.append((where, 0))
        else:
            template.add(text, locations=[(where, 0)])

    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(methods), method_map=[("**.py", "python"), ("**/templates/**.j2", "jinja2")],
            options_map={"**/templates/**.j2": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}},
            keywords=KEYWORDS):
        for text in (message if isinstance(message, tuple) else (message,)):
            add(text, f"methods/{filename}:{lineno}")
    for extension in sorted((project.sources_dir / "_ext").glob("*.py")):  # the handbook's Sphinx extension
        with open(extension, "rb") as fh:
            for lineno, message, _comments, _context in extract("python", fh, keywords=KEYWORDS):
                add(message, f"book/_ext/{extension.name}:{lineno}")
    for text, where in schema_messages():
        add(text, where)
    for text, where in config_messages(project):
        add(text, where)
    for template_file in sorted((methods / "model" / "templates").glob("*.md")):
        for cell in markdown_cells(template_file):
            add(cell, f"methods/model/templates/{template_file.name}")
        for number, text in code_messages(template_file):
            add(text, f"methods/model/templates/{template_file.name}:cell {number}")
    return template
