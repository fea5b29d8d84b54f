"""Small Sphinx adjustments for the handbook.

* Pages that paste numbers glued in another page are re-read with it (see :func:`_glue_dependents`).
* Pages are read in parallel (see :func:`declare_parallel_safe`), citations are resolved
  without repeated plugin lookups (see :func:`_cache_pybtex_plugins`), and an incremental build
  reuses the formatted bibliography when nothing it depends on changed
  (see :func:`_cache_bibtex_formatting`).
* Page titles that the theme writes unescaped are escaped (see :func:`_escape_theme_titles`).
* Every page carries the edition and its date in its footer (:func:`_edition_footer`; the values
  come from the build, ``iff_edition`` and ``iff_edition_date``).
* Search finds section numbers such as "16.4.1": they are indexed and searched as one word
  (:func:`_dotted_number_search`), where Sphinx would split them into numbers it then ignores.
* The pages load no script twice. jupyter-book's Thebe support (live code cells, unused here)
  declares its configuration twice on some pages, which the browser reports as an error
  ("Identifier 'THEBE_JS_URL' has already been declared"), and names a script on an external host:
  its scripts are dropped, and so is the inline configuration block it appends to every page.
"""


import posixpath
import re


def _clean_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        filename = str(getattr(script, "filename", script) or "")
        body = str(getattr(script, "attributes", {}).get("body", ""))
        if "thebe" in filename.lower() or "THEBE_JS_URL" in body:
            continue
        key = (filename, body)
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def _escape_theme_titles(app, pagename, templatename, context, doctree):
    """sphinx-book-theme puts the page's title into the page as raw text (``pagetitle``, ``root_title``
    and ``page_description`` are ``astext()`` of the title, written unescaped by its templates): a
    country named ``<script>...`` would run in the reader's browser. They are escaped here, after the
    theme has set them."""
    import html

    for key in ("pagetitle", "root_title", "page_description"):
        if isinstance(context.get(key), str):
            context[key] = html.escape(context[key], quote=True)


def _drop_thebe_config(app, doctree, docname):
    """Remove the raw HTML blocks sphinx-thebe appends to each page (a Binder configuration naming
    an external repository, and a kernel name): nothing on the pages uses them."""
    from docutils import nodes

    for node in list(doctree.findall(nodes.raw)):
        text = node.astext()
        if "x-thebe-config" in text or text.strip().startswith("<script>kernelName ="):
            node.parent.remove(node)


def declare_parallel_safe(app, config):
    """Two extensions that jupyter-book loads do not say whether they are safe for parallel reading,
    which makes Sphinx read pages one at a time: sphinx-multitoc-numbering only renumbers the table of
    contents after all pages are read, in the main process; sphinx-jupyterbook-latex only acts in
    LaTeX builds."""
    for name in ("sphinx_multitoc_numbering", "sphinx_jupyterbook_latex"):
        ext = app.extensions.get(name)
        if ext is not None and ext.parallel_read_safe is None:
            ext.parallel_read_safe = True


def _cache_pybtex_plugins():
    """pybtex looks its plugins up in the installed packages' entry points on every citation, which
    takes about 20 ms each; the answer cannot change during a build.

    This wraps a private function of pybtex (``pybtex.plugin._load_entry_point``): pybtex offers no
    public way to cache its plugin look-ups. The patch is written for the pinned pybtex 0.26.1;
    ``tests/test_pins.py`` fails when the pin or the function's signature changes."""
    import functools

    import pybtex.plugin

    if not hasattr(pybtex.plugin._load_entry_point, "cache_info"):
        pybtex.plugin._load_entry_point = functools.lru_cache(maxsize=None)(pybtex.plugin._load_entry_point)


GLUE_REF = re.compile(r"([\w./-]+)\.ipynb::")


def _glue_dependents(app, env, added, changed, removed):
    """Pages that paste numbers glued in other pages must be re-read when those pages change.

    In an incremental build Sphinx re-reads only the pages whose source changed; a methodology page
    that quotes the training country's chapter (``{glue:text}`../countries/XRU/drugs.ipynb::key```)
    would keep stale numbers. This finds such pages and asks Sphinx to re-read them too.
    """
    touched = set(added) | set(changed)
    if not touched:
        return []
    extra = []
    for docname in env.found_docs:
        if docname in touched:
            continue
        path = env.doc2path(docname)
        if not str(path).endswith(".md"):
            continue
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        base = posixpath.dirname(docname)
        for ref in GLUE_REF.findall(text):
            target = posixpath.normpath(posixpath.join(base, ref))
            if target in touched:
                extra.append(docname)
                break
    return extra


def _cache_bibtex_formatting():
    """sphinxcontrib-bibtex formats every bibliography entry again on every build, even an
    incremental one where nothing cited changed (about a second for this handbook). The formatted
    entries are kept in Sphinx's environment, keyed by everything that determines them: the
    contents of the bibliography files, the directive's options and the citations of every page.
    A full build starts from a fresh environment, so it formats everything anew.

    sphinxcontrib-bibtex has no hook for caching formatted entries, so this replaces a method of its
    domain class. The patch is written for the pinned sphinxcontrib-bibtex 2.7.0;
    ``tests/test_pins.py`` fails when the pin or the method's signature changes."""
    import ast
    import hashlib
    from pathlib import Path

    from sphinxcontrib.bibtex.domain import BibtexDomain

    original = BibtexDomain.get_formatted_entries
    if getattr(original, "_iff_cached", False):
        return

    def get_formatted_entries(self, bibliography_key, docnames, tooltips, tooltips_style):
        bib = self.bibliographies[bibliography_key]
        digest = hashlib.sha256()
        for f in bib.bibfiles:
            digest.update(Path(f).read_bytes())
        refs = tuple(sorted((r.docname, tuple(t.key for t in r.targets)) for r in self.citation_refs))
        key = (digest.hexdigest(), tuple(bibliography_key), bib.style, bib.list_, bib.labelprefix, bib.keyprefix,
               ast.dump(bib.filter_), tuple(bib.keys), tooltips, tooltips_style, refs, tuple(sorted(docnames)))
        store = self.env.__dict__.setdefault("iff_bibtex_cache", {})
        if key not in store:
            store[key] = list(original(self, bibliography_key, docnames, tooltips, tooltips_style))
        return iter(store[key])

    get_formatted_entries._iff_cached = True
    BibtexDomain.get_formatted_entries = get_formatted_entries


def _edition_footer(app, pagename, templatename, context, doctree):
    """The edition and its date, and where to cite and download the handbook, in every page's footer."""
    import html

    version, date = app.config.iff_edition, app.config.iff_edition_date
    if not version:
        return
    pathto = context.get("pathto")
    cite = pathto("reference/cite") if pathto and "reference/cite" in app.env.found_docs else None
    line = f"Edition {html.escape(version)}, {html.escape(date)}."
    if cite:
        line += f' <a href="{cite}">How to cite this handbook</a>.'
    context["theme_extra_footer"] = f'<p class="iff-edition">{line}</p>' + (context.get("theme_extra_footer") or "")


def _dotted_number_search(app):
    """Index and search numbers such as 16.4.1 as one word (the indicator's number is how readers
    look for it); everything else is split as Sphinx splits it."""
    from sphinx.search.en import SearchEnglish

    class SearchEnglishDotted(SearchEnglish):
        _word_re = re.compile(r"\d+(?:\.\d+)+|\w+")
        js_splitter_code = (
            "function splitQuery(query) {\n"
            "  return query.match(/\\d+(?:\\.\\d+)+|[\\p{Letter}\\p{Number}_\\p{Emoji_Presentation}]+/gu) || [];\n"
            "}\n")

    app.add_search_language(SearchEnglishDotted)


def setup(app):
    app.add_config_value("iff_edition", "", "html")
    app.add_config_value("iff_edition_date", "", "html")
    _dotted_number_search(app)
    app.connect("html-page-context", _edition_footer, priority=900)
    _cache_pybtex_plugins()
    _cache_bibtex_formatting()
    app.connect("env-get-outdated", _glue_dependents)
    app.connect("html-page-context", _clean_scripts, priority=900)
    app.connect("html-page-context", _escape_theme_titles, priority=900)  # after the theme's own handler
    app.connect("doctree-resolved", _drop_thebe_config, priority=900)  # after sphinx-thebe's handler
    app.connect("config-inited", declare_parallel_safe)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
