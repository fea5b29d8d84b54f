"""The cross-country chapters: results by country (SDG 16.4.1) and mirror flows.

They are generated at every build from the results the country chapters wrote (their
``<market>.summary.csv`` and ``<market>.flows.csv``) and from the parameter files' GDP, as MyST
pages with tables and figures, together with the downloadable exports. No kernel is needed: the
tables are pure arithmetic on the country results (:mod:`methods.synthesis`).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .export import load_flows, load_summaries, write_table
from .project import Project
from .report import product_label
from .schema import CountryFile
from .svgchart import grouped_bars
from .synthesis import mirror_pairs, results_table


def _write(path: Path, text: str) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


def _md_table(df: pd.DataFrame, include_index: bool = True) -> str:
    """A DataFrame as a Markdown table (with ``include_index`` the index becomes leading columns)."""
    frame = df.reset_index() if include_index else df
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join("" if (isinstance(x, float) and np.isnan(x)) else str(x).replace("$", "\\$")
                                         for x in row) + " |")
    return "\n".join(lines)


def _money(x) -> str:
    return "—" if pd.isna(x) else f"{x / 1e6:,.1f}"


def write_results_pages(project: Project, cfs: dict[str, CountryFile]) -> bool:
    """Write book/results/ (two pages, their figures and the exports). False if there is no result
    yet: the two pages then say so (hand-written chapters link to them), and nothing else is kept."""
    out = project.book_dir / "results"
    summaries = load_summaries(project)
    if summaries.empty:
        out.mkdir(parents=True, exist_ok=True)
        for f in out.iterdir():
            if f.name not in ("summary.md", "mirror.md"):
                f.unlink()
        waiting = ("No real country's chapters have been computed yet (the training countries are not "
                   "counted). Add a parameter file under `parameters/` and run `make book`; see "
                   "{doc}`/training/reexecute`.\n")
        _write(out / "summary.md", "(results-summary)=\n# Results by country: SDG indicator 16.4.1\n\n" + waiting)
        _write(out / "mirror.md", "(mirror-flows)=\n# Mirror flows between countries\n\n" + waiting)
        return False
    results = results_table(summaries)
    names = {iso: cfs[iso].name if iso in cfs else iso for iso in results["country"].unique()}
    out.mkdir(parents=True, exist_ok=True)
    # the xlsx file carries a timestamp: it is rewritten only when the data (the csv) changed
    unchanged = False
    for fmt, name in (("csv", "iff-results.csv"), ("sdmx-csv", "iff-results.sdmx.csv"), ("xlsx", "iff-results.xlsx")):
        target = out / name
        if fmt == "xlsx" and unchanged and target.exists():
            continue
        tmp = out / f".new-{name}"
        write_table(results, fmt, tmp)
        if target.exists() and target.read_bytes() == tmp.read_bytes():
            tmp.unlink()
            unchanged = unchanged or fmt == "csv"
        else:
            os.replace(tmp, target)
    _write(out / "summary.md", summary_page(results, names, cfs, out))
    flows = load_flows(project)
    _write(out / "mirror.md", mirror_page(flows))
    return True


def _product_name(market: str, product: str, cf: CountryFile | None) -> str:
    if market == "smuggling" and cf is not None and cf.markets.smuggling is not None:
        corridor = cf.markets.smuggling.corridors.get(product)
        if corridor is not None:
            return corridor.label
    return product_label(product)


def by_product_section(results: pd.DataFrame, names: dict[str, str], cfs: dict[str, CountryFile]) -> list[str]:
    """For each country: inward, outward and total IFFs by market and product (drug stage or smuggling
    corridor) and year, with the 90% Monte Carlo interval; rows that are zero in every year are left out."""
    rows = results[(results["scenario"] == "central") & (results["product"] != "all")]
    lines = ["## By product", "",
             "Inward, outward and total IFFs by product — the stage of a drug's chain, or the corridor of smuggled "
             "migrants — in millions of current US dollars: central estimate (90% Monte Carlo interval), central "
             "scenario. Rows that are zero in every year are left out. A central estimate can lie outside its interval "
             "when its inputs' central values sit at one end of their ranges; the country chapter says where and why.", ""]
    for iso in sorted(rows["country"].unique()):
        c = rows[rows["country"] == iso]
        nonzero = c.groupby(["market", "product", "flow"])["value_usd"].transform(lambda s: (s.abs() > 0).any())
        c = c[nonzero]
        if c.empty:
            continue
        c = c.assign(
            cell=[f"{_money(v)} ({_money(lo)}–{_money(hi)})" for v, lo, hi in zip(c["value_usd"], c["low_usd"], c["high_usd"])],
            product=[_product_name(m, p, cfs.get(iso)) for m, p in zip(c["market"], c["product"])],
            flow=pd.Categorical(c["flow"], ["inward", "outward", "total"], ordered=True),
        )
        table = c.pivot_table(index=["market", "product", "flow"], columns="year", values="cell", aggfunc="first",
                              observed=True)
        lines += [f"### {names.get(iso, iso)}", "", _md_table(table), ""]
    return lines


def summary_page(results: pd.DataFrame, names: dict[str, str], cfs: dict[str, CountryFile], out: Path) -> str:
    countries = sorted(results["country"].unique())
    central = results[(results["scenario"] == "central") & (results["product"] == "all")]
    years = sorted(central["year"].unique())
    lines = ["(results-summary)=", "# Results by country: SDG indicator 16.4.1", "",
             "This chapter puts the countries side by side. For every country, market and year it gives inward, "
             "outward and total IFFs — the SDG indicator 16.4.1 is the total, inward plus outward, in current US "
             "dollars — with the 90% Monte Carlo interval, and the total as a share of GDP. The numbers are computed "
             "at every build from the results the country chapters wrote when they were executed; the fictional "
             "training country is left out. {ref}`mirror-flows` compares the flows that two modelled countries both "
             "record.", "", "## Total IFFs by country and year", ""]
    total = central[central["flow"] == "total"]
    table = total.assign(
        cell=[f"{_money(v)} ({_money(lo)}–{_money(hi)})" for v, lo, hi in zip(total["value_usd"], total["low_usd"], total["high_usd"])],
        name=total["country"].map(names),
    ).pivot_table(index=["name", "market"], columns="year", values="cell", aggfunc="first")
    table.index = table.index.set_names(["country", "market"])
    lines += ["**Total IFFs (inward + outward)**, millions of current US dollars: central estimate (90% Monte Carlo "
              "interval), central scenario.", "", _md_table(table), ""]
    flows = central[central["flow"].isin(["inward", "outward"])]
    table = (flows.assign(name=flows["country"].map(names))
             .pivot_table(index=["name", "market", "flow"], columns="year", values="value_usd", aggfunc="sum") / 1e6)
    table.index = table.index.set_names(["country", "market", "flow"])
    lines += ["**Inward and outward IFFs**, millions of current US dollars, central estimate (intervals in the country "
              "chapters and in the downloadable table).", "", _md_table(table.map(lambda x: f"{x:,.1f}")), ""]
    totals = (central[central["flow"] == "total"].groupby(["country", "year"], as_index=False)
              [["value_usd", "low_usd", "high_usd"]].sum())

    _write(out / "totals.svg", grouped_bars(
        [str(y) for y in years],
        {names[iso]: [float(totals[(totals["country"] == iso) & (totals["year"] == y)]["value_usd"].sum()) / 1e6
                      for y in years] for iso in countries},
        "Total IFFs (inward + outward), drug trafficking and smuggling of migrants", "millions of current US dollars"))
    lines += ["```{figure} totals.svg", ":name: fig-results-totals", "", "Total IFFs (inward + outward) by country and "
              "year, both markets, central scenario.", "```", "", "## Inward and outward, by market", ""]

    cats, inward, outward = [], [], []
    for iso in countries:
        c = central[(central["country"] == iso) & central["flow"].isin(["inward", "outward"])]
        last = c["year"].max()
        for market in sorted(c["market"].unique()):
            m = c[(c["year"] == last) & (c["market"] == market)]
            cats.append(f"{names[iso]} {market}")
            inward.append(float(m[m["flow"] == "inward"]["value_usd"].sum()) / 1e6)
            outward.append(float(m[m["flow"] == "outward"]["value_usd"].sum()) / 1e6)
    _write(out / "markets.svg", grouped_bars(cats, {"inward": inward, "outward": outward},
                                             "Inward and outward IFFs by country and market, last year",
                                             "millions of current US dollars",
                                             colors={"inward": "#1b7837", "outward": "#b2182b"},
                                             width=max(760, 120 * len(cats) + 240)))
    lines += ["```{figure} markets.svg", ":name: fig-results-markets", "", "Inward and outward IFFs by market in the "
              "last year of each country, central scenario.", "```", ""]
    lines += by_product_section(results, names, cfs)
    lines += [
              "## Scale: IFFs as a share of GDP", "",
              "IFFs are gross values of transactions, not a part of GDP; the ratio only gives a sense of scale.", ""]
    gdp_rows = [{"country": iso, "year": y, "gdp_usd": cfs[iso].macro.gdp_usd.at_year(y)[0]}
                for iso in countries if iso in cfs and cfs[iso].macro.gdp_usd is not None for y in cfs[iso].years]
    if gdp_rows:
        shares = totals.merge(pd.DataFrame(gdp_rows), on=["country", "year"], how="inner")
        shares["cell"] = [f"{100 * v / g:.2f} ({100 * lo / g:.2f}–{100 * hi / g:.2f})"
                          for v, lo, hi, g in zip(shares["value_usd"], shares["low_usd"], shares["high_usd"], shares["gdp_usd"])]
        piv = shares.assign(country=shares["country"].map(names)).pivot_table(index="country", columns="year",
                                                                                 values="cell", aggfunc="first")
        lines += ["Total IFFs (both markets) as a percentage of GDP: central estimate (sum of the markets' 90% interval "
                  "bounds). GDP in current US dollars, from each parameter file.", "", _md_table(piv), ""]
    last_year = results["year"].max()
    scen = results[(results["product"] == "all") & (results["flow"] == "total") & (results["year"] == last_year)]
    piv = (scen.assign(country=scen["country"].map(names))
           .pivot_table(index=["country", "market"], columns="scenario", values="value_usd", aggfunc="sum")
           .reindex(columns=["low", "central", "high"]))
    lines += ["## Scenarios", "", "The low and high scenarios move where ownership changes hands (drugs) and where fees "
              "are paid and to whom (smuggling): every such share at its low, or its high, value; see "
              "{doc}`/methodology/uncertainty`. They are named after their inputs, not their results, so the scenario "
              "named low need not give the lowest total.", "",
              f"Total IFFs in {last_year} by structural scenario, millions of current US dollars.", "",
              _md_table(piv.map(_money)), "",
              "## Download the results", "",
              "The same numbers as one tidy table — one row per country, year, market, product, flow and scenario, with "
              "the columns `country`, `ref_area` (M49), `year`, `market`, `product`, `flow`, `value_usd`, `low_usd`, "
              "`high_usd`, `unit` and `sources` — in three formats. The SDMX-CSV file uses the SDG concept names "
              "(`REF_AREA`, `TIME_PERIOD`, `OBS_VALUE`, `UNIT_MEASURE`, `LOWER_BOUND`, `UPPER_BOUND`) with dimensions for "
              "the activity and the flow; its series code is a placeholder until the official SDG series code for "
              "indicator 16.4.1 by activity is adopted.", "",
              "- {download}`iff-results.csv <iff-results.csv>`",
              "- {download}`iff-results.xlsx <iff-results.xlsx>`",
              "- {download}`iff-results.sdmx.csv <iff-results.sdmx.csv>`", "",
              "The same files are written by `iff export --format csv|xlsx|sdmx-csv --output PATH`.", ""]
    return "\n".join(lines)


def mirror_page(flows: pd.DataFrame) -> str:
    modelled = set(flows["country"].unique()) if len(flows) else set()
    pairs = mirror_pairs(flows, modelled) if len(flows) else pd.DataFrame()
    lines = ["(mirror-flows)=", "# Mirror flows between countries", "",
             "Every cross-border transaction has two sides. A kilogram of cocaine sold by a Colombian group to a Mexican "
             "one is an **inward** IFF of Colombia and an **outward** IFF of Mexico; a smuggling fee paid by an "
             "Ecuadorian migrant to a smuggler resident in Mexico is an outward IFF of Ecuador and an inward IFF of "
             "Mexico. When both countries are modelled, the same flow is estimated twice, each time from one country's "
             "own data. This chapter puts the two estimates side by side.", "",
             "The two sides rarely agree, and they should not be forced to: each country sees a different part of the "
             "market. The table gives the gap and its main cause, found by splitting the ratio of the two values into a "
             "ratio of quantities and a ratio of prices, $\\ln(V_a/V_b) = \\ln(Q_a/Q_b) + \\ln(p_a/p_b)$. Where only "
             "one side models the flow, the table says which parameter file lacks it: such gaps are a list of work for "
             "the national teams.", ""]
    if len(pairs):
        shown = pd.DataFrame({
            "flow (seller resident → buyer resident)": pairs["inward_country"] + " sells to " + pairs["outward_country"],
            "market": pairs["market"], "product": pairs["product"], "year": pairs["year"],
            "seller's inward IFF (US\\$ m)": pairs["value_usd_inward_side"].map(_money),
            "buyer's outward IFF (US\\$ m)": pairs["value_usd_outward_side"].map(_money),
            "gap (% of mean)": (100 * pairs["discrepancy_share"]).map(lambda x: f"{x:.0f}"),
            "main reason": pairs["reason"],
        })
        n = len(pairs.groupby(["inward_country", "outward_country", "market", "product"]))
        lines += ["Central scenario, millions of current US dollars.", "", _md_table(shown, include_index=False), "",
                  f"In all, {n} flows between modelled countries are recorded by at least one side.", ""]
    else:
        lines += ["No two modelled countries record a flow with each other.", ""]
    lines += ["## Reading the gaps", "",
              "- **Quantities.** A producer country estimates its exports from its own supply (crop, conversion, "
              "seizures); a transit country estimates its imports from its own or its destination's data. The two are "
              "independent, and seizure-based route shares are a rough guide to who buys what.",
              "- **Prices.** Each side values the flow where it believes ownership changes hands, at the prices it "
              "observes. The scenarios of each chapter show how much the point of sale matters.",
              "- **Coverage.** A flow can be modelled by one side only: a parameter file may attribute all its imports "
              "to one partner, or have no corridor for a partner's migrants. Such one-sided flows are listed with the "
              "file that lacks the other side; the data gaps of each chapter say what would be needed.", "",
              "Flows with countries that have no parameter file here (the United States, the countries of Central "
              "America and Europe) appear only on one side by construction.", ""]
    return "\n".join(lines)
