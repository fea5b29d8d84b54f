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
        for page in ("countries/XRU/drugs.html", "countries/XRU/smuggling.html", "countries/XRU/index.html",
                     "reference/inputs/XRU.html", "index.html"):
            open_page(browser, f"{url}/{page}")
            assert browser.execute_script("return window.__pwned === undefined"), page
            if page != "index.html":
                assert "<script>window.__pwned=1</script>" in browser.find_element("tag name", "body").text, page
