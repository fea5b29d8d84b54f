"""`iff i18n update` and `iff i18n check`: the Spanish edition's translations, in gettext catalogues.

Translators edit ``.po`` files in ``book/locales/es/LC_MESSAGES/``, never code or notebooks:

* ``<page>.po`` — each hand-written page of the handbook (``framework/residence.po`` ...), extracted
  by Sphinx's gettext builder: a paragraph, heading or table cell per message, in MyST Markdown;
* ``parameters/<ISO3>.po`` — the free texts of each parameter file (summaries, labels,
  assumptions, notes, places), which readers see in the chapters and the reference of inputs;
* ``iff.po`` — the handbook's own words: the chapters' prose and tables, figure titles and
  legends, the generated pages, and the command line's messages.

``iff i18n update`` extracts every message again and merges it into the catalogues (gettext's
msgmerge, with Babel): a new message is added untranslated, a changed one is kept with its old
translation marked *fuzzy* (outdated), a removed one is dropped. ``iff i18n check`` lists what is
untranslated or outdated and fails when anything is; the test suite runs it, so CI fails before a
page ships untranslated text.
"""
from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from ..model.errors import IffError
from ..model.params import load_country
from ..model.params.loading import _free_texts
from .files import write_if_changed
from .project import Project

LANGUAGE = "es"
LIST_LIKE = re.compile(r"\d+[.)] ")
# hand-written pages: everything the book's table of contents lists that the build does not generate
GENERATED = ("countries/", "results/", "reference/inputs", "reference/schema", "_generated/")


def locale_dir(project: Project) -> Path:
    return project.book_dir / "locales" / LANGUAGE / "LC_MESSAGES"


def _merge(template: Catalog, path: Path) -> tuple[int, int]:
    """Merge ``template`` into the catalogue at ``path`` (created if missing); (added, outdated)."""
    if path.is_file():
        with open(path, "rb") as fh:
            catalog = read_po(fh, locale=LANGUAGE)
        before = {m.id: m.string for m in catalog if m.id}
        catalog.update(template, update_header_comment=False)
        catalog.obsolete.clear()
    else:
        catalog = Catalog(locale=LANGUAGE, project="IFF handbook", charset="utf-8")
        for m in template:
            if m.id:
                catalog.add(m.id, "", locations=m.locations)
        before = {}
    added = sum(1 for m in catalog if m.id and m.id not in before)
    outdated = sum(1 for m in catalog if m.id and m.fuzzy)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, omit_header=False, sort_output=False, include_previous=True)
    # a catalogue whose messages and locations did not change keeps its file (and its creation date)
    undated = lambda data: re.sub(rb'(?m)^"POT-Creation-Date: [^"]*"$', b"", data)  # noqa: E731
    if not path.is_file() or undated(path.read_bytes()) != undated(buffer.getvalue()):
        write_if_changed(path, buffer.getvalue())
    return added, outdated


def _template(messages: list[tuple[str, str]]) -> Catalog:
    template = Catalog(locale=None, charset="utf-8")
    for text, where in messages:
        if text and text.strip():
            if text in template:
                template[text].locations.append((where, 0))
            else:
                template.add(text, locations=[(where, 0)])
    return template


def page_templates(project: Project) -> dict[str, Catalog]:
    """The messages of every hand-written page, by document name (Sphinx's gettext builder)."""
    toc = project.book_dir / "_toc.yml"
    if not toc.is_file():  # a fresh checkout: the generated pages the table of contents lists, as yet empty
        from .pages import prepare_sources

        prepare_sources(project)
    with tempfile.TemporaryDirectory(prefix="iff-gettext-") as tmp:
        cmd = [sys.executable, "-m", "methods.build.sphinxbuild", str(project.book_dir), tmp,
               str(project.root / "_config.yml"), str(toc), "2", "gettext"]
        done = subprocess.run(cmd, cwd=project.root, capture_output=True, text=True)
        if done.returncode != 0:
            raise IffError("extracting the pages' messages failed: " + (done.stderr or done.stdout).strip()[-500:])
        out = {}
        for pot in sorted(Path(tmp).rglob("*.pot")):
            doc = pot.relative_to(tmp).with_suffix("").as_posix()
            if doc.startswith(GENERATED):
                continue
            with open(pot, "rb") as fh:
                out[doc] = _hand_written_messages(read_po(fh))
        return out


def _hand_written_messages(pot: Catalog) -> Catalog:
    """The messages of a page's own text, located by their path in ``book/``: text that a page
    includes from a generated file (the landing page's key figures, in ``_generated/``) is written
    in each language by the build, not translated from a catalogue."""
    out = Catalog(locale=None, charset="utf-8")
    for m in pot:
        if not m.id:
            continue
        where = [(_in_book(f), line) for f, line in m.locations if "_generated/" not in f]
        if m.locations and not where:
            continue
        out.add(m.id, locations=where, flags=m.flags, auto_comments=m.auto_comments)
    return out


def _in_book(path: str) -> str:
    """``../../work/main/book/framework/x.md`` (as Sphinx writes it) as ``book/framework/x.md``."""
    parts = Path(path).parts
    return Path(*parts[len(parts) - 1 - parts[::-1].index("book"):]).as_posix() if "book" in parts else path


def parameter_templates(project: Project) -> dict[str, Catalog]:
    """The free texts of every parameter file, by country."""
    out = {}
    for path in project.parameter_files():
        cf = load_country(path)
        # (a country's name is given in Spanish by its file's name_es)
        messages = [(cf.summary, "summary")] + [(text, ".".join(map(str, p + (field,))))
                                                 for p, field, text in _free_texts(cf)]
        out[cf.country] = _template(messages)
    return out


def templates(project: Project) -> dict[str, Catalog]:
    """Every message to translate, by catalogue (``framework/residence.po``, ``parameters/COL.po``,
    ``iff.po``), extracted afresh from the sources."""
    from .i18n_code import code_template

    catalogues = {f"{doc}.po": t for doc, t in page_templates(project).items()}
    catalogues.update({f"parameters/{iso}.po": t for iso, t in parameter_templates(project).items()})
    catalogues["iff.po"] = code_template(project)
    return catalogues


def update(project: Project, say=print) -> None:
    folder = locale_dir(project)
    for name, template in templates(project).items():
        added, outdated = _merge(template, folder / name)
        if added or outdated:
            say(f"{project.rel(folder / name)}: {added} new, {outdated} outdated")
    say("Catalogues updated: translate the empty and fuzzy entries, then run `iff i18n check`.")


@dataclass
class Coverage:
    catalogue: str
    total: int
    untranslated: list[str]
    outdated: list[str]
    not_in_catalogue: list[str]
    # a page's heading or cell translated as "2. Actualice": read again as Markdown, a numbered list
    list_like: list[str] = ()


def coverage(project: Project) -> list[Coverage]:
    """For each catalogue: its messages, the untranslated and outdated ones, and the messages of the
    sources it does not hold yet (a page, a chapter or a parameter file changed since the last
    `iff i18n update`)."""
    folder = locale_dir(project)
    out = []
    for name, template in sorted(templates(project).items()):
        path = folder / name
        catalog = None
        if path.is_file():
            with open(path, "rb") as fh:
                catalog = read_po(fh, locale=LANGUAGE)
        ids = [m for m in catalog if m.id] if catalog is not None else []
        known = {m.id for m in ids}
        new = [m.id for m in template if m.id and m.id not in known]
        out.append(Coverage(project.rel(path), len(ids) + len(new), [m.id for m in ids if not m.string],
                            [m.id for m in ids if m.fuzzy], new,
                            [m.id for m in ids if m.string and LIST_LIKE.match(m.string)
                             and not LIST_LIKE.match(m.id) and name != "iff.po"]))
    return out


def check(project: Project, say=print) -> int:
    """Report what is untranslated, outdated or not yet in a catalogue; the number of such messages."""
    rows = coverage(project)
    bad = 0
    for r in rows:
        n = len(r.untranslated) + len(r.outdated) + len(r.not_in_catalogue) + len(r.list_like)
        bad += n
        if n:
            say(f"{r.catalogue}: {len(r.untranslated)} untranslated, {len(r.outdated)} outdated, "
                f"{len(r.not_in_catalogue)} not yet in the catalogue (of {r.total})"
                + (f", {len(r.list_like)} translated as the start of a numbered list (write \"2\\. ...\")"
                   if r.list_like else ""))
            for text in (r.untranslated + r.outdated + r.not_in_catalogue + list(r.list_like))[:5]:
                say(f"  - {' '.join(text.split())[:100]}")
    total = sum(r.total for r in rows)
    say(f"Spanish edition: {total - bad} of {total} messages translated and current" + ("." if not bad else
        f"; {bad} to do (run `iff i18n update`, then edit the .po files in {project.rel(locale_dir(project))})."))
    return bad
