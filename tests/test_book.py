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
    m = re.search(r"In 2019 ?, inward IFFs from drug trafficking were US\$ ?([\d,.]+) ?million", text)
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


def test_a_market_without_an_estimate_says_what_data_are_missing_and_who_holds_them(built_book):
    # Peru declares smuggling of migrants with data gaps only (parameters/PER.yml): no chapter is
    # executed for it; Peru's page lists the missing data and the institutions that hold them
    text = text_of(page(built_book, "countries/PER/index.html"))
    assert "Smuggling of migrants: no estimate yet" in text
    assert "Superintendencia Nacional de Migraciones" in text and "Irregular entries and exits" in text
    assert not (built_book / "_build" / "html" / "countries" / "PER" / "smuggling.html").exists()
    assert "countries/PER/smuggling" not in (built_book / "book" / "_toc.yml").read_text()


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
        assert "IPython.core.display" not in text, html  # an empty output printed as a Python object
        assert "Warning:" not in text and "Traceback" not in text, html  # no Python warning reaches a reader


def test_the_worked_example_of_the_network_is_live_and_reconciles_by_hand(built_book):
    text = text_of(page(built_book, "countries/network-example.html"))
    m = re.search(r"V\^\* = \\exp\\Big\(([\d.]+) \\ln ([\d.,]+) \+ ([\d.]+) \\ln ([\d.,]+)\\Big\) = ([\d.,]+)", text)
    assert m, text[:2000]
    ws, vs, wb, vb, v = (float(x.replace(",", "")) for x in m.groups())
    import math

    assert ws + wb == pytest.approx(1, abs=2e-3)
    assert math.exp(ws * math.log(vs) + wb * math.log(vb)) == pytest.approx(v, rel=5e-3)  # the printed arithmetic holds


def test_worked_example_numbers_are_live(built_book):
    text = text_of(page(built_book, "methodology/drugs.html"))
    # the training country harvested 12,000 ha x 5 t/ha in 2019
    assert "In 2019 Ruritania harvested 60,000 tonnes of coca leaf" in text
    assert "the transaction price is 0.75 × 2,500 + 0.25 × 25,000 = 8,125" in text


def test_reference_page_lists_every_input_with_provenance(built_book):
    overview = text_of(page(built_book, "reference/inputs.html"))
    for name, iso in (("Colombia", "COL"), ("Peru", "PER"), ("Ecuador", "ECU"), ("Mexico", "MEX")):
        assert re.search(rf"{name} \( ?{iso} ?\)", overview), name
        text = text_of(page(built_book, f"reference/inputs/{iso}.html"))
        assert "Drug trafficking" in text and "Provenance" in text, iso
    assumed = [iso for iso in ("COL", "PER", "ECU", "MEX") if "⚠ assumption" in text_of(page(built_book, f"reference/inputs/{iso}.html"))]
    assert assumed  # assumptions are shown as such
    # sources are citations that link to the bibliography
    col = page(built_book, "reference/inputs/COL.html")
    assert re.search(r"\[ ?UNODC and Gobierno de Colombia, 2020 ?\]", text_of(col))
    assert 'href="../bibliography.html#ref-' in col  # linked to the entry's stable anchor (bibtex_cite_id)


def test_reference_of_inputs_counts_match_the_chapters(built_book):
    """The overview's count of inputs per country equals the rows of that country's page."""
    overview = page(built_book, "reference/inputs.html")
    for iso in ("COL", "XRU"):
        table = overview[overview.index("<tbody>"):]
        row = re.search(rf'inputs/{iso}\.html">.*?</tr>', table, flags=re.S).group(0)
        count = int(re.findall(r"<td[^>]*>\s*(?:<p>)?(\d+)(?:</p>)?\s*</td>", row)[0])
        rows = page(built_book, f"reference/inputs/{iso}.html").count("<tr class=\"row-") - \
            page(built_book, f"reference/inputs/{iso}.html").count("<thead>")
        assert count == rows, (iso, count, rows)


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


# ----- cross-country results, export, mirror flows ----------------------------------------------------

def glued(root, rel):
    nb = json.loads((root / "book" / rel).read_text())
    out = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            for mime in o.get("data", {}):
                if mime.startswith("application/papermill.record/text/plain"):
                    out[o["metadata"]["scrapbook"]["name"]] = o["data"][mime]
    return out


@pytest.fixture(scope="module")
def exported(built_book, tmp_path_factory):
    import pandas as pd

    out = tmp_path_factory.mktemp("export")
    tables = {}
    for fmt, name in (("csv", "r.csv"), ("xlsx", "r.xlsx"), ("sdmx-csv", "r.sdmx.csv")):
        result = run_iff("export", "--format", fmt, "--output", str(out / name), cwd=built_book)
        assert result.returncode == 0, result.stderr
        path = out / name
        tables[fmt] = pd.read_excel(path, sheet_name="results") if fmt == "xlsx" else pd.read_csv(path)
    return tables


def test_export_has_every_real_country_and_the_required_columns(exported):
    csv = exported["csv"]
    for col in ("country", "ref_area", "year", "market", "product", "direction", "value_usd", "mc_p05_usd", "mc_p95_usd",
                "unit", "sources"):
        assert col in csv.columns
    assert set(csv["country"]) == {"COL", "ECU", "MEX", "PER"}
    assert set(csv["ref_area"]) == {170, 218, 484, 604}
    keys = ["country", "year", "market", "product", "direction", "partner", "basis", "scenario"]
    assert not csv.duplicated(keys).any()  # one row per country x year x market x product x flow x partner x basis x scenario
    assert set(csv["basis"]) == {"own", "reconciled"} and {"all", "USA", "MEX", "EUROPE"} <= set(csv["partner"])


def test_no_exported_central_value_lies_outside_its_interval_and_scenarios_are_ordered(exported):
    csv = exported["csv"]
    rows = csv.dropna(subset=["value_usd", "mc_p05_usd", "mc_p95_usd"])
    tol = 1e-6 * rows["value_usd"].abs() + 1e-3
    outside = rows[(rows["value_usd"] < rows["mc_p05_usd"] - tol) | (rows["value_usd"] > rows["mc_p95_usd"] + tol)]
    assert outside.empty, outside[["country", "market", "product", "direction", "scenario", "year", "value_usd",
                                   "mc_p05_usd", "mc_p95_usd"]].head(10)
    # every figure: each product and all, inward, outward and total (each has its own low and high)
    own = csv[(csv["partner"] == "all") & (csv["basis"] == "own")]
    wide = own.pivot_table(index=["country", "market", "product", "direction", "year"], columns="scenario",
                           values="value_usd")
    ordered = (wide["low"] <= wide["central"] + 1e-3) & (wide["central"] <= wide["high"] + 1e-3)
    assert len(wide) > 100 and ordered.all(), wide[~ordered].head(10)
    assert set(own["direction"]) == {"inward", "outward", "total"}


def test_intervals_of_totals_come_from_joint_draws_not_sums_of_bounds(built_book, exported):
    """The results page's totals over both markets: the interval is a percentile of the summed draws,
    narrower than the sum of the markets' bounds (the markets' errors are not all extreme at once)."""
    csv = exported["csv"]
    text = text_of(page(built_book, "results/summary.html"))
    rows = csv[(csv.country == "MEX") & (csv.year == 2019) & (csv["product"] == "all") & (csv.direction == "total")
               & (csv.scenario == "central") & (csv.partner == "all") & (csv.basis == "own")]
    central, low_sum, high_sum = rows["value_usd"].sum(), rows["mc_p05_usd"].sum(), rows["mc_p95_usd"].sum()
    joint = text.split("Both markets together", 1)[1]
    m = re.search(r"Mexico ([\d,.]+ \(([\d,.]+)–([\d,.]+)\) ){4}([\d,.]+) \(([\d,.]+)–([\d,.]+)\)", joint)
    assert m, joint[:1500]
    value, low, high = (float(m.group(i).replace(",", "")) for i in (4, 5, 6))
    assert value == pytest.approx(central / 1e6, abs=0.06)
    assert low > low_sum / 1e6 + 0.05 and high < high_sum / 1e6 - 0.05
    assert "all countries above" in joint


def test_export_totals_equal_inward_plus_outward(exported):
    """Within one scenario the identity holds; the low and high rows are each figure's own extremes,
    which are not additive (see the methodology of ranges), but each lies on its side of central."""
    csv = exported["csv"]
    totals = csv[csv["partner"] == "all"]  # own and reconciled totals
    wide = totals.pivot_table(index=["country", "year", "market", "product", "basis", "scenario"], columns="direction",
                              values="value_usd")
    coherent = wide[wide.index.get_level_values("scenario").isin(["central", "fob"])]
    assert len(coherent) and ((coherent["inward"] + coherent["outward"] - coherent["total"]).abs() < 1e-3).all()
    assert (totals["basis"] == "reconciled").any()
    # the ends of the scenario span: the total's low is at most the sum of the parts' lows' ... highs
    ends = wide.unstack("scenario")
    for direction in ("inward", "outward", "total"):
        low, central, high = (ends[(direction, s)] for s in ("low", "central", "high"))
        ok = low.isna() | ((low <= central + 1e-6) & (central <= high + 1e-6))
        assert ok.all(), ends[~ok].head()
    low_total, low_sum = ends[("total", "low")], ends[("inward", "low")] + ends[("outward", "low")]
    assert ((low_total + 1e-6 >= low_sum) | low_total.isna()).all()  # the total's own minimum is not below the parts' minima


def test_export_formats_carry_the_same_numbers(exported):
    csv, xlsx, sdmx = exported["csv"], exported["xlsx"], exported["sdmx-csv"]
    assert len(csv) == len(xlsx)
    import numpy as np

    assert np.allclose(csv["value_usd"].values, xlsx["value_usd"].values, rtol=1e-12, atol=1e-6, equal_nan=True)
    # SDMX carries the two SDG series of 16.4.1, inward (DI_ILL_IN) and outward (DI_ILL_OUT)
    flows = csv[csv["direction"].isin(["inward", "outward"]) & (csv["partner"] == "all") & (csv["basis"] == "own")]
    assert len(sdmx) == len(flows)
    assert np.allclose(np.sort(sdmx["OBS_VALUE"].dropna().values), np.sort(flows["value_usd"].dropna().values),
                       rtol=1e-12, atol=1e-6)
    for col in ("DATAFLOW", "SERIES", "REF_AREA", "TIME_PERIOD", "ACTIVITY", "UNIT_MEASURE", "OBS_VALUE",
                "LOWER_BOUND", "UPPER_BOUND", "OBS_STATUS"):
        assert col in sdmx.columns
    assert set(sdmx["SERIES"]) == {"DI_ILL_IN", "DI_ILL_OUT"}
    assert set(sdmx["ACTIVITY"]) == {"DRUG_TRAFFICKING", "SMUGGLING_MIGRANTS"}
    assert set(sdmx["UNIT_MEASURE"]) == {"USD"}


def test_a_market_without_an_estimate_is_exported_as_not_estimated_never_zero(exported):
    csv, sdmx = exported["csv"], exported["sdmx-csv"]
    peru = csv[(csv.country == "PER") & (csv.market == "smuggling")]
    assert len(peru) and (peru["status"] == "not estimated").all() and peru["value_usd"].isna().all()
    assert (sdmx[(sdmx.REF_AREA == 604) & (sdmx.ACTIVITY == "SMUGGLING_MIGRANTS")]["OBS_STATUS"] == "M").all()
    assert not ((csv["status"] == "not estimated") & (csv["value_usd"] == 0)).any()
    meth = csv[(csv.country == "MEX") & (csv["product"] == "methamphetamine_chemicals")]
    assert len(meth) and (meth["status"] == "not estimated").all()


@pytest.mark.parametrize("iso", ["COL", "MEX"])
def test_export_equals_the_chapters(built_book, exported, iso):
    csv = exported["csv"]
    g = glued(built_book, f"countries/{iso}/drugs.ipynb")
    for flow in ("inward", "outward", "total"):
        row = csv[(csv.country == iso) & (csv.year == 2019) & (csv.market == "drugs") & (csv["product"] == "all")
                  & (csv.direction == flow) & (csv.scenario == "central") & (csv.partner == "all") & (csv.basis == "own")]
        assert len(row) == 1
        assert row["value_usd"].iloc[0] / 1e6 == pytest.approx(float(g[f"{flow}_2019"]), rel=1e-9)


def test_results_chapter_and_downloads(built_book, exported):
    text = text_of(page(built_book, "results/summary.html"))
    assert "Results by country" in text
    csv = exported["csv"]
    csv = csv[(csv.partner == "all") & (csv.basis == "own")]
    row = csv[(csv.country == "COL") & (csv.year == 2019) & (csv.market == "drugs") & (csv["product"] == "all")
              & (csv.direction == "total") & (csv.scenario == "central")].iloc[0]
    shown = f"{row.value_usd / 1e6:,.1f} ({row.mc_p05_usd / 1e6:,.1f}–{row.mc_p95_usd / 1e6:,.1f})"
    assert shown in text  # the results table shows the exported numbers
    assert "Colombia" in text and "percentage of GDP" in text
    # by product: Mexico's heroin, with its interval, as exported
    row = csv[(csv.country == "MEX") & (csv.year == 2019) & (csv["product"] == "heroin") & (csv.direction == "inward")
              & (csv.scenario == "central")].iloc[0]
    by_product = text.split("By product", 1)[1]
    heroin_row = by_product.split("heroin inward", 1)[1].split("heroin total", 1)[0]
    assert f"{row.value_usd / 1e6:,.1f} ({row.mc_p05_usd / 1e6:,.1f}–{row.mc_p95_usd / 1e6:,.1f})" in heroin_row
    assert list((built_book / "_build" / "html" / "_images").glob("totals*.svg")), "the chart is not in the book"
    html = page(built_book, "results/summary.html")
    for f in ("iff-results.csv", "iff-results.xlsx", "iff-results.sdmx.csv"):
        assert f in html
        assert list((built_book / "_build" / "html" / "_downloads").rglob(f)), f
    # Peru's smuggling of migrants is not estimated: so it reads in every table, never as 0.0
    section = html.split("Inward and outward IFFs</strong>", 1)[1].split("</table>", 1)[0]
    rows = [text_of(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)]
    peru = [r for r in rows if "Peru" in r and "smuggling of migrants" in r]
    assert len(peru) == 2 and all(r.count("not estimated") == 5 and "0.0" not in r for r in peru), peru


def test_reconciled_mirror_flows_agree_for_every_pair_and_year(built_book, tmp_path):
    """In the reconciled results, the seller's inward flow equals the buyer's outward flow (within
    0.5%) for every pair of modelled countries and every year, and at least two pairs trade."""
    import pandas as pd

    out = tmp_path / "r.csv"
    assert run_iff("export", "--format", "csv", "--output", str(out), cwd=built_book).returncode == 0
    r = pd.read_csv(out, keep_default_na=False, na_values=[""])
    rec = r[(r["basis"] == "reconciled") & (r["partner"] != "all")]
    modelled = set(r["country"])
    rec = rec[rec["partner"].isin(modelled)]
    inward = rec[rec["direction"] == "inward"].set_index(["country", "partner", "market", "product", "year"])["value_usd"]
    outward = rec[rec["direction"] == "outward"].set_index(["partner", "country", "market", "product", "year"])["value_usd"]
    outward.index = outward.index.set_names(inward.index.names)
    assert len(inward) and inward.index.sort_values().equals(outward.index.sort_values())
    gap = (inward - outward.reindex(inward.index)).abs() / inward.abs().clip(lower=1)
    assert (gap <= 0.005).all(), gap[gap > 0.005]
    pairs = {tuple(sorted(k[:2])) for k in inward.index}
    assert len(pairs) >= 2, pairs
    # the own estimates stay, beside the reconciled ones
    own = r[(r["basis"] == "own") & (r["partner"] == "MEX") & (r["country"] == "COL") & (r["direction"] == "inward")]
    assert len(own) and own["value_usd"].notna().all()
    text = text_of(page(built_book, "results/mirror.html"))
    assert "The regional network" in text and "reconciled" in text
    findings = re.search(r"Totals, own and reconciled\W+Millions of current US dollars.*?Every flow, own and reconciled",
                         text, re.S).group(0)  # the body, not the page's contents
    assert "Colombia" in findings and "COL" not in findings  # names, not codes, for readers


# ----- book integrity ----------------------------------------------------------------------------------

def _pages(root):
    return sorted(p for p in (root / "_build" / "html").rglob("*.html") if "_static" not in p.parts)


def test_no_broken_internal_links_or_anchors(built_book):
    from html.parser import HTMLParser
    from urllib.parse import unquote, urlsplit

    html_root = built_book / "_build" / "html"
    ids: dict = {}

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.links = set(), []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if "id" in a:
                self.ids.add(a["id"])
            if tag == "a" and a.get("href"):
                self.links.append(a["href"])
            if tag in ("img", "script") and a.get("src"):
                self.links.append(a["src"])
            if tag == "link" and a.get("href"):
                self.links.append(a["href"])

    parsed = {}
    for page_path in _pages(built_book):
        c = Collect()
        c.feed(page_path.read_text(encoding="utf-8"))
        parsed[page_path] = c
        ids[page_path.resolve()] = c.ids
    broken = []
    for page_path, c in parsed.items():
        for link in c.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = (page_path.parent / unquote(parts.path)).resolve() if parts.path else page_path.resolve()
            if not target.exists():
                broken.append(f"{page_path.relative_to(html_root)} -> {link}")
            elif parts.fragment and target.suffix == ".html" and target in ids and parts.fragment not in ids[target]:
                broken.append(f"{page_path.relative_to(html_root)} -> {link} (no such anchor)")
    assert not broken, "\n".join(broken[:30])


def test_no_page_requests_an_external_host(built_book):
    external = re.compile(r"""<(?:script|img|link|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
    offenders = []
    for page_path in _pages(built_book):
        for m in external.finditer(page_path.read_text(encoding="utf-8")):
            tag = m.group(0)
            if "<link" in tag.lower() and not re.search(r"stylesheet|preload|icon|manifest", tag, re.I):
                continue  # a canonical/alternate link is not a request
            offenders.append(f"{page_path.name}: {tag[:100]}")
    assert not offenders, "\n".join(offenders[:20])


def test_pages_carry_no_unused_live_code_configuration(built_book):
    """The chapters are static: no page carries Thebe's Binder configuration (an external repository)."""
    carrying = [p.name for p in _pages(built_book) if "x-thebe-config" in p.read_text(encoding="utf-8")]
    assert not carrying, carrying[:10]


def test_the_pdf_edition_holds_the_handbook(built_book):
    """`make pdf` (iff pdf, run by the built_book fixture): the whole handbook, with its contents,
    key figures and citations, and no code toggle."""
    import unicodedata

    pytest.importorskip("pypdf")
    from pypdf import PdfReader

    pdf = built_book / "_build" / "pdf" / "handbook.pdf"
    if not pdf.is_file():
        pytest.skip("Chromium is not installed: the PDF edition cannot be printed here")
    reader = PdfReader(pdf)
    text = unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in reader.pages))
    assert len(reader.pages) > 50
    for expected in ("Illicit financial flows from illegal markets", "SDG indicator 16.4.1", "Contents",
                     "Key figures: drug trafficking, Colombia", "Key figures: smuggling of migrants, Mexico",
                     "How this page was computed", "Bibliography", "Edition"):
        assert expected in text, expected
    assert "Show code cell" not in text
    assert (built_book / "_build" / "html" / "handbook.pdf").is_file()
    # once printed, the landing pages link to their PDF (before, they only say how to print it)
    for landing in ("index.html", "es/index.html"):
        page = (built_book / "_build" / "html" / landing).read_text(encoding="utf-8")
        assert 'href="handbook.pdf"' in page and "not printed yet" not in page and "aún no impresa" not in page, landing


def test_sdmx_uses_the_sdg_series_of_16_4_1(exported):
    sdmx = exported["sdmx-csv"]
    assert set(sdmx["SERIES"]) == {"DI_ILL_IN", "DI_ILL_OUT"} and set(sdmx["UNIT_MEASURE"]) == {"USD"}


SIDEBAR = """<p aria-level="2" class="caption" role="heading"><span class="caption-text">Framework</span></p>
<ul class="nav bd-sidenav">
<li class="toctree-l1"><a class="reference internal" href="framework/index.html">1. What IFFs are</a></li>
</ul>
<p aria-level="2" class="caption" role="heading"><span class="caption-text">Countries</span></p>
<ul class="nav bd-sidenav">
<li class="toctree-l1 has-children"><a class="reference internal" href="countries/MEX/index.html">2. Mexico</a><details><summary><span class="toctree-toggle" role="presentation"><i class="fa-solid fa-chevron-down"></i></span></summary><ul>
<li class="toctree-l2"><a class="reference internal" href="countries/MEX/drugs.html">2.1. Mexico: drugs &amp; &lt;b&gt;</a></li>
</ul>
</details></li>
<li class="toctree-l1"><a class="reference external" href="https://example.org/a#b">Elsewhere</a></li>
</ul>
"""


def test_the_navigation_is_marked_for_each_page_as_sphinx_and_the_theme_mark_it():
    """The navigation rendered once from the root page, then made for each page: links relative to
    the page; the page's link ``current`` and ``#``; the entries holding the page ``current active``
    and open; the lists holding it ``current`` (the page's own list of sub-pages is not). The
    expected text is written by hand from Sphinx's ``_toctree_add_classes`` and the theme's
    ``generate_toctree_html``; every built page is checked against the theme itself in the builds
    the tests make (``IFF_CHECK_SIDEBAR``, conftest.run_iff)."""
    import sys

    from sphinx.util.osutil import relative_uri

    from conftest import REPO

    sys.path.insert(0, str(REPO / "book" / "_ext"))
    import iff_sphinx

    sidebar = iff_sphinx._Sidebar(SIDEBAR)
    assert sidebar.for_page("index.html", relative_uri) == SIDEBAR  # the root page is in no entry
    on_drugs = sidebar.for_page("countries/MEX/drugs.html", relative_uri)
    assert on_drugs == """<p aria-level="2" class="caption" role="heading"><span class="caption-text">Framework</span></p>
<ul class="nav bd-sidenav">
<li class="toctree-l1"><a class="reference internal" href="../../framework/index.html">1. What IFFs are</a></li>
</ul>
<p aria-level="2" class="caption" role="heading"><span class="caption-text">Countries</span></p>
<ul class="current nav bd-sidenav">
<li class="toctree-l1 current active has-children"><a class="reference internal" href="index.html">2. Mexico</a><details open="open"><summary><span class="toctree-toggle" role="presentation"><i class="fa-solid fa-chevron-down"></i></span></summary><ul class="current">
<li class="toctree-l2 current active"><a class="current reference internal" href="#">2.1. Mexico: drugs &amp; &lt;b&gt;</a></li>
</ul>
</details></li>
<li class="toctree-l1"><a class="reference external" href="https://example.org/a#b">Elsewhere</a></li>
</ul>
"""
    on_country = sidebar.for_page("countries/MEX/index.html", relative_uri)
    assert '<li class="toctree-l1 current active has-children"><a class="current reference internal" href="#">2. Mexico' in on_country
    assert '<details open="open"><summary>' in on_country and '</summary><ul>\n' in on_country  # its own list: not current
    assert 'href="drugs.html">2.1.' in on_country and '<ul class="current nav bd-sidenav">' in on_country
    assert sidebar.for_page("framework/other.html", relative_uri).count("current") == 0  # a page in no entry
    assert iff_sphinx._Sidebar('<ul><li class="toctree-l1"><a class="reference internal" href="#x">x</a></li></ul>'
                               ).for_page("a.html", relative_uri) is None  # a link it cannot follow: the theme's


def test_a_navigation_marked_wrongly_stops_the_build(built_book, tmp_path):
    """With ``IFF_CHECK_SIDEBAR=1`` each page's navigation is compared with the one the theme
    makes: one marked wrongly (here without the theme's ``active``) fails the build, naming the page."""
    import os
    import shutil
    import subprocess
    import sys

    root = tmp_path / "repo"
    shutil.copytree(built_book, root, symlinks=True, ignore=shutil.ignore_patterns("html", "pdf"))
    wrong = ("import sys; sys.path.insert(0, sys.argv[1] + '/book/_ext'); import iff_sphinx; "
             "made = iff_sphinx._Sidebar.for_page; "
             "iff_sphinx._Sidebar.for_page = lambda self, *a: (made(self, *a) or '').replace(' active', '', 1); "
             "from methods.build import sphinxbuild; sys.exit(sphinxbuild.main(sys.argv[2:]))")
    args = [str(root / "book"), str(tmp_path / "out"), str(root / "_config.yml"), str(root / "book" / "_toc.yml"), "1", "full", "en"]
    result = subprocess.run([sys.executable, "-c", wrong, str(root), *args], cwd=root, capture_output=True, text=True,
                            timeout=600, env=dict(os.environ, IFF_CHECK_SIDEBAR="1"))
    assert result.returncode != 0
    assert re.search(r"the navigation made for \S+ differs from the one the theme makes", result.stderr + result.stdout)
