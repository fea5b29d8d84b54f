"""Run jupyter-book's Sphinx build in its own process (called by :func:`methods.build.pages.build_html`).

Usage: python -m methods.build.sphinxbuild SOURCE_DIR OUTPUT_DIR CONFIG_YML TOC_YML JOBS MODE [LANG]

MODE ``full`` is ``jupyter-book build SOURCE --all -W -n --keep-going`` (every page re-read),
``singlehtml`` the same as one page (for the PDF edition),
plus parallel jobs, which jupyter-book's command line does not expose. ``incremental`` re-reads
only the pages whose sources changed and the pages that depend on them, still with warnings as
errors. ``serve`` prepares an incremental build (loads the extensions and the previous
environment), prints ``ready``, and waits for one line on its standard input: ``build`` builds,
anything else exits without building. `iff build` uses it to prepare the book while the chapters
are executed. ``LANG`` (``en`` by default, or ``es``) is the edition's language: the Spanish
edition's pages are translated from the catalogues as they are read (see :mod:`methods.build.editions`).
"""
import gc
import os
import sys
from pathlib import Path

# Python's cyclic garbage collector, for a process that builds a large, long-lived set of objects
# (the extensions, the build environment, the parse trees) and frees few of them: a first-generation
# collection after every 10,000 new objects instead of 700, so that full collections, which visit
# every object there is, come less often. Measured on the handbook's clean build: the collector took
# a fifth of each edition's build (1.1 s of 5.5 s in English); with this and ``_freeze_setup``, 0.4 s.
GC_THRESHOLDS = (10_000, 10, 10)
# ``serve``: the process prepares the book while the chapters are executed, which come first (the
# book waits for them): it runs at a lower priority, on what processor time the chapters leave
SERVE_NICENESS = 10


def _freeze_setup() -> None:
    """Leave what exists before the build starts (Sphinx, its extensions, the environment of the
    previous build) out of every later collection: most of it lives until the process ends, and
    each full collection visited all of it again. What of it is freed is freed by reference
    counting, as before (only a reference cycle among these objects would stay until the end)."""
    gc.collect()
    gc.freeze()


def language_config(project, sphinx_config: dict, lang: str) -> dict:
    """The configuration of one edition: in Spanish, the language (Sphinx's and the theme's own
    words, the search's stemmer, ``<html lang>``), the compiled catalogues of the pages, and the
    handbook's title, footer and search prompt from the catalogue ``iff.po``."""
    from methods.model.i18n import Translator

    other = {"en": "es", "es": "en"}[lang]
    if lang == "en" and not (type(project)(project.root, "es").book_dir / "_toc.yml").is_file():
        other = ""  # an English-only handbook (`--editions en`, never built in Spanish): no switch
    sphinx_config.update(iff_language=lang, iff_other_language=other,
                         iff_other_root=f"{other}/" if lang == "en" else "../")
    if lang == "en":
        sphinx_config.setdefault("language", "en")
        return sphinx_config
    tr = Translator(lang)
    theme = dict(sphinx_config.get("html_theme_options") or {})
    for key in ("search_bar_text", "extra_footer"):
        if isinstance(theme.get(key), str):
            theme[key] = tr(" ".join(theme[key].split()))
    sphinx_config.update(
        language=lang, locale_dirs=[str(project.locale_build_dir)], gettext_compact=False,
        gettext_auto_build=False, translation_progress_classes="untranslated", html_theme_options=theme,
        bibtex_reference_style=f"{sphinx_config.get('bibtex_reference_style', 'author_year')}_{lang}")
    if isinstance(sphinx_config.get("copyright"), str) and isinstance(sphinx_config.get("author"), str):
        sphinx_config["copyright"] = sphinx_config["copyright"].replace(sphinx_config["author"], tr(sphinx_config["author"]))
    for key in ("project", "html_title", "author"):
        if isinstance(sphinx_config.get(key), str):
            sphinx_config[key] = tr(sphinx_config[key])
    return sphinx_config


def build(source, output, config, toc, jobs, fresh, wait_for_go=False, builder="html", lang="en") -> int:
    from jupyter_book.config import get_final_config
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    source, output = Path(source), Path(output)
    from methods.build.project import Project, edition

    project = Project.find(source)
    version, date = edition(project.root, lang)
    overrides = {"external_toc_path": Path(toc).as_posix(), "latex_individualpages": False, "nitpicky": True,
                 "iff_edition": version, "iff_edition_date": date,
                 "myst_substitutions": {"edition": version, "edition_year": date.split()[-1]},
                 "gettext_compact": False, "gettext_additional_targets": []}
    sphinx_config, _ = get_final_config(user_yaml=Path(config), cli_config=overrides, sourcedir=source,
                                        use_external_toc=True)
    sphinx_config = language_config(project, sphinx_config, lang)
    doctrees = Project(project.root, lang).doctree_dir if builder == "html" else output.parent / f".doctrees-{builder}-{lang}"
    with patch_docutils(str(source)), docutils_namespace():
        app = Sphinx(srcdir=str(source), confdir=None, outdir=str(output), doctreedir=str(doctrees),
                     buildername=builder, confoverrides=sphinx_config, status=sys.stdout, warning=sys.stderr,
                     freshenv=fresh, warningiserror=builder != "gettext", keep_going=True, parallel=int(jobs))  # messages are extracted even from a book with no chapters yet
        # as jupyter-book does: continuous section numbers across the parts of the table of contents
        if app.config["use_multitoc_numbering"] and "external_toc_path" in app.config:
            import yaml

            if "numbered: true" in yaml.dump(app.config.external_site_map.as_json()):
                app.setup_extension("sphinx_multitoc_numbering")
                # loaded after the handbook's extension declared the others parallel-safe: again
                app.extensions["iff_sphinx"].module.declare_parallel_safe(app, app.config)
        if wait_for_go:
            _compile_templates(app)
            _compile_selectors()
            print("ready", flush=True)
            if sys.stdin.readline().strip() != "build":
                return 0
        _freeze_setup()
        app.build(force_all=fresh)
        if app.statuscode != 0:
            return 1
        if builder == "html":
            remove_orphan_pages(output, app.env.found_docs)
        return 0


SPECIAL_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads", "mathjax", "es"}  # es: the Spanish edition


def remove_orphan_pages(output: Path, docnames) -> list[Path]:
    """Delete the HTML pages whose source is gone (a country removed from parameters/, or the
    placeholder page once there are countries): an incremental build does not. Returns them."""
    keep = {f"{d}.html" for d in docnames} | SPECIAL_PAGES
    gone = []
    for page in output.rglob("*.html"):
        rel = page.relative_to(output).as_posix()
        if rel.split("/", 1)[0] not in ASSET_DIRS and rel not in keep:
            page.unlink()
            gone.append(page)
    return gone


def _compile_templates(app) -> None:
    """Compile the theme's HTML templates now (about a second), while the chapters run, rather
    than while the reader waits for the first page to be written."""
    templates = getattr(app.builder, "templates", None)
    for loader in getattr(templates, "loaders", []):
        try:
            names = loader.list_templates()
        except Exception:  # noqa: BLE001 - a loader that cannot list its templates is skipped
            continue
        for name in names:
            if name.endswith(".html"):
                try:
                    templates.environment.get_template(name)
                except Exception:  # noqa: BLE001 - only a warm-up; the build reports real errors
                    pass


# the CSS selectors the theme's table of contents looks elements up with (pydata_sphinx_theme.toctree)
THEME_SELECTORS = ("li", "li.toctree-l1 > details", ".toc-h1", ".toc-h2", "details > a.reference", "details > p.caption")


def _compile_selectors() -> None:
    """Compile the theme's CSS selectors now, while the chapters run: soupsieve compiles the regular
    expressions of its selector parser when it first parses a selector (about 0.1 s of each edition's
    build). Only a warm-up: a selector not listed is compiled when used, as before."""
    try:
        import soupsieve

        for selector in THEME_SELECTORS:
            soupsieve.compile(selector)
    except Exception:  # noqa: BLE001 - the build itself reports real errors
        pass


def main(argv: list[str]) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    source, output, config, toc, jobs, *rest = argv
    mode = (rest or ["full"])[0]
    lang = rest[1] if len(rest) > 1 else "en"
    if mode == "serve":
        os.nice(SERVE_NICENESS)
    try:
        if mode in ("singlehtml", "gettext"):  # the whole book as one page (PDF); the messages to translate
            return build(source, output, config, toc, jobs, fresh=True, builder=mode, lang=lang)
        return build(source, output, config, toc, jobs, fresh=mode == "full", wait_for_go=mode == "serve", lang=lang)
    except Exception as exc:  # noqa: BLE001 - reported to the caller through the log
        print(f"ERROR: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # the build has written and closed everything: skip the interpreter's slow teardown (~0.7 s
    # of freeing the environment and parse trees), which the reader would otherwise wait for
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
