"""The built handbook in a real browser: headless Chromium (the Debian package) driven by Selenium.

Pages are served from a local HTTP server. The tests check that country pages show their headline
numbers and figures (images actually loaded), that formulas are rendered by the vendored MathJax,
that the search page finds a country, that no page requests another host and that the browser
console shows no errors. Screenshots are kept in tests/artefacts/.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import serve_folder

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ARTEFACTS = Path(__file__).parent / "artefacts"
ARTEFACTS.mkdir(exist_ok=True)


@pytest.fixture(scope="module")
def server(built_book):
    with serve_folder(built_book / "_build" / "html") as url:
        yield url


def open_page(driver, url: str, wait_for: str = "return document.readyState === 'complete'", timeout: float = 20):
    driver.get(url)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if driver.execute_script(wait_for):
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting on {url}: {wait_for}")


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def external_requests(driver, server: str) -> list[str]:
    names = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [n for n in names if not n.startswith(server) and not n.startswith("data:")]


@pytest.mark.parametrize("chapter,headline", [
    ("countries/COL/drugs", "inward IFFs from drug trafficking were"),
    ("countries/PER/drugs", "inward IFFs from drug trafficking were"),
    ("countries/ECU/drugs", "inward IFFs from drug trafficking were"),
    ("countries/MEX/drugs", "inward IFFs from drug trafficking were"),
    ("countries/MEX/smuggling", "inward IFFs from smuggling of migrants were"),
])
def test_country_page_shows_headline_numbers_and_figures(browser, server, chapter, headline):
    browser.get_log("browser")  # start from a clean console for this page
    open_page(browser, f"{server}/{chapter}.html",
              "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)")
    text = browser.find_element("tag name", "body").text
    assert headline in text
    assert "million" in text
    images = browser.execute_script(
        "return Array.from(document.querySelectorAll('main img, article img')).map(i => [i.src, i.naturalWidth])")
    assert len(images) >= 3, images
    assert all(width > 0 for _, width in images), [src for src, w in images if w == 0]
    assert not console_errors(browser)
    assert not external_requests(browser, server)
    browser.save_screenshot(str(ARTEFACTS / f"{chapter.replace('/', '-')}.png"))


def test_formulas_render_with_the_vendored_mathjax(browser, server):
    browser.get_log("browser")
    open_page(browser, f"{server}/methodology/drugs.html",
              "return document.querySelectorAll('mjx-container').length > 10", timeout=30)
    assert not external_requests(browser, server)
    assert not console_errors(browser)
    browser.save_screenshot(str(ARTEFACTS / "methodology-drugs.png"))


def test_search_finds_a_country(browser, server):
    open_page(browser, f"{server}/search.html?q=Colombia",
              "return document.querySelectorAll('#search-results li, ul.search li').length > 0", timeout=30)
    results = browser.find_element("css selector", "#search-results, ul.search").text
    assert "Colombia" in results
    browser.save_screenshot(str(ARTEFACTS / "search-colombia.png"))


def test_landing_page_has_no_console_errors(browser, server):
    browser.get_log("browser")
    open_page(browser, f"{server}/index.html")
    assert "Illicit financial flows" in browser.title
    assert not console_errors(browser)
    assert not external_requests(browser, server)
    browser.save_screenshot(str(ARTEFACTS / "index.png"))


def test_no_script_from_a_hostile_parameter_file_runs(browser, hostile_book):
    """Every free text of the training file holds HTML, script tags and MyST roles: the pages show
    the characters, and no script from the file runs."""
    with serve_folder(hostile_book / "_build" / "html") as url:
        for page in [f"{edition}{p}" for edition in ("", "es/") for p in (
                "countries/XRU/drugs.html", "countries/XRU/smuggling.html", "countries/XRU/index.html",
                "reference/inputs/XRU.html", "index.html")]:
            open_page(browser, f"{url}/{page}")
            assert browser.execute_script("return window.__pwned === undefined"), page
            if not page.endswith("index.html") or "countries" in page:
                assert "<script>window.__pwned=1</script>" in browser.find_element("tag name", "body").text, page


# ----- the reader's handbook: findings first, figures and tables that read, no code, no identifiers ----------

READER_PAGES = ["index", "countries/COL/drugs", "countries/COL/smuggling", "countries/ECU/drugs",
                "countries/ECU/smuggling", "countries/MEX/drugs", "countries/MEX/smuggling", "countries/PER/drugs",
                "results/summary", "results/mirror",
                # the Spanish edition: the same pages, the same checks
                "es/index", "es/countries/PER/drugs", "es/countries/MEX/smuggling", "es/results/summary"]
IDENTIFIER = r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"  # snake_case: a key of a file, a column, a bibliography key

# the article's visible text, without code (column names in backticks) and formulas
ARTICLE_TEXT = """
const article = document.querySelector('article') || document.body;
const copy = article.cloneNode(true);
copy.querySelectorAll('code, pre, script, style, .math, mjx-container, .MathJax').forEach(e => e.remove());
document.body.appendChild(copy); copy.style.position = 'absolute'; copy.style.left = '-99999px';
const text = copy.innerText; copy.remove(); return text;
"""
TOO_WIDE = """
const article = document.querySelector('article.bd-article') || document.querySelector('article');
const limit = article.getBoundingClientRect().width + 1;
return [...article.querySelectorAll('table, img, svg')].filter(e => e.offsetParent !== null)
  .filter(e => e.getBoundingClientRect().width > limit)
  .map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().width) + ' > ' + Math.round(limit) + ' px: '
       + (e.getAttribute('src') || (e.querySelector('th') ? e.querySelector('th').innerText.slice(0, 60) : '')));
"""
SVG_IMAGES = """
return [...document.querySelectorAll('article img')].filter(i => (i.currentSrc || i.src).endsWith('.svg'))
  .map(i => [i.currentSrc || i.src, i.getBoundingClientRect().width]);
"""


def _svg_min_font_px(svg_text: str, rendered_width: float) -> float:
    """The smallest text of an SVG figure, in CSS pixels at its rendered width."""
    import re

    view = re.search(r'viewBox="[\d.\-]+ [\d.\-]+ ([\d.]+) [\d.]+"', svg_text)
    width = float(view.group(1)) if view else float(re.search(r'width="([\d.]+)', svg_text).group(1))
    sizes = [float(x) for x in re.findall(r"font(?:-size)?:\s*(?:[a-z]+\s+)*([\d.]+)px", svg_text)]
    return min(sizes) * rendered_width / width if sizes else float("inf")


@pytest.mark.parametrize("page", READER_PAGES)
def test_reader_pages_at_1400_and_420_px(browser, server, built_book, page):
    """Screenshots at both widths (kept as artefacts); at 1400 px no table or figure is wider than the
    text column; figures' text is at least 11 px where it is rendered; the visible text names no
    bibliography key or identifier; no code toggle; a chapter opens with its key figures."""
    import re
    from urllib.request import urlopen

    from methods.model.params import bib_keys

    keys = bib_keys(built_book / "book" / "references.bib")
    for width in (1400, 420):
        browser.set_window_size(width, 1800)
        open_page(browser, f"{server}/{page}.html")
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(max(height, 900), 12000))
        browser.save_screenshot(str(ARTEFACTS / f"reader-{page.replace('/', '-')}-{width}.png"))
        if width == 1400:
            assert browser.execute_script(TOO_WIDE) == [], page
        for src, rendered in browser.execute_script(SVG_IMAGES):
            with urlopen(src) as fh:
                smallest = _svg_min_font_px(fh.read().decode("utf-8"), rendered)
            assert smallest >= 11, f"{page} at {width} px: text of {src} is {smallest:.1f} px"
    text = browser.execute_script(ARTICLE_TEXT)
    found_keys = [k for k in keys if re.search(rf"(?<![\w]){re.escape(k)}(?![\w])", text)]
    assert not found_keys, f"{page}: raw bibliography keys {found_keys[:5]}"
    assert not re.findall(IDENTIFIER, text), f"{page}: identifiers {sorted(set(re.findall(IDENTIFIER, text)))[:8]}"
    toggles = browser.execute_script(
        "return document.querySelectorAll('.cell_input, details.hide, .toggle-details, button.toggle-button').length")
    assert toggles == 0 and "Show code cell" not in text, page
    if page.removeprefix("es/").startswith("countries/"):
        before = browser.execute_script(
            "const k = document.querySelector('.iff-key-figures'); const h = document.querySelector('article section section h2');"
            "return !!k && (!h || !!(k.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING));")
        assert before, f"{page}: no key figures before the first section"
        assert ("Cómo se calculó esta página" if page.startswith("es/") else "How this page was computed") in text


def test_every_page_names_its_edition_and_the_landing_page_its_figures(browser, server):
    browser.set_window_size(1400, 1800)
    open_page(browser, f"{server}/index.html")
    body = browser.find_element("tag name", "body").text
    import re

    assert re.search(r"Edition \d+\.\d+\.\d+, \d{1,2} [A-Z][a-z]+ \d{4}", body)
    assert "Key figures" in body and "Colombia" in body and "Mexico" in body
    assert browser.execute_script("return document.querySelectorAll('article img[src$=\"totals.svg\"]').length") == 1
    open_page(browser, f"{server}/countries/PER/drugs.html")
    assert "How to cite this handbook" in browser.find_element("tag name", "footer").text or \
        "How to cite this handbook" in browser.find_element("tag name", "body").text


def test_search_finds_the_indicator_number(browser, server):
    open_page(browser, f"{server}/search.html?q=16.4.1",
              wait_for="return document.querySelectorAll('#search-results li').length > 0", timeout=30)
    assert browser.execute_script("return document.querySelectorAll('#search-results li').length") >= 3
