"""Assemble and build the handbook.

Before each build the pages that depend on the parameter files are generated from the templates in
``methods/build/templates/``: the table of contents (the country chapters come from the chapters
that exist for parameter files that exist, never from a hand-edited list), each country's landing
page, the reference page of every input and the page documenting the parameter-file schema. Text
from a parameter file is escaped (:mod:`.render`): it reaches the page as the characters typed. The
book is then built strictly (warnings are errors). A build is skipped when none of its sources
changed since the last successful one.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..model.chapter.tables import EVIDENCE_LABELS, input_label, provenance_text, value_text
from ..model.chapter.text import cited
from ..model.i18n import N_, Translator
from ..model.errors import IffError, ParameterError
from ..model.inputs import input_infos
from ..model.params import MARKET_LABELS, MARKETS, CountryFile
from .files import hash_files, stat_fingerprint, write_if_changed
from .project import Project
from .render import Md, md_text, render, role_text

GENERATED_PART = "GENERATED: country chapters"
GENERATED_TRAINING = "GENERATED: training country chapters"
GENERATED_RESULTS = "GENERATED: results"
GENERATED_INPUTS = "GENERATED: inputs by country"
# the parts of the table of contents (book/_toc.base.yml), translated for the Spanish edition
TOC_CAPTIONS = [N_("Conceptual framework"), N_("Methodology"), N_("Country chapters"), N_("Results"), N_("Training"),
                N_("Reference")]


@dataclass
class Chapter:
    country: str
    name: str
    fictional: bool
    markets: list[str]


def available_chapters(project: Project) -> list[Chapter]:
    """Countries that have a parameter file and at least one executed chapter.

    Chapters of countries whose parameter file was removed are stale and are deleted here.
    """
    base = project.book_dir / "countries"
    if not base.is_dir():
        return []
    out = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        if not (project.parameters_dir / f"{folder.name}.yml").is_file():
            shutil.rmtree(folder)
            continue
        # a chapter counts once its manifest is written (the runner writes it last)
        markets = [m for m in MARKETS if project.chapter(folder.name, m).notebook.is_file()
                   and project.chapter(folder.name, m).manifest.is_file()]
        if not markets:
            continue
        notebook = project.chapter(folder.name, markets[0]).notebook
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {}).get("iff", {})
        out.append(Chapter(folder.name, meta.get("name", folder.name), bool(meta.get("fictional", folder.name.startswith("X"))), markets))
    return out


def prune_markets(project: Project, cfs: dict[str, CountryFile]) -> None:
    """Remove chapters of markets that a valid parameter file no longer declares or estimates."""
    for iso, cf in cfs.items():
        for m in MARKETS:
            if m not in cf.estimated_markets():
                for f in project.chapter(iso, m).all():
                    f.unlink(missing_ok=True)


def write_toc(project: Project, chapters: list[Chapter], inputs_pages: list[str] | None = None) -> Path:
    """``inputs_pages``: the countries (ISO3, in order) that have a page in the reference of inputs."""
    base = yaml.safe_load((project.sources_dir / "_toc.base.yml").read_text(encoding="utf-8"))
    tr = Translator(project.lang)

    def entries(fictional: bool) -> list[dict]:
        out = []
        for ch in chapters:
            if ch.fictional != fictional:
                continue
            out.append({"file": f"countries/{ch.country}/index",
                        "sections": [{"file": f"countries/{ch.country}/{m}"} for m in ch.markets]})
        return out

    parts = []
    for part in base["parts"]:
        chapters_ = part.get("chapters")
        if chapters_ == GENERATED_PART:
            part = dict(part, chapters=entries(False) or [{"file": "countries/none"}])
        elif chapters_ == GENERATED_RESULTS:
            pages = [{"file": f"results/{stem}"} for stem in ("summary", "mirror")
                     if (project.book_dir / "results" / f"{stem}.md").is_file()]
            if not pages:
                continue
            part = dict(part, chapters=pages)
        elif isinstance(chapters_, list):
            new = []
            for c in chapters_:
                if c == GENERATED_TRAINING:
                    new += entries(True)
                    if (project.book_dir / "countries" / "network-example.md").is_file():
                        new.append({"file": "countries/network-example"})
                elif isinstance(c, dict) and c.get("sections") == GENERATED_INPUTS:
                    pages = [{"file": f"reference/inputs/{iso}"} for iso in (inputs_pages or [])]
                    new.append(dict(c, sections=pages) if pages else {k: v for k, v in c.items() if k != "sections"})
                else:
                    new.append(c)
            part = dict(part, chapters=new)
        parts.append(dict(part, caption=tr(part["caption"])) if "caption" in part else part)
    toc = dict(base, parts=parts)
    path = project.book_dir / "_toc.yml"
    header = "# GENERATED by `iff build` from _toc.base.yml and the parameter files. Do not edit.\n"
    write_if_changed(path, header + yaml.safe_dump(toc, sort_keys=False, allow_unicode=True))
    return path


def _download(label: str, target: str) -> Md:
    """A download link whose label and target the program chose. Inside a role the text is taken
    as it is (a backslash escape would show), so the label only loses the characters that would
    end it: a backtick, and angle brackets."""
    return Md(f"{{download}}`{role_text(label)} <{target}>`")


def write_country_pages(project: Project, chapters: list[Chapter], inputs_pages: set[str] = frozenset(),
                        cfs: dict[str, CountryFile] | None = None) -> None:
    tr = Translator(project.lang)
    none_page = project.book_dir / "countries" / "none.md"
    if not any(not c.fictional for c in chapters):
        write_if_changed(none_page, render("none.md.j2", project.lang))
    else:
        none_page.unlink(missing_ok=True)
    reference_of_inputs = tr("the reference of inputs")
    for ch in chapters:
        tr = Translator(project.lang, ch.country)  # the country's own texts too (parameters/<ISO3>.po)
        markets = []
        for m in ch.markets:
            files = project.chapter(ch.country, m)
            label = tr(MARKET_LABELS[m])
            downloads = [_download(tr("Executed notebook: {market} ({file})").format(market=label, file=f"{m}.ipynb"),
                                   files.notebook.name)]
            if files.summary.exists():
                downloads.append(_download(tr("Results: {market} ({file})").format(market=label, file=files.summary.name),
                                           files.summary.name))
            markets.append({"link": Md(f"{{doc}}`{m}`"), "label": label, "downloads": downloads})
        cf = (cfs or {}).get(ch.country)
        unestimated = []
        for m in (cf.unestimated_markets() if cf is not None else []):
            market = getattr(cf.markets, m)
            unestimated.append({"title": tr("{market}: no estimate yet").format(market=tr(MARKET_LABELS[m]).capitalize()),
                                "note": tr.text(market.note) if market.note else None,
                                "gaps": [{"what": tr.text(g.what), "institution": tr.text(g.institution)}
                                         for g in market.data_gaps]})
        name = cf.name_in(project.lang) if cf is not None else ch.name
        page = render(
            "country.md.j2", project.lang, name=name, fictional=ch.fictional, file=Md(f"`parameters/{ch.country}.yml`"),
            inputs_page=(Md(f"{{ref}}`{role_text(reference_of_inputs)} <inputs-{ch.country.lower()}>`")
                         if ch.country in inputs_pages else None),
            markets=markets, unestimated=unestimated,
            parameter_download=_download(tr("Parameter file ({file})").format(file=f"{ch.country}.yml"),
                                         f"{project.parameters_path_from_countries()}/{ch.country}.yml"))
        write_if_changed(project.country_dir(ch.country) / "index.md", page)


def _reference_order(items):
    """Real countries first, then the fictional training countries, each by name."""
    return sorted(items, key=lambda c: (c.fictional, c.name))


def _has_assumption(q) -> bool:
    """True when the value, or the value of any year of a series, rests on an assumption."""
    return q.assumption is not None or any(getattr(v, "assumption", None) is not None for v in (q.values or {}).values())


def write_inputs_reference(project: Project, cfs: list[CountryFile]) -> list[str]:
    """The reference of inputs: an overview page, and one page per country listing every input
    with its value, unit, year and provenance. One page per country, so that updating one
    country's file re-reads only that country's page when the book is rebuilt."""
    folder = project.book_dir / "reference" / "inputs"
    cfs = _reference_order(cfs)
    countries = []
    for cf in cfs:
        infos = input_infos(cf)
        name = cf.name_in(project.lang)
        countries.append({"link": Md(f"[{md_text(name)} ({cf.country})](inputs/{cf.country}.md)"),
                          "n_inputs": len(infos), "n_assumed": sum(_has_assumption(i.quantity) for i in infos)})
    write_if_changed(project.book_dir / "reference" / "inputs.md",
                     render("inputs-overview.md.j2", project.lang, countries=countries))
    keep = {f"{cf.country}.md" for cf in cfs}
    if folder.is_dir():
        for stale in folder.glob("*.md"):
            if stale.name not in keep:
                stale.unlink()
    keys = {k: ("", "") for k in (project.bib_keys() or ())}  # keys named in texts become citations
    for cf in cfs:
        write_if_changed(folder / f"{cf.country}.md", _inputs_page(cf, keys, Translator(project.lang, cf.country)))
    return [cf.country for cf in cfs]


def _cite(key: str, at: str, kind: str, keys: dict) -> Md:
    """A citation (the key is validated: letters, digits, ``_:-``) followed by literal text, in which
    any bibliography key named is itself a citation."""
    return Md(f"{{cite:p}}`{key}`, {cited(at, keys, 'myst')} ({md_text(kind)})")


def _provenance_cell(q, keys: dict, tr: Translator) -> Md:
    kind, _ = provenance_text(q, tr)
    assumption, range_ = tr(N_("assumption")), tr(N_("range"))
    parts: list[str] = []
    if q.source is not None:
        parts.append(_cite(q.source.key, tr.text(q.source.at), kind, keys))
    if q.assumption is not None:
        parts.append(Md(f"⚠ {assumption}: " + cited(tr.text(q.assumption), keys, "myst")))
    for y, val in sorted((q.values or {}).items()):
        src, ass = getattr(val, "source", None), getattr(val, "assumption", None)
        if src is not None:
            parts.append(f"{y}: " + _cite(src.key, tr.text(src.at), tr(EVIDENCE_LABELS[src.evidence]), keys))
        if ass is not None:
            parts.append(Md(f"{y}: ⚠ {assumption}: " + cited(tr.text(ass), keys, "myst")))
    if q.range_note:
        parts.append(Md(f"{range_}: " + cited(tr.text(q.range_note), keys, "myst")))
    return Md("; ".join(parts))


def _inputs_page(cf: CountryFile, keys: dict, tr: Translator) -> str:
    infos = input_infos(cf)
    groups = []
    for title, prefix in [(tr("Exchange rate and GDP"), ("macro",))] + [
            (tr(MARKET_LABELS[m]).capitalize(), ("markets", m)) for m in cf.market_names()]:
        rows = []
        for info in infos:
            if info.path[: len(prefix)] != prefix:
                continue
            q = info.quantity
            year = ", ".join(map(str, q.reference_years())) if q.value is not None else ""
            rows.append({"input": input_label(info.path, len(prefix), cf, tr),
                         "value": value_text(q, cf.years, tr) + (f" ({year})" if year else ""),
                         "unit": q.unit, "provenance": _provenance_cell(q, keys, tr)})
        if rows:
            groups.append({"title": title, "rows": rows})
    name = cf.name_in(tr.lang)
    here = tr("here")
    return render("inputs-country.md.j2", tr.lang, label=Md(f"inputs-{cf.country.lower()}"), name=name,
                  code=cf.country, file=Md(f"`parameters/{cf.country}.yml`"),
                  chapters_link=Md(f"{{doc}}`{role_text(here)} </countries/{cf.country}/index>`"), groups=groups)


def write_schema_files(project: Project) -> None:
    """The JSON schema of parameter files (for editors) and a page documenting every field.
    Skipped when the models (``methods/model/params/``) are unchanged since the files were written."""
    json_file = project.sources_dir / "_extra" / "downloads" / "parameters.schema.json"
    page = project.book_dir / "reference" / "schema.md"
    models_dir = Path(__file__).resolve().parents[1] / "model" / "params"
    tr = Translator(project.lang)
    # the models of the package in use (which may be another checkout's) and this checkout's catalogue
    digest = hash_files(models_dir.glob("*.py"), models_dir, extra=hash_files(project.catalogues("")[:1], project.root))
    stamp = project.build_dir / f".schema-models-{project.lang}.sha256"
    if json_file.is_file() and page.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return
    schema = CountryFile.model_json_schema()
    write_if_changed(json_file, json.dumps(schema, indent=1, ensure_ascii=False) + "\n")
    defs = schema.get("$defs", {})

    def describe(name: str, body: dict) -> dict:
        required = set(body.get("required", []))
        fields = []
        for field_name, prop in body.get("properties", {}).items():
            desc = tr(prop.get("description", ""))
            ref = prop.get("$ref") or next((a.get("$ref") for a in prop.get("anyOf", []) if "$ref" in a), None)
            if ref:
                desc = (desc + " " if desc else "") + tr("(a {model} record)").format(model=ref.split("/")[-1])
            fields.append({"name": field_name, "required": field_name in required, "description": desc})
        return {"name": name, "description": tr(body.get("description", "")), "fields": fields}

    models = [describe(tr("CountryFile (the whole file)"), schema)] + [describe(n, defs[n]) for n in sorted(defs)]
    write_if_changed(page, render("schema.md.j2", project.lang, models=models))
    write_if_changed(stamp, digest)


# ----- the build ----------------------------------------------------------------------------------------

def _source_files(project: Project) -> list[Path]:
    """The files of an edition's source tree that the build reads (hidden, temporary and staging
    files left out; the English tree leaves out the catalogues and the Spanish notebooks)."""
    files = []
    for p in project.book_dir.rglob("*"):
        rel = p.relative_to(project.book_dir)
        if (not p.is_file() or ".staging-" in str(rel) or p.name.endswith(".tmp") or p.name.startswith(".")
                or ".ipynb_checkpoints" in rel.parts or rel.parts[0] in ("_build", "locales")
                or p.name.endswith(".es.ipynb")):
            continue
        files.append(p)
    return files


def translation_files(project: Project) -> list[Path]:
    """What the Spanish edition's words come from: every catalogue (empty in English)."""
    if project.lang == "en":
        return []
    return sorted((project.sources_dir / "locales" / project.lang).rglob("*.po"))


def sources_hash(project: Project) -> str:
    """Fingerprint of every file the edition is built from."""
    files = [project.root / "_config.yml", *_source_files(project), *translation_files(project)]
    files += project.parameters_dir.glob("*.yml")
    return hash_files(files, project.root, extra=str(sys.version_info[:2]))


def valid_files(project: Project) -> dict[str, CountryFile]:
    cfs: dict[str, CountryFile] = {}
    bib = project.bib_keys()
    for path in project.parameter_files():
        try:
            cfs[path.stem] = project.load(path, bib)
        except ParameterError:
            pass  # reported by the runner; the last good chapters stay
    return cfs


def prepare_sources(project: Project, cfs: dict[str, CountryFile] | None = None) -> list[Chapter]:
    """Generate every page of one edition that depends on the parameter files."""
    from .regional import write_network_example, write_results_pages

    cfs = valid_files(project) if cfs is None else cfs
    if project.lang == "en":
        prune_markets(project, cfs)
    chapters = available_chapters(project)
    write_results_pages(project, cfs)
    write_network_example(project)
    shown = {c.country for c in chapters}
    # a chapter whose parameter file is now invalid keeps its last good version, but has no inputs page
    inputs_pages = write_inputs_reference(project, [cf for iso, cf in cfs.items() if iso in shown])
    write_toc(project, chapters, inputs_pages)
    write_country_pages(project, chapters, set(inputs_pages), cfs)
    write_schema_files(project)
    return chapters


def pages_fingerprint(project: Project, editions: tuple[str, ...]) -> str:
    """What the generated pages are made from, and the pages themselves, by their files' paths,
    sizes and modification times (:func:`~methods.build.files.stat_fingerprint`): the parameter
    files; the book's sources (hand-written pages, catalogues, bibliography, the chapters and their
    results, the generated pages); for the Spanish edition its tree and compiled catalogues; the PDF
    editions (the landing pages link to those that exist); the code and templates that write the
    pages; the configuration and the pinned requirements."""
    folders = [project.parameters_dir, project.sources_dir, Path(__file__).resolve().parents[1],
               project.build_dir / "pdf"]
    if "es" in editions:
        folders += [project.spanish().book_dir, project.locale_build_dir]
    files = [project.root / "_config.yml", project.root / "requirements.txt",
             *sorted(project.build_dir.glob(".schema-models-*.sha256"))]
    return stat_fingerprint(folders, files, extra=f"{','.join(editions)}|{sys.version_info[:2]}")


def prepare_editions(project: Project, editions: tuple[str, ...] = ("en", "es"), reuse: bool = True) -> bool:
    """The sources of the editions: the English pages in ``book/`` and the Spanish tree
    (:func:`methods.build.editions.link_spanish_sources`) with its pages, written in Spanish. The
    two editions' pages are written side by side, the Spanish ones in a forked process, from the
    chapters' results read once here.

    With ``reuse``, nothing is written when nothing they are made from, and none of them, changed
    since they were last written (:func:`pages_fingerprint`): a build with nothing new skips the
    half second of making every page again to find it the same. False when it wrote nothing."""
    stamp = project.stamp("pages")
    if reuse and stamp.is_file() and stamp.read_text() == pages_fingerprint(project, editions):
        return False
    _write_editions(project, editions)
    write_if_changed(stamp, pages_fingerprint(project, editions))
    return True


def _write_editions(project: Project, editions: tuple[str, ...]) -> None:
    from .editions import link_spanish_sources
    from .regional import read_results

    cfs = valid_files(project)
    if "es" not in editions:
        prepare_sources(project, cfs)
        return
    prune_markets(project, cfs)  # before the Spanish tree links the chapters
    write_schema_files(project)  # the schema file is linked into the Spanish tree
    spanish = link_spanish_sources(project)
    read_results(project)
    side_by_side(lambda: prepare_sources(spanish, cfs), lambda: prepare_sources(project, cfs))


def load_page_writers() -> None:
    """Import what writing the pages needs (pandas, matplotlib for the results' charts, XlsxWriter for
    the workbook) in a background thread: `iff build` calls it while the chapters run, when this
    process only waits for them."""
    import threading

    def load():
        import xlsxwriter  # noqa: F401

        from . import charts, regional  # noqa: F401

    _LOADING.append(threading.Thread(target=load, name="iff-load-page-writers", daemon=True))
    _LOADING[-1].start()


_LOADING: list = []  # the thread of load_page_writers: it has ended before the process forks


def side_by_side(other, mine) -> None:
    """Run ``other()`` in a forked process while this one runs ``mine()``, and wait for both (two
    cores do both in the time of the longer). A failure of either is raised here, once both ended;
    an :class:`IffError` keeps its message, anything else is named in one line (with ``IFF_DEBUG``
set, the child prints its traceback). Where processes cannot be forked, one after the other."""
    if not hasattr(os, "fork"):
        other()
        mine()
        return
    import traceback

    for thread in _LOADING:  # no import half done in the child
        thread.join()
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: does its part and says how it went, never returns into the caller
        os.close(read_end)
        status, message = 0, b""
        try:
            other()
        except IffError as e:
            status, message = 1, str(e).encode()
        except BaseException as e:  # noqa: BLE001 - reported by the parent, in one line
            if os.environ.get("IFF_DEBUG"):
                traceback.print_exception(e)
            status, message = 2, f"{type(e).__name__}: {e}".encode()
        finally:
            with os.fdopen(write_end, "wb") as fh:
                fh.write(message)
            os._exit(status)
    os.close(write_end)
    try:
        mine()
    finally:
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
        os.close(read_end)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    message = b"".join(chunks).decode(errors="replace")
    if status == 1:
        raise IffError(message)
    if status != 0:
        raise RuntimeError(f"in the process writing the other edition's pages, {message}")


GENERATED_SOURCES = ("countries", "results", "_generated")  # folders of book/ written by iff run / iff build


def structure_hash(project: Project) -> str:
    """Fingerprint of what shapes every page: configuration, table of contents, bibliography,
    extensions, chapter templates, every hand-written page and, in Spanish, the pages' catalogues.
    When it changes, every page is re-read."""
    files = [project.root / "_config.yml", project.book_dir / "_toc.yml", project.bib_file]
    files += [*(project.sources_dir / "_ext").glob("*.py"), *(project.model_dir / "templates").glob("*")]
    files += [p for p in translation_files(project) if p.parent.name != "parameters" and p.name != "iff.po"]
    for p in project.sources_dir.rglob("*.md"):
        rel = p.relative_to(project.sources_dir)
        if (rel.parts[0] in GENERATED_SOURCES or rel.parts[:2] == ("reference", "inputs")
                or rel.as_posix() in ("reference/inputs.md", "reference/schema.md")):
            continue
        files.append(p)
    return hash_files(files, project.root, extra=str(sys.version_info[:2]))


def _sphinx_command(project: Project, output: Path, jobs: int, mode: str) -> list[str]:
    return [sys.executable, "-m", "methods.build.sphinxbuild", str(project.book_dir), str(output),
            str(project.root / "_config.yml"), str(project.book_dir / "_toc.yml"), str(jobs), mode, project.lang]


class PreparedBook:
    """A Sphinx process that loads its extensions and the previous build while the chapters are
    executed, then builds incrementally on request (see :mod:`methods.build.sphinxbuild`, mode ``serve``)."""

    def __init__(self, project: Project, jobs: int):
        self.log = project.logs_dir / f"book{project.suffix}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.log, "w", encoding="utf-8")
        self.proc = subprocess.Popen(_sphinx_command(project, project.staging_dir, jobs, "serve"), cwd=project.root,
                                     stdin=subprocess.PIPE, stdout=self._fh, stderr=subprocess.STDOUT, text=True)

    @classmethod
    def start(cls, project: Project, jobs: int) -> "PreparedBook | None":
        """Start only when the next build will probably be incremental (a previous build exists)."""
        if not (project.stamp("book-structure").exists() and (project.doctree_dir / "environment.pickle").exists()
                and (project.book_dir / "_toc.yml").exists()):
            return None
        return cls(project, jobs)

    def build(self) -> int:
        """Build into the staging folder (prepared from the last good build just before)."""
        self.proc.stdin.write("build\n")
        self.proc.stdin.close()
        rc = self.proc.wait()
        self._fh.close()
        return rc

    def cancel(self) -> None:
        """Stop the process: it has only read files so far, so it is simply killed."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._fh.close()


def stage(project: Project) -> Path:
    """A fresh staging folder holding a copy of the edition's last good build (an incremental
    build adds to it); the English copy leaves the Spanish edition (``es/``) out."""
    html, staging = project.html_dir, project.staging_dir
    shutil.rmtree(staging, ignore_errors=True)
    if html.is_dir():  # copies keep modification times: Sphinx compares them
        shutil.copytree(html, staging, symlinks=True,
                        ignore=(lambda d, names: ["es"] if Path(d) == html else []) if project.lang == "en" else None)
    return staging


def publish(project: Project, built: dict[str, bool]) -> None:
    """Replace the published editions by the ones just built (``built``: language -> whether it
    was built this time), in a few renames: the English book is ``_build/html``, the Spanish one
    ``_build/html/es``. Nothing is replaced unless every edition that was built succeeded."""
    en, es = Project(project.root, "en"), Project(project.root, "es")
    html, previous = en.html_dir, project.build_dir / ".html-previous"
    shutil.rmtree(previous, ignore_errors=True)
    if built.get("en"):
        staging = en.staging_dir
        pdf = en.pdf_file
        if pdf.is_file():  # the last PDF edition (`make pdf`) stays where the landing page links to it
            shutil.copyfile(pdf, staging / "handbook.pdf")
        if built.get("es"):
            os.rename(es.staging_dir, staging / "es")
        elif es.html_dir.is_dir():
            os.rename(es.html_dir, staging / "es")  # the Spanish edition as it was
        if html.exists():
            os.rename(html, previous)
        os.rename(staging, html)
    elif built.get("es"):
        if es.html_dir.exists():
            os.rename(es.html_dir, previous)
        html.mkdir(parents=True, exist_ok=True)
        os.rename(es.staging_dir, es.html_dir)
    if built.get("es"):
        pdf = es.pdf_file
        if pdf.is_file():
            shutil.copyfile(pdf, es.html_dir / "handbook.pdf")
    shutil.rmtree(previous, ignore_errors=True)


def is_current(project: Project) -> bool:
    """True when the edition's published build was made from exactly its present sources."""
    stamp = project.stamp("book-sources")
    return (project.html_dir.joinpath("index.html").exists() and stamp.exists()
            and stamp.read_text() == sources_hash(project))


def build_edition(project: Project, jobs: int = 1, force: bool = False, full: bool = False,
                  say=print, prepared: PreparedBook | None = None) -> tuple[bool, float, tuple[str, str]]:
    """Strict build of one edition (warnings are errors) into its staging folder. Returns (built,
    seconds, the fingerprints of its sources and structure taken before it read them); raises
    IffError when the build fails, after removing the staging folder.

    Every page is re-read when the book's structure changed since the last successful build (see
    :func:`structure_hash`), when there is no previous build, or with ``full``; otherwise only the
    pages whose sources changed, and the pages that paste numbers from them, are re-read.
    ``prepared``, started before the chapters were executed, is used for an incremental build
    and cancelled otherwise. :func:`publish` then puts the staged editions in place.
    """
    stamp, structure_stamp = project.stamp("book-sources"), project.stamp("book-structure")
    digest = sources_hash(project)
    structure = structure_hash(project)
    if (not force and not full and project.html_dir.joinpath("index.html").exists() and stamp.exists()
            and stamp.read_text() == digest):
        if prepared is not None:
            prepared.cancel()
        return False, 0.0, (digest, structure)
    incremental = (not full and not force and stamp.exists() and structure_stamp.exists()
                   and structure_stamp.read_text() == structure
                   and (project.doctree_dir / "environment.pickle").exists())
    what = ("only changed pages and the pages that quote them re-read; the book's structure is unchanged"
            if incremental else "every page re-read")
    name = {"en": "the book", "es": "the Spanish edition"}[project.lang]
    say(f"Building {name} (strict: warnings are errors, {what}; {jobs} process{'es' if jobs > 1 else ''}) ...")
    start = time.perf_counter()
    log = project.logs_dir / f"book{project.suffix}.log"
    if incremental:
        stage(project)
    else:
        shutil.rmtree(project.staging_dir, ignore_errors=True)
    if incremental and prepared is not None:
        returncode = prepared.build()
    else:
        if prepared is not None:
            prepared.cancel()
        log.parent.mkdir(parents=True, exist_ok=True)
        mode = "incremental" if incremental else "full"
        with open(log, "w", encoding="utf-8") as fh:
            returncode = subprocess.run(_sphinx_command(project, project.staging_dir, jobs, mode), cwd=project.root,
                                        stdout=fh, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - start
    if returncode == 0 and project.lang != "en":  # the build succeeds; the catalogues' gaps are said
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.startswith("iff: untranslated passages:"):
                say(f"Spanish edition: {line.removeprefix('iff: untranslated passages: ')} (run `iff i18n check`)")
    if returncode != 0:
        shutil.rmtree(project.staging_dir, ignore_errors=True)
        stamp.unlink(missing_ok=True)
        structure_stamp.unlink(missing_ok=True)  # the next build re-reads every page
        lines = log.read_text(encoding="utf-8").splitlines()
        problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln] or [ln for ln in lines if ln.strip()][-3:]
        shown = "\n".join("  " + p.replace(str(project.root) + "/", "") for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        what = "the book build" if project.lang == "en" else "the build of the Spanish edition"
        raise IffError(f"{what} failed ({len(problems)} problem(s); full log: {project.rel(log)}):\n{shown}{more}")
    return True, seconds, (digest, structure)


def commit_stamps(project: Project, digests: tuple[str, str]) -> None:
    """Record what the edition just published was built from (after :func:`publish`): the
    fingerprints taken before the build read its sources, so that a file changed during the build
    is built again next time."""
    write_if_changed(project.stamp("book-sources"), digests[0])
    write_if_changed(project.stamp("book-structure"), digests[1])


def edition_jobs(jobs: int, editions: int = 2) -> int:
    """The processes each edition's Sphinx build gets when the editions are built side by side."""
    return max(1, jobs // max(editions, 1))


def build_html(project: Project, jobs: int = 1, force: bool = False, full: bool = False, say=print,
               prepared: dict | None = None, editions: tuple[str, ...] = ("en", "es")) -> tuple[bool, float]:
    """Build both editions (each only if its sources changed), side by side — each in its own Sphinx
    process, sharing the cores (reading a page is not much faster split over two processes than in
    one; two editions at once are) — and publish them together: a failed build of either leaves the
    last good handbook, both languages, as it was. ``prepared``: the prepared Sphinx processes by
    language. Returns (anything built, the wall time of the builds in seconds)."""
    from concurrent.futures import ThreadPoolExecutor

    prepared = dict(prepared or {})
    editions = [Project(project.root, lang) for lang in editions]
    todo = [e for e in editions if force or full or not is_current(e)]
    for edition in editions:
        if edition not in todo and edition.lang in prepared:
            prepared.pop(edition.lang).cancel()
    if not todo:
        say("The book is up to date; nothing to build.")
        return False, 0.0
    start = time.perf_counter()
    built = {e.lang: False for e in editions}
    digests = {}
    try:
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            futures = {e.lang: pool.submit(build_edition, e, edition_jobs(jobs, len(todo)), force, full, say,
                                           prepared.pop(e.lang, None)) for e in todo}
            errors = []
            for lang, future in futures.items():
                try:
                    built[lang], _seconds, digests[lang] = future.result()
                except BaseException as exc:  # noqa: BLE001 - the other edition's build is awaited first
                    errors.append(exc)
        if errors:
            raise errors[0]
    except BaseException:
        for edition in editions:
            shutil.rmtree(edition.staging_dir, ignore_errors=True)
        raise
    finally:
        for p in prepared.values():
            p.cancel()
    if not any(built.values()):
        say("The book is up to date; nothing to build.")
        return False, 0.0
    publish(project, built)
    for edition in editions:
        if built[edition.lang]:
            commit_stamps(edition, digests[edition.lang])
    return True, time.perf_counter() - start
