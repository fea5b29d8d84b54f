"""The handbook's two editions, English and Spanish, from one build.

The English edition is built from ``book/``. The Spanish edition is built by a second Sphinx
process from a tree of its own, ``_build/src-es/``, which holds

* every hand-written file of ``book/`` as a link to it: Sphinx translates the pages as it reads
  them, paragraph by paragraph, from the catalogues ``book/locales/es/LC_MESSAGES/<page>.po``
  (compiled here into ``_build/locale/``);
* each chapter's Spanish notebook (``book/countries/<ISO3>/<market>.es.ipynb``, written by the
  runner from the same execution as the English one) as a link named ``<market>.ipynb``, with the
  chapter's results beside it;
* the generated pages (country pages, results, reference of inputs, table of contents), written in
  Spanish by :mod:`methods.build.pages` and :mod:`methods.build.regional`.

Nothing is executed twice: both editions show the numbers of one execution.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from .files import write_if_changed
from .project import Project

LANGUAGES = ("en", "es")
# the parts of book/ that the build writes, in each edition's own language
GENERATED = ("countries", "results", "_generated", "locales")
GENERATED_FILES = ("_toc.yml", "reference/inputs.md", "reference/schema.md")
CHAPTER_LINKS = ("manifest", "summary", "flows", "partners", "draws")


def _hand_written(project: Project) -> dict[str, Path]:
    """The hand-written files of ``book/`` by their path inside it."""
    out = {}
    for p in project.sources_dir.rglob("*"):
        rel = p.relative_to(project.sources_dir)
        if (p.is_dir() or rel.parts[0] in GENERATED or rel.as_posix() in GENERATED_FILES
                or rel.parts[:2] == ("reference", "inputs") or any(part.startswith(".") for part in rel.parts)
                or "__pycache__" in rel.parts or p.name.endswith(".tmp")):
            continue
        out[rel.as_posix()] = p
    return out


def _link(link: Path, target: Path) -> None:
    """``link`` pointing at ``target`` by a relative path (replacing what was there)."""
    rel = os.path.relpath(target, link.parent)
    if link.is_symlink() and os.readlink(link) == rel:
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.is_file():
        link.unlink()
    tmp = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    os.symlink(rel, tmp)
    os.replace(tmp, link)


def link_spanish_sources(project: Project) -> Project:
    """Bring the Spanish edition's tree up to date with ``book/``; returns the Spanish project."""
    from ..model.params import MARKETS

    es = project.spanish()
    wanted: dict[Path, Path] = {es.book_dir / rel: p for rel, p in _hand_written(project).items()}
    countries = project.book_dir / "countries"
    for folder in sorted(countries.iterdir()) if countries.is_dir() else []:
        if not folder.is_dir():
            continue
        for market in MARKETS:
            en = project.chapter(folder.name, market)
            if not (en.notebook_es.is_file() and en.manifest.is_file()):
                continue
            target = es.chapter(folder.name, market)
            wanted[target.notebook] = en.notebook_es
            for name in CHAPTER_LINKS:
                if getattr(en, name).is_file():
                    wanted[getattr(target, name)] = getattr(en, name)
    for link, target in wanted.items():
        _link(link, target)
    # links whose file is gone (a page removed, a chapter dropped) go too; generated pages stay
    if es.book_dir.is_dir():
        for p in list(es.book_dir.rglob("*")):
            if p.is_symlink() and p not in wanted:
                p.unlink()
    compile_catalogues(project)
    return es


def page_catalogues(project: Project) -> dict[str, Path]:
    """The catalogue of each hand-written page, by the page's name (``framework/residence``)."""
    folder = project.sources_dir / "locales" / "es" / "LC_MESSAGES"
    out = {}
    for po in sorted(folder.rglob("*.po")) if folder.is_dir() else []:
        doc = po.relative_to(folder).with_suffix("").as_posix()
        if doc != "iff" and not doc.startswith("parameters/"):
            out[doc] = po
    return out


def compile_catalogues(project: Project) -> list[Path]:
    """Compile the pages' catalogues into ``_build/locale/es/LC_MESSAGES/<page>.mo`` (outdated,
    *fuzzy*, translations left out: the page shows the English text, and `iff i18n check` reports
    it). Returns the compiled files."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    out_dir = project.locale_build_dir / "es" / "LC_MESSAGES"
    written = []
    for doc, po in page_catalogues(project).items():
        with open(po, "rb") as fh:
            catalog = read_po(fh, locale="es")
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        target = out_dir / f"{doc}.mo"
        write_if_changed(target, buffer.getvalue())
        written.append(target)
    return written
