"""The Spanish edition: every page in Spanish, from the same execution as the English one.

The built handbook (``built_book``, one `iff build` per test session) holds the English edition in
``_build/html`` and the Spanish one in ``_build/html/es``. These tests read the built pages: each
English page has its Spanish counterpart and a switch to it (and back), ``<html lang>`` is right,
the Spanish pages are written in Spanish (English function words in at most 1% of their words,
outside code and bibliography entries), numbers are written the Spanish way, and Peru's Spanish
chapter shows the numbers and figures of the English one.
"""
from __future__ import annotations

import html.parser
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_iff

pytestmark = pytest.mark.slow

SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
ASSETS = {"_static", "_sources", "_images", "_downloads", "mathjax", "downloads", "es"}
# English words that are not Spanish words: a Spanish page that holds them has English text in it
ENGLISH_FUNCTION_WORDS = {
    "the", "and", "of", "which", "with", "from", "that", "this", "these", "those", "is", "are", "was", "were",
    "for", "to", "in", "on", "by", "an", "or", "be", "it", "its", "at", "but", "has", "have", "their", "each",
    "where", "when", "what", "who", "than", "into", "between", "only", "also", "not", "there",
}


def english_pages(html_root: Path) -> list[Path]:
    return sorted(p for p in html_root.rglob("*.html")
                  if p.relative_to(html_root).parts[0] not in ASSETS and p.name not in SKIP_PAGES)


class VisibleText(html.parser.HTMLParser):
    """The text a reader sees in a page's article and navigation, without code, formulas, scripts
    or the entries of the bibliography (titles of publications keep their language)."""

    SKIPPED = {"script", "style", "code", "pre", "kbd", "math", "svg", "mjx-container", "title", "head"}

    def __init__(self):
        super().__init__()
        self.words: list[str] = []
        self.stack: list[tuple[str, bool]] = []
        self.lang = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        classes = set((a.get("class") or "").split())
        skip = (tag in self.SKIPPED or bool(classes & {"citation", "bibliography", "highlight", "math", "notranslate",
                                                       "iff-language"})
                or a.get("role") == "doc-biblioentry" or a.get("aria-hidden") == "true")
        if tag in ("br", "img", "meta", "link", "input", "hr", "source", "wbr"):
            return
        self.stack.append((tag, skip or any(s for _, s in self.stack)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if self.stack and self.stack[-1][1]:
            return
        self.words += re.findall(r"[^\W\d_]+", data.lower())


def read(page: Path) -> VisibleText:
    parser = VisibleText()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_every_page_has_its_spanish_counterpart_and_a_switch_both_ways(built_book):
    html_root = built_book / "_build" / "html"
    pages = english_pages(html_root)
    assert len(pages) > 30
    missing, no_switch = [], []
    for page in pages:
        rel = page.relative_to(html_root)
        spanish = html_root / "es" / rel
        if not spanish.is_file():
            missing.append(str(rel))
            continue
        for here, there in ((page, spanish), (spanish, page)):
            m = re.search(r'<a class="iff-language-other" href="([^"]+)"', here.read_text(encoding="utf-8"))
            if not m or (here.parent / m.group(1)).resolve() != there.resolve():
                no_switch.append(str(here.relative_to(html_root)))
    assert not missing, f"{len(missing)} of {len(pages)} pages have no Spanish counterpart: {missing[:10]}"
    assert not no_switch, f"pages without a switch to the same page in the other language: {no_switch[:10]}"


def test_each_edition_declares_its_language(built_book):
    html_root = built_book / "_build" / "html"
    for page in english_pages(html_root)[:60]:
        assert read(page).lang == "en", page
        assert read(html_root / "es" / page.relative_to(html_root)).lang == "es", page


def test_spanish_pages_hold_no_english_text(built_book):
    """At most 1% of the words of any Spanish page are English function words ("the", "and",
    "of", "which" ...), outside code, formulas and bibliography entries."""
    html_root = built_book / "_build" / "html" / "es"
    worst = []
    for page in english_pages(html_root.parent):
        text = read(html_root / page.relative_to(html_root.parent))
        english = [w for w in text.words if w in ENGLISH_FUNCTION_WORDS]
        share = len(english) / max(len(text.words), 1)
        if share > 0.01:
            worst.append((share, str(page.relative_to(html_root.parent)), sorted(set(english))[:12]))
    worst.sort(reverse=True)
    assert not worst, "Spanish pages with English text:\n" + "\n".join(
        f"  {p}: {100 * s:.1f}% ({', '.join(w)})" for s, p, w in worst[:15])


def _numbers(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return re.findall(r"\d[\d,.\u202f\u00a0]*\d", re.sub(r"<[^>]+>", " ", text))


def test_perus_spanish_chapter_shows_the_english_chapters_numbers_and_figures(built_book):
    html_root = built_book / "_build" / "html"
    en, es = html_root / "countries" / "PER" / "drugs.html", html_root / "es" / "countries" / "PER" / "drugs.html"
    en_text, es_text = en.read_text(encoding="utf-8"), es.read_text(encoding="utf-8")
    # the key figures: the same numbers, written the Spanish way (decimal comma, grouped by a narrow space)
    key = re.search(r'<div class="iff-key-figures".*?</div>', en_text, re.S).group(0)
    key_es = re.search(r'<div class="iff-key-figures".*?</div>', es_text, re.S).group(0)
    numbers = re.findall(r"(?<![\d.,])\d{1,3}(?:,\d{3})*\.\d(?![\d.])", key)
    assert len(numbers) >= 9
    from methods.model.i18n import spanish_numbers

    for n in numbers:
        assert spanish_numbers(n) in key_es, n
    assert "Cifras clave" in key_es and "Key figures" not in key_es
    # the same figures: as many, and the same SVG drawings apart from their words
    figures_en = re.findall(r"<svg|<img", en_text)
    figures_es = re.findall(r"<svg|<img", es_text)
    assert len(figures_en) == len(figures_es) and len(figures_en) >= 4
    # a Spanish number is never written the English way in the Spanish chapter's own text
    body = re.sub(r"<(script|style|code|pre)[^>]*>.*?</\1>", " ", es_text, flags=re.S)
    english_style = [n for n in re.findall(r"(?<![\d.,])\d{1,3}(?:,\d{3})+\.\d+(?![\d,])", re.sub(r"<[^>]+>", " ", body))]
    assert not english_style, english_style[:5]


def test_search_works_in_spanish(built_book):
    index = (built_book / "_build" / "html" / "es" / "searchindex.js").read_text(encoding="utf-8")
    assert "16.4.1" in index
    assert '"ilícit' in index or "ilicit" in index  # Spanish words, stemmed by the Spanish stemmer
    assert "LANGUAGE: 'es'" in (built_book / "_build" / "html" / "es" / "_static" / "documentation_options.js").read_text()


def test_a_spanish_page_stores_only_itself(built_book):
    """Translated paragraphs are parsed as documents of their own; once moved into the page, their
    nodes belong to the page, so a stored Spanish page does not carry the build environment."""
    import pickle

    folder = built_book / "_build" / ".doctrees-es"
    for name in ("index.doctree", "methodology/drugs.doctree", "countries/PER/drugs.doctree"):
        with open(folder / name, "rb") as fh:
            doctree = pickle.load(fh)
        assert all(node.document is doctree for node in doctree.findall()), name
        english = built_book / "_build" / ".doctrees" / name
        assert (folder / name).stat().st_size < 3 * english.stat().st_size, name


def test_pages_are_the_same_when_translations_are_parsed_with_a_kept_parser(built_book, tmp_path):
    """The handbook's extension keeps MyST's Markdown parser between the translated paragraphs and
    builds no throwaway document for each (``_parse_translations_cheaply``): both editions, built
    in full with and without it, must be byte for byte the same, every page and the search index."""
    import shutil
    import subprocess
    import sys

    plain = ("import sys; sys.path.insert(0, sys.argv[1] + '/book/_ext'); import iff_sphinx; "
             "iff_sphinx._parse_translations_cheaply = lambda: None; from methods.build import sphinxbuild; "
             "sys.exit(sphinxbuild.main(sys.argv[2:]))")
    kept = "import sys; from methods.build import sphinxbuild; sys.exit(sphinxbuild.main(sys.argv[2:]))"
    builds = []
    for way, code in (("kept", kept), ("plain", plain)):
        root = tmp_path / way
        shutil.copytree(built_book, root, symlinks=True, ignore=shutil.ignore_patterns("html", "pdf"))
        for lang, source in (("en", root / "book"), ("es", root / "_build" / "src-es")):
            out = tmp_path / f"{way}-{lang}"
            args = [str(source), str(out), str(root / "_config.yml"), str(source / "_toc.yml"), "1", "full", lang]
            builds.append((out, subprocess.Popen([sys.executable, "-c", code, str(root), *args], cwd=root,
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
    for out, proc in builds:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{out.name}: {err[-2000:]}"
    for lang in ("en", "es"):
        a, b = tmp_path / f"kept-{lang}", tmp_path / f"plain-{lang}"
        files = sorted(f.relative_to(a) for f in a.rglob("*") if f.is_file())
        assert files == sorted(f.relative_to(b) for f in b.rglob("*") if f.is_file())
        assert len([f for f in files if f.suffix == ".html"]) >= 40
        different = [str(f) for f in files if (a / f).read_bytes() != (b / f).read_bytes()]
        assert not different, f"{lang}: {different[:5]}"


def test_each_edition_keeps_its_own_glued_values(built_book):
    """The editions are built side by side; each writes its chapters' glued values to a folder of
    its own, so neither reads the other's (once a build failed reading a file the other edition was
    writing, and a page could have pasted the other language's values)."""
    import json

    def figure(folder: str) -> str:
        glued = json.loads((built_book / "_build" / folder / "countries" / "PER" / "drugs.glue.json").read_text())
        return glued["fig_iff"]["data"]["image/svg+xml"]

    assert "IFFs from drug trafficking by product" in figure("jupyter_execute")
    spanish = figure("jupyter_execute-es")
    assert "FFI por tráfico de drogas, por producto" in spanish and "drug trafficking" not in spanish


def test_the_themes_templates_are_compiled_once_and_kept(built_book):
    """Each edition's Sphinx process keeps the templates it compiled (jinja2's bytecode cache in the
    edition's doctree folder), so the next build loads them instead of compiling them again."""
    for folder in (".doctrees", ".doctrees-es"):
        kept = list((built_book / "_build" / folder / "jinja").glob("__jinja2_*.cache"))
        assert len(kept) >= 10, folder  # the page layout and the theme's components


def test_the_search_index_is_stemmed_by_the_c_stemmer_with_the_stems_of_the_python_one():
    """PyStemmer (pinned) makes the search index's stemming about a hundred times faster than
    snowballstemmer's pure-Python stemmers, which Sphinx asks for; both implement the same
    Snowball algorithms, and every word of the handbook's pages and catalogues gets the same stem
    from both, so the index matches what the search page's JavaScript stemmer looks for."""
    import re

    import snowballstemmer
    import Stemmer
    from snowballstemmer import porter_stemmer, spanish_stemmer

    assert isinstance(snowballstemmer.stemmer("spanish"), Stemmer.Stemmer)  # what Sphinx gets
    words = set()
    for p in [*(REPO / "book").rglob("*.md"), *(REPO / "book" / "locales").rglob("*.po")]:
        words |= {w.lower() for w in re.findall(r"\w+", p.read_text(encoding="utf-8"))}
    assert len(words) > 3000
    for name, pure in (("spanish", spanish_stemmer.SpanishStemmer()), ("porter", porter_stemmer.PorterStemmer())):
        fast = Stemmer.Stemmer(name)
        assert [w for w in sorted(words) if fast.stemWord(w) != pure.stemWord(w)] == [], name


def test_the_spanish_pdf_edition_holds_the_spanish_handbook(built_book):
    pdf = built_book / "_build" / "pdf" / "handbook.es.pdf"
    if not pdf.is_file():
        pytest.skip("the PDF editions need Chromium (apt-get install chromium)")
    from pypdf import PdfReader

    text = " ".join((page.extract_text() or "") for page in PdfReader(str(pdf)).pages[:40])
    assert "flujos financieros ilícitos" in text.lower()
    assert (built_book / "_build" / "html" / "es" / "handbook.pdf").is_file()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_landing_page_links_to_the_pdf_edition_only_once_it_is_printed(lang):
    from methods.build.render import render

    def landing(pdf: bool) -> str:
        return render("landing.md.j2", lang, version="1.0", date="2026-12-04", rows=[], last_year=None, table=None, pdf=pdf)

    assert 'href="handbook.pdf"' in landing(True)
    before = landing(False)
    assert 'href="handbook.pdf"' not in before and "`make pdf`" in before
    assert ("not printed yet" in before) == (lang == "en") and ("aún no impresa" in before) == (lang == "es")


def test_every_message_is_translated_and_current():
    """`iff i18n check` fails when a catalogue has untranslated or outdated messages, or when the
    sources hold a message the catalogues do not."""
    result = run_iff("i18n", "check", cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "translated and current" in result.stdout


def test_validation_errors_speak_spanish_under_a_spanish_locale(tmp_path):
    from conftest import copy_repo

    root = copy_repo(tmp_path / "repo", countries=["XRU"])
    path = root / "parameters" / "XRU.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("values: {2018: 2.0, 2019: 2.5}",
                                                             "values: {2018: \"2,0\", 2019: 2.5}"), encoding="utf-8")
    env_es = dict(LANG="es_CO.UTF-8")
    spanish = subprocess.run([sys.executable, "-m", "methods.build.cli", "validate", "parameters/XRU.yml"], cwd=root,
                             capture_output=True, text=True, env={**__import__("os").environ, **env_es})
    english = run_iff("validate", "parameters/XRU.yml", cwd=root)
    assert spanish.returncode == english.returncode == 1
    line_es = spanish.stdout.strip().splitlines()[0]
    line_en = english.stdout.strip().splitlines()[0]
    # the same problem, at the same place, in the user's language
    assert line_es.split(": ")[:2] == line_en.split(": ")[:2]
    assert "coma decimal" in line_es and "decimal comma" in line_en
    assert "2.0" in line_es  # the number to write instead, the same in both languages
