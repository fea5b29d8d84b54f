"""Small Sphinx adjustments for the handbook.

* Pages that paste numbers glued in another page are re-read with it (see :func:`_glue_dependents`).
* Pages are read in parallel (see :func:`declare_parallel_safe`), citations are resolved
  without repeated plugin lookups (see :func:`_cache_pybtex_plugins`), and an incremental build
  reuses the formatted bibliography when nothing it depends on changed
  (see :func:`_cache_bibtex_formatting`), and the sidebar's table of contents is rendered once per
  page, not twice (see :func:`_render_the_sidebar_once`), from one rendering per edition with the
  page's marks (see :func:`_mark_the_sidebar_per_page`).
* Each edition has its own folder for the chapters' glued values and figures (:func:`_own_output_folder`).
* The theme's templates are compiled once and kept between builds (:func:`_keep_compiled_templates`).
* The Spanish pages' stored parse trees hold only the page (see :func:`_one_document`), and
  their translated paragraphs are parsed without building a new Markdown parser and a throwaway
  document for each (see :func:`_parse_translations_cheaply`).
* Page titles that the theme writes unescaped are escaped (see :func:`_escape_theme_titles`).
* Every page carries the edition and its date in its footer (:func:`_edition_footer`; the values
  come from the build, ``iff_edition`` and ``iff_edition_date``).
* Search finds section numbers such as "16.4.1": they are indexed and searched as one word
  (:func:`_dotted_number_search`), where Sphinx would split them into numbers it then ignores.
* Every page links to the same page in the other language (:func:`_language_switch`), with
  ``<link rel="alternate" hreflang>``; the edition's language (``iff_language``) sets ``<html lang>``.
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


def _words(app):
    """The translator of the edition's language (the handbook's catalogue ``iff.po``)."""
    from methods.model.i18n import Translator

    return Translator(app.config.iff_language)


def _edition_footer(app, pagename, templatename, context, doctree):
    """The edition and its date, and where to cite and download the handbook, in every page's footer."""
    import html

    version, date = app.config.iff_edition, app.config.iff_edition_date
    if not version:
        return
    tr = _words(app)
    pathto = context.get("pathto")
    cite = pathto("reference/cite") if pathto and "reference/cite" in app.env.found_docs else None
    line = html.escape(tr("Edition {version}, {date}.").format(version=version, date=date))
    how_to_cite = html.escape(tr("How to cite this handbook"))
    if cite:
        line += f' <a href="{cite}">{how_to_cite}</a>.'
    context["theme_extra_footer"] = f'<p class="iff-edition">{line}</p>' + (context.get("theme_extra_footer") or "")


def _generated_text_is_not_translated():
    """A transform marking the text of generated blocks (the landing page's key figures, included
    from ``_generated/`` inside a container of class ``iff-generated``) as not to be translated:
    the build writes them in each edition's language, with its numbers, so they are neither
    extracted into the catalogues nor looked up in them."""
    from docutils import nodes
    from sphinx.transforms import SphinxTransform

    class KeepGenerated(SphinxTransform):
        default_priority = 5  # before Sphinx's Locale (20) and the extraction of messages

        def apply(self, **kwargs):
            for box in self.document.findall(nodes.container):
                if "iff-generated" in box.get("classes", []):
                    for node in box.findall(nodes.Element):
                        node["translatable"] = False
                        if isinstance(node, nodes.image):
                            node.attributes.pop("translatable", None)

    return KeepGenerated


def _count_untranslated(app, doctree):
    """In a translated edition, how many passages of each page have no translation in its catalogue
    (Sphinx marks them; they are shown in English), leaving out the generated blocks, which are
    written in the edition's language. Reported at the end of the build."""
    from docutils import nodes

    if app.config.iff_language == "en":
        return
    generated = {id(n) for box in doctree.findall(nodes.container) if "iff-generated" in box.get("classes", [])
                 for n in box.findall(nodes.Element)}
    # an image counts only through its caption (the image itself is the same file in both editions)
    missing = sum(1 for n in doctree.findall(nodes.Element)
                  if n.get("translated") is False and id(n) not in generated and not isinstance(n, nodes.image))
    if missing:
        app.env.metadata[app.env.docname]["iff_untranslated"] = missing


def _report_untranslated(app, exception):
    if exception is not None or app.config.iff_language == "en":
        return
    pages = {d: m.get("iff_untranslated", 0) for d, m in app.env.metadata.items() if m.get("iff_untranslated")}
    if pages:
        worst = ", ".join(f"{d} ({n})" for d, n in sorted(pages.items(), key=lambda x: -x[1])[:5])
        print(f"iff: untranslated passages: {sum(pages.values())} in {len(pages)} page(s), shown in English: {worst}",
              flush=True)


def _spanish_citations():
    """Citations in the Spanish edition name two authors joined by "y" ("UNODC y UNCTAD, 2020"),
    as Spanish texts do: the author-year style of sphinxcontrib-bibtex with Spanish separators,
    registered through its plugin interface as ``author_year_es`` (the edition's configuration
    chooses it; see :func:`methods.build.sphinxbuild.language_config`)."""
    from dataclasses import dataclass, field

    from sphinxcontrib.bibtex.plugin import register_plugin
    from sphinxcontrib.bibtex.style.referencing import PersonStyle
    from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

    @dataclass
    class SpanishAuthorYearReferenceStyle(AuthorYearReferenceStyle):
        person: PersonStyle = field(default_factory=lambda: PersonStyle(sep2=" y ", last_sep=" y "))

    register_plugin("sphinxcontrib.bibtex.style.referencing", "author_year_es", SpanishAuthorYearReferenceStyle)


def _pasted_numbers_in_the_editions_language():
    """Numbers pasted from a chapter (``{glue:text}`key:,.1f```) are formatted by Python's format
    specifications, the English way; in the Spanish edition they are rewritten the Spanish way
    (decimal comma, thousands grouped by a narrow space) once pasted, on every page."""
    from sphinx.transforms.post_transforms import SphinxPostTransform

    class SpanishPastedNumbers(SphinxPostTransform):
        default_priority = 900  # after MyST-NB has pasted the glued values of other pages

        def run(self, **kwargs):
            if self.config.iff_language == "en":
                return
            from docutils import nodes

            from methods.model.i18n import Translator

            tr = Translator(self.config.iff_language)
            for node in list(self.document.findall(nodes.inline)):
                if "pasted-text" in node.get("classes", []):
                    text = node.astext()
                    converted = tr.numbers(text)
                    if converted != text:
                        node.children = [nodes.Text(converted)]

    return SpanishPastedNumbers


LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def _language_switch(app, pagename, templatename, context, doctree):
    """A link, at the top of every page, to the same page in the other edition (the English book is
    the site's root, the Spanish one its folder ``es/``), and the matching ``<link rel="alternate">``."""
    other = app.config.iff_other_language
    if not other or app.builder.name != "html" or pagename in ("genindex", "search"):
        return
    depth = pagename.count("/")
    href = "../" * depth + app.config.iff_other_root + pagename + ".html"
    name = LANGUAGE_NAMES[other]
    here = LANGUAGE_NAMES.get(app.config.iff_language, "")
    switch = (f'<nav class="iff-language" aria-label="{here} / {name}"><span class="iff-language-here">{here}</span> · '
              f'<a class="iff-language-other" href="{href}" hreflang="{other}" lang="{other}">{name}</a></nav>')
    if "body" in context:
        context["body"] = switch + context["body"]
    context["metatags"] = (context.get("metatags") or "") + f'\n<link rel="alternate" hreflang="{other}" href="{href}" />'


def _dotted_number_search(app):
    """Index and search numbers such as 16.4.1 as one word (the indicator's number is how readers
    look for it), in both languages; everything else is split as Sphinx splits it."""
    from sphinx.search.en import SearchEnglish
    from sphinx.search.es import SearchSpanish

    splitter = ("function splitQuery(query) {\n"
                "  return query.match(/\\d+(?:\\.\\d+)+|[\\p{Letter}\\p{Number}_\\p{Emoji_Presentation}]+/gu) || [];\n"
                "}\n")
    for base in (SearchEnglish, SearchSpanish):
        dotted = type(f"{base.__name__}Dotted", (base,), {"_word_re": re.compile(r"\d+(?:\.\d+)+|\w+"),
                                                          "js_splitter_code": splitter})
        app.add_search_language(dotted)


def _render_the_sidebar_once():
    """pydata-sphinx-theme renders every template of a page's sidebars once to see whether it is
    empty, then again into the page; for the book theme's navigation (``sbt-sidebar-nav.html``,
    the whole table of contents) that doubles the most expensive part of writing a page. The
    navigation is never empty in this handbook, so it is left out of that check, as the theme
    already does for its own navigation templates.

    The theme offers no setting for it: this wraps a private function of pydata-sphinx-theme
    (``utils._update_and_remove_templates``), written for the pinned 0.17.1;
    ``tests/test_pins.py`` fails when the pin or the function's signature changes."""
    from pydata_sphinx_theme import utils

    original = utils._update_and_remove_templates
    if getattr(original, "_iff_sidebar_once", False):
        return

    def update_and_remove_templates(app, context, templates, section, templates_skip_empty_check=None):
        skip = [*(templates_skip_empty_check or []), "sbt-sidebar-nav.html"]
        return original(app, context, templates, section, templates_skip_empty_check=skip)

    update_and_remove_templates._iff_sidebar_once = True
    utils._update_and_remove_templates = update_and_remove_templates


class _Sidebar:
    """The book theme's navigation (the whole table of contents) as the theme renders it for the
    root page, with what another page changes in it located: the start tag of each internal link,
    of each entry (``li``), of each entry's ``details`` and of each list (``ul``), and which entry
    and list hold which. Tags are edited as text, so the rest stays as the theme wrote it."""

    def __init__(self, html: str):
        from html.parser import HTMLParser

        self.html = html
        offsets = [0]
        for line in html.splitlines(keepends=True):
            offsets.append(offsets[-1] + len(line))
        self.links: list[tuple[int, str, int | None]] = []  # (start, tag, entry it is in)
        self.entries: list[dict] = []  # start, tag, parent entry, list it is in, details (start, tag)
        self.lists: list[tuple[int, str]] = []  # (start, tag)
        sidebar = self

        class Locate(HTMLParser):
            def __init__(self):
                super().__init__(convert_charrefs=True)
                self.open: list[tuple[str, int | None]] = []  # (tag, its index among entries or lists)

            def innermost(self, name):
                return next((i for tag, i in reversed(self.open) if tag == name), None)

            def handle_starttag(self, name, attrs):
                line, col = self.getpos()
                start, text = offsets[line - 1] + col, self.get_starttag_text()
                index = None
                if name == "li":
                    index = len(sidebar.entries)
                    sidebar.entries.append({"start": start, "tag": text, "parent": self.innermost("li"),
                                            "list": self.innermost("ul"), "details": None})
                elif name == "ul":
                    index = len(sidebar.lists)
                    sidebar.lists.append((start, text))
                elif name == "details":
                    entry = self.innermost("li")
                    if entry is not None and sidebar.entries[entry]["details"] is None:
                        sidebar.entries[entry]["details"] = (start, text)
                elif name == "a" and "internal" in (dict(attrs).get("class") or "").split():
                    sidebar.links.append((start, text, self.innermost("li")))
                self.open.append((name, index))

            def handle_endtag(self, name):
                while self.open and self.open.pop()[0] != name:
                    pass

        Locate().feed(html)

    _CLASS = re.compile(r'\sclass="([^"]*)"')
    _HREF = re.compile(r'\shref="([^"]*)"')

    @classmethod
    def _classes(cls, tag: str, edit) -> str:
        """The start tag with its class list edited (``edit(classes) -> classes``); a tag without
        a class attribute gets one after its name."""
        m = cls._CLASS.search(tag)
        if m is None:
            name_end = re.match(r"<\w+", tag).end()
            return f'{tag[:name_end]} class="{" ".join(edit([]))}"{tag[name_end:]}'
        return tag[:m.start(1)] + " ".join(edit(m.group(1).split())) + tag[m.end(1):]

    def for_page(self, page_uri: str, relative_uri) -> str | None:
        """The navigation on the page at ``page_uri`` (its path from the root, as the root page's
        links write it): every internal link made relative to the page; the page's own links
        marked ``current`` and pointing to ``#``; each entry that holds the page marked ``current
        active`` and opened; each list that holds it marked ``current`` — as Sphinx
        (``_toctree_add_classes``) and the theme (``generate_toctree_html``,
        ``add_collapse_checkboxes``) mark them. None when a link cannot be followed this way."""
        edits: dict[int, tuple[str, str]] = {}  # start -> (old tag, new tag)
        current: set[int] = set()
        for start, tag, entry in self.links:
            m = self._HREF.search(tag)
            if m is None or m.group(1).startswith("#") or ":" in m.group(1).split("#")[0]:
                return None
            target, _, anchor = m.group(1).partition("#")
            if target == page_uri and not anchor:
                new = self._classes(tag[:m.start(1)] + "#" + tag[m.end(1):], lambda c: ["current", *c])
                e = entry
                while e is not None:
                    current.add(e)
                    e = self.entries[e]["parent"]
            else:
                new = tag[:m.start(1)] + relative_uri(page_uri, target) + ("#" + anchor if anchor else "") + tag[m.end(1):]
            edits[start] = (tag, new)
        for i in current:
            e = self.entries[i]
            edits[e["start"]] = (e["tag"], self._classes(e["tag"], lambda c: [*c[:1], "current", "active", *c[1:]]))
            if e["details"] is not None:
                start, tag = e["details"]
                if tag != "<details>":
                    return None
                edits[start] = (tag, '<details open="open">')
            if e["list"] is not None:
                start, tag = self.lists[e["list"]]
                edits[start] = (tag, self._classes(tag, lambda c: ["current", *c]))
        out, at = [], 0
        for start in sorted(edits):
            old, new = edits[start]
            out.append(self.html[at:start])
            out.append(new)
            at = start + len(old)
        out.append(self.html[at:])
        return "".join(out)


def _mark_the_sidebar_per_page(app, pagename, templatename, context, doctree):
    """Every page's navigation lists every page of the book. For each page, Sphinx resolved the
    whole table of contents again (copying it node by node), rendered it to HTML, and the theme
    parsed that with BeautifulSoup to add its classes and toggles: a cost that grows with the
    number of pages on each page, so with the square of it for the book (at 100 countries, 46% of
    the English Sphinx build). The theme's own code now renders the navigation once per edition,
    as seen from the root page; each page gets it with its links made relative to the page and
    the page and the entries that hold it marked, as Sphinx and the theme mark them
    (:class:`_Sidebar`). With ``IFF_CHECK_SIDEBAR=1`` each page's navigation is also made by the
    theme and the build stops at the first page where the two differ; every book the tests build
    sets it (tests/conftest.py), and tests/test_book.py checks the marks against ones written by hand.
    The rendering is kept for the Sphinx process, which builds once: the table of contents is
    complete before the first page is written.

    Written for the pinned pydata-sphinx-theme 0.17.1 (``toctree.add_toctree_functions``) and
    Sphinx 7.4 (``_get_local_toctree``, ``relative_uri``); with ``collapse`` on (a navigation
    that differs by page beyond its marks) or a page whose own navigation cannot be made this
    way, the theme's function is used."""
    import os

    from pydata_sphinx_theme.toctree import add_toctree_functions
    from sphinx.util.osutil import relative_uri

    theme_function = context.get("generate_toctree_html")
    if theme_function is None or not hasattr(app.builder, "_get_local_toctree"):
        return
    cache = app.__dict__.setdefault("_iff_sidebars", {})
    builder = app.builder
    root = app.config.root_doc
    check = os.environ.get("IFF_CHECK_SIDEBAR") == "1"

    def generate_toctree_html(kind, startdepth=1, show_nav_level=1, **kwargs):
        if kind != "sidebar" or startdepth != 0 or str(kwargs.get("collapse", True)).lower() not in ("false", "0"):
            return theme_function(kind, startdepth, show_nav_level, **kwargs)
        key = (show_nav_level, tuple(sorted((k, str(v)) for k, v in kwargs.items())))
        sidebar = cache.get(key)
        if sidebar is None:
            seen_from_root = {"toctree": lambda **kw: builder._get_local_toctree(root, **kw)}
            add_toctree_functions(app, root, "page.html", seen_from_root, None)
            html = str(seen_from_root["generate_toctree_html"](kind, startdepth, show_nav_level, **kwargs))
            marked = re.search(r"class=\"[^\"]*\bcurrent\b", html)  # the root page is not in its own contents
            sidebar = cache[key] = _Sidebar(html) if marked is None else None
        made = sidebar.for_page(builder.get_target_uri(pagename), relative_uri) if sidebar is not None else None
        if made is None or check:
            theirs = str(theme_function(kind, startdepth, show_nav_level, **kwargs))
            if made is not None and made != theirs:
                import difflib

                diff = "\n".join(list(difflib.unified_diff(theirs.splitlines(), made.splitlines(), lineterm="", n=0))[:12])
                raise RuntimeError(f"the navigation made for {pagename} differs from the one the theme makes:\n{diff}")
            return theirs
        return made

    context["generate_toctree_html"] = generate_toctree_html


def _parse_translations_cheaply():
    """Sphinx translates a page paragraph by paragraph, parsing each translation as a document of
    its own (``sphinx.transforms.i18n.publish_msgstr``), and MyST-Parser did two things for each of
    those 1,700 small documents that made the Spanish Sphinx build 1.4 times as long as the English
    one (10.5 s against 7.3 s; 7.7 s without them):

    * it built a new Markdown parser (``create_md_parser``, with its renderer and plugins). The
      parser is kept and used again for the next text parsed with the same configuration; a text
      parsed while another is being parsed (a nested parse) gets a parser of its own.
    * it built, then threw away, a document with docutils' default settings (``setup_render``
      evaluates ``options.get("document", make_document())``, where the caller always passes the
      document). The default is no longer built when a document is passed.

    The renderer sets up all its per-document state at the start of every render
    (``setup_render``), so a parser used again renders exactly as a new one; tests/test_spanish.py
    checks that both editions' pages are byte for byte the same with and without this. Written for
    the pinned myst-parser 3.0.1 (``myst_parser.parsers.sphinx_.create_md_parser`` and
    ``DocutilsRenderer.setup_render``); tests/test_pins.py fails when the pin or the code changes."""
    from myst_parser.mdit_to_docutils import base
    from myst_parser.parsers import sphinx_ as myst_sphinx

    create = myst_sphinx.create_md_parser
    if getattr(create, "_iff_kept", False):
        return
    idle: dict = {}  # (id(config), renderer class) -> (config, parsers not in use)

    def create_md_parser(config, renderer):
        key = (id(config), renderer)
        kept = idle.get(key)
        if kept is None or kept[0] is not config:
            if len(idle) > 64:  # pages with their own configuration (front matter): keep few
                idle.clear()
            kept = idle[key] = (config, [])
        if kept[1]:
            return kept[1].pop()
        md = create(config, renderer)
        render = md.render

        def render_then_give_back(src, env=None):
            try:
                return render(src, env)
            finally:
                kept[1].append(md)

        md.render = render_then_give_back
        return md

    create_md_parser._iff_kept = True
    create_md_parser.__wrapped__ = create
    myst_sphinx.create_md_parser = create_md_parser

    setup_render = base.DocutilsRenderer.setup_render

    def setup_render_with_its_document(self, options, env):
        if "document" not in options:
            return setup_render(self, options, env)
        make_document = base.make_document
        base.make_document = lambda *args, **kwargs: None  # the default, unused: options has the document
        try:
            return setup_render(self, options, env)
        finally:
            base.make_document = make_document

    setup_render_with_its_document.__wrapped__ = setup_render
    base.DocutilsRenderer.setup_render = setup_render_with_its_document


def _one_document(app, doctree):
    """Every node of a page points to the page's document. Sphinx translates a paragraph by
    parsing the translation as a document of its own and moving its nodes into the page; those
    nodes kept pointing to that document, whose settings hold the whole build environment, so
    each Spanish page's stored parse tree carried a copy of the environment (1 MB a page instead
    of 30 KB) that every incremental build loaded again."""
    for node in doctree.findall(include_self=False):
        if node.__dict__.get("_document") not in (None, doctree):
            node.document = doctree


def _own_output_folder(app):
    """Each edition writes its chapters' executed copies, glued values and figures to a folder of
    its own (``_build/jupyter_execute`` in English, ``_build/jupyter_execute-es`` in Spanish).
    MyST-NB puts them beside the output folder, in a folder both editions shared: built side by side,
    one edition wrote a chapter's glued values (``<page>.glue.json``, different in each language)
    while the other read them, and a page could paste the other language's values or fail to
    read them at all."""
    from pathlib import Path

    config = getattr(app.env, "mystnb_config", None)
    if config is None:
        return
    lang = app.config.iff_language
    folder = Path(app.outdir).parent / ("jupyter_execute" if lang == "en" else f"jupyter_execute-{lang}")
    app.env.mystnb_config = config.copy(output_folder=str(folder.resolve()))


def _keep_compiled_templates(app):
    """The theme's HTML templates, compiled once and kept (jinja2's bytecode cache, in the
    edition's doctree folder): each Sphinx process used to compile them again, about a second of
    every build. A template whose source changed is compiled again (the cache is keyed by it)."""
    from pathlib import Path

    from jinja2 import FileSystemBytecodeCache

    templates = getattr(app.builder, "templates", None)
    environment = getattr(templates, "environment", None)
    if environment is None:
        return
    folder = Path(app.doctreedir) / "jinja"
    folder.mkdir(parents=True, exist_ok=True)
    environment.bytecode_cache = FileSystemBytecodeCache(str(folder))


def setup(app):
    app.add_config_value("iff_edition", "", "html")
    app.add_config_value("iff_edition_date", "", "html")
    app.add_config_value("iff_language", "en", "html")
    app.add_config_value("iff_other_language", "", "html")
    app.add_config_value("iff_other_root", "", "html")
    app.connect("html-page-context", _language_switch, priority=950)
    app.add_transform(_generated_text_is_not_translated())
    app.add_post_transform(_pasted_numbers_in_the_editions_language())
    app.connect("doctree-read", _count_untranslated)
    app.connect("doctree-read", _one_document, priority=900)  # after every transform of the page
    app.connect("build-finished", _report_untranslated)
    _dotted_number_search(app)
    _spanish_citations()
    app.connect("html-page-context", _edition_footer, priority=900)
    _cache_pybtex_plugins()
    _cache_bibtex_formatting()
    _render_the_sidebar_once()
    _parse_translations_cheaply()
    app.connect("env-get-outdated", _glue_dependents)
    app.connect("html-page-context", _mark_the_sidebar_per_page, priority=600)  # after the theme's functions
    app.connect("html-page-context", _clean_scripts, priority=900)
    app.connect("html-page-context", _escape_theme_titles, priority=900)  # after the theme's own handler
    app.connect("doctree-resolved", _drop_thebe_config, priority=900)  # after sphinx-thebe's handler
    app.connect("config-inited", declare_parallel_safe)
    app.connect("builder-inited", _keep_compiled_templates)
    app.connect("builder-inited", _own_output_folder, priority=900)  # after MyST-NB set the shared one
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
