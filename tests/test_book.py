"""End to end: `iff build` on a copy of the repository gives a complete handbook."""
from __future__ import annotations

import json
import re

import pytest

from conftest import run_iff

pytestmark = pytest.mark.slow


def page(root, rel):
    return (root / "_build" / "html" / rel).read_text(encoding="utf-8")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("iso", ["COL", "PER", "ECU", "MEX"])
def test_country_drug_chapters_show_computed_iffs(built_book, iso):
    text = text_of(page(built_book, f"countries/{iso}/drugs.html"))
    m = re.search(r"In 2019 ?, inward IFFs were US\$ ?([\d,.]+) ?million", text)
    assert m, f"no headline sentence in {iso}"
    glued = json.loads((built_book / "book" / "countries" / iso / "drugs.ipynb").read_text())
    records = {}
    for cell in glued["cells"]:
        for out in cell.get("outputs", []):
            for mime, val in out.get("data", {}).items():
                if mime.startswith("application/papermill.record/"):
                    records[out["metadata"]["scrapbook"]["name"]] = out["data"]
    inward = float(records["last_inward"]["application/papermill.record/text/plain"])
    assert m.group(1) == f"{inward:,.1f}"
    assert "Fig. " in text  # numbered figures


def test_every_chapter_is_listed_from_the_parameter_files(built_book):
    toc = (built_book / "book" / "_toc.yml").read_text()
    for iso in ("COL", "ECU", "MEX", "PER"):
        assert f"countries/{iso}/index" in toc
    assert "countries/XRU/index" in toc  # the training country, in the training part
    index = page(built_book, "index.html")
    for name in ("Colombia", "Ecuador", "Mexico", "Peru", "Ruritania"):
        assert name in index


def test_no_unresolved_glue_or_math_in_prose(built_book):
    for html in (built_book / "_build" / "html").rglob("*.html"):
        text = text_of(html.read_text(encoding="utf-8"))
        assert "{glue:" not in text, html
        assert "glue:text" not in text, html


def test_worked_example_numbers_are_live(built_book):
    text = text_of(page(built_book, "methodology/drugs.html"))
    # the training country harvested 12,000 ha x 5 t/ha in 2019
    assert "In 2019 Ruritania harvested 60,000 tonnes of coca leaf" in text
    assert "the transaction price is 0.75 × 2,500 + 0.25 × 25,000 = 8,125" in text


def test_reference_page_lists_every_input_with_provenance(built_book):
    text = text_of(page(built_book, "reference/inputs.html"))
    for name, iso in (("Colombia", "COL"), ("Peru", "PER"), ("Ecuador", "ECU"), ("Mexico", "MEX")):
        assert re.search(rf"{name} \( ?{iso} ?\)", text), name
    assert "⚠ assumption" in text
    # sources are citations that link to the bibliography
    assert re.search(r"\[ ?UNODC and Gobierno de Colombia, 2020 ?\]", text)
    assert 'href="bibliography.html#id' in page(built_book, "reference/inputs.html")


def test_country_page_offers_downloads(built_book):
    html = page(built_book, "countries/COL/index.html")
    assert "COL.yml" in html and "drugs.ipynb" in html
    downloads = list((built_book / "_build" / "html" / "_downloads").rglob("COL.yml"))
    assert downloads, "the parameter file is not offered for download"


def test_mathjax_is_vendored(built_book):
    html = page(built_book, "methodology/drugs.html")
    assert "mathjax/tex-mml-chtml.js" in html
    assert "cdn.jsdelivr" not in html
    assert (built_book / "_build" / "html" / "mathjax" / "tex-mml-chtml.js").exists()


def test_second_build_does_nothing(built_book):
    result = run_iff("build", "--draws", "2000", cwd=built_book)
    assert result.returncode == 0, result.stderr
    assert "nothing to execute" in result.stderr
    assert "The book is up to date; nothing to build." in result.stderr
