"""The cross-country chapters: results by country (SDG 16.4.1) and mirror flows.

They are generated at every build from the results the country chapters wrote (their
``<market>.summary.csv`` and ``<market>.flows.csv``) and from the parameter files' GDP, with the
downloadable exports. No kernel is needed: the tables are arithmetic on the country results, the
mirror pairs come from :mod:`methods.model.network`, and the prose is in the page templates.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..model.chapter.tables import product_label
from ..model.network import mirror_pairs
from ..model.params import CountryFile
from .charts import grouped_bars
from .export import load_flows, load_summaries, not_estimated_rows, results_table, write_table
from .files import write_if_changed, write_with
from .project import Project
from .render import Md, md_text, render

DOWNLOADS = (("csv", "iff-results.csv"), ("sdmx-csv", "iff-results.sdmx.csv"), ("xlsx", "iff-results.xlsx"))


def md_table(df: pd.DataFrame, include_index: bool = True) -> Md:
    """A table as Markdown: text cells are escaped (they may come from a parameter file); cells
    the program composed (:class:`Md`) and numbers formatted by it are written as they are."""
    frame = df.reset_index() if include_index else df
    frame = frame.map(lambda x: "" if x is None or (isinstance(x, float) and x != x) else md_text(x))
    frame.columns = [md_text(c) for c in frame.columns]
    return Md(frame.to_markdown(index=False, tablefmt="pipe", disable_numparse=True))


def _money(x) -> Md:
    return Md("—" if pd.isna(x) else f"{x / 1e6:,.1f}")


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
        write_if_changed(out / "summary.md", render("results-waiting.md.j2", label="results-summary",
                                                   title="Results by country: SDG indicator 16.4.1"))
        write_if_changed(out / "mirror.md", render("results-waiting.md.j2", label="mirror-flows",
                                                  title="Mirror flows between countries"))
        return False
    results = results_table(summaries, not_estimated_rows(cfs.values()))
    names = {iso: cfs[iso].name if iso in cfs else iso for iso in results["country"].unique()}
    # the xlsx file carries a timestamp: it is rewritten only when the data (the csv) changed
    csv_changed = True
    for fmt, name in DOWNLOADS:
        if fmt == "xlsx" and not csv_changed and (out / name).exists():
            continue
        changed = write_with(out / name, lambda tmp, fmt=fmt: write_table(results, fmt, tmp))
        if fmt == "csv":
            csv_changed = changed
    write_if_changed(out / "summary.md", summary_page(results, names, cfs, out))
    write_if_changed(out / "mirror.md", mirror_page(load_flows(project)))
    return True


def _product_name(market: str, product: str, cf: CountryFile | None) -> str:
    if market == "smuggling" and cf is not None and cf.markets.smuggling is not None:
        corridor = cf.markets.smuggling.corridors.get(product)
        if corridor is not None:
            return corridor.label
    return product_label(product)


def _interval_cells(df: pd.DataFrame) -> list[Md]:
    return [Md(f"{_money(v)} ({_money(lo)}–{_money(hi)})") for v, lo, hi in zip(df["value_usd"], df["low_usd"], df["high_usd"])]


def by_product(results: pd.DataFrame, names: dict[str, str], cfs: dict[str, CountryFile]) -> list[dict]:
    """For each country: inward, outward and total IFFs by market and product (drug stage or smuggling
    corridor) and year, with the 90% Monte Carlo interval; rows that are zero in every year are left out."""
    rows = results[(results["scenario"] == "central") & (results["product"] != "all")]
    out = []
    for iso in sorted(rows["country"].unique()):
        c = rows[rows["country"] == iso]
        nonzero = c.groupby(["market", "product", "direction"])["value_usd"].transform(lambda s: (s.abs() > 0).any())
        c = c[nonzero]
        if c.empty:
            continue
        c = c.assign(cell=_interval_cells(c),
                     product=[_product_name(m, p, cfs.get(iso)) for m, p in zip(c["market"], c["product"])],
                     direction=pd.Categorical(c["direction"], ["inward", "outward", "total"], ordered=True))
        table = c.pivot_table(index=["market", "product", "direction"], columns="year", values="cell", aggfunc="first",
                              observed=True)
        out.append({"name": names.get(iso, iso), "table": md_table(table)})
    return out


def summary_page(results: pd.DataFrame, names: dict[str, str], cfs: dict[str, CountryFile], out: Path) -> str:
    countries = sorted(results["country"].unique())
    central = results[(results["scenario"] == "central") & (results["product"] == "all")]
    years = sorted(central["year"].unique())
    total = central[central["direction"] == "total"]
    total_table = (total.assign(cell=_interval_cells(total), name=total["country"].map(names))
                   .pivot_table(index=["name", "market"], columns="year", values="cell", aggfunc="first"))
    total_table.index = total_table.index.set_names(["country", "market"])
    flows = central[central["direction"].isin(["inward", "outward"])]
    direction_table = (flows.assign(name=flows["country"].map(names))
                       .pivot_table(index=["name", "market", "direction"], columns="year", values="value_usd", aggfunc="sum") / 1e6)
    direction_table.index = direction_table.index.set_names(["country", "market", "direction"])
    totals = (total.groupby(["country", "year"], as_index=False)[["value_usd", "low_usd", "high_usd"]].sum())
    write_if_changed(out / "totals.svg", grouped_bars(
        [str(y) for y in years],
        {names[iso]: [float(totals[(totals["country"] == iso) & (totals["year"] == y)]["value_usd"].sum()) / 1e6
                      for y in years] for iso in countries},
        "Total IFFs (inward + outward), drug trafficking and smuggling of migrants", "millions of current US dollars"))
    cats, inward, outward = [], [], []
    for iso in countries:
        c = central[(central["country"] == iso) & central["direction"].isin(["inward", "outward"])]
        last = c["year"].max()
        for market in sorted(c["market"].unique()):
            m = c[(c["year"] == last) & (c["market"] == market)]
            cats.append(f"{names[iso]} {market}")
            inward.append(float(m[m["direction"] == "inward"]["value_usd"].sum()) / 1e6)
            outward.append(float(m[m["direction"] == "outward"]["value_usd"].sum()) / 1e6)
    write_if_changed(out / "markets.svg", grouped_bars(cats, {"inward": inward, "outward": outward},
                                                       "Inward and outward IFFs by country and market, last year",
                                                       "millions of current US dollars"))
    gdp_rows = [{"country": iso, "year": y, "gdp_usd": cfs[iso].macro.gdp_usd.at_year(y)[0]}
                for iso in countries if iso in cfs and cfs[iso].macro.gdp_usd is not None for y in cfs[iso].years]
    gdp_table = None
    if gdp_rows:
        shares = totals.merge(pd.DataFrame(gdp_rows), on=["country", "year"], how="inner")
        shares["cell"] = [Md(f"{100 * v / g:.2f} ({100 * lo / g:.2f}–{100 * hi / g:.2f})")
                          for v, lo, hi, g in zip(shares["value_usd"], shares["low_usd"], shares["high_usd"], shares["gdp_usd"])]
        gdp_table = md_table(shares.assign(country=shares["country"].map(names))
                             .pivot_table(index="country", columns="year", values="cell", aggfunc="first"))
    last_year = results["year"].max()
    scen = results[(results["product"] == "all") & (results["direction"] == "total") & (results["year"] == last_year)]
    scenario_table = (scen.assign(country=scen["country"].map(names))
                      .pivot_table(index=["country", "market"], columns="scenario", values="value_usd", aggfunc="sum")
                      .reindex(columns=["low", "central", "high"]))
    return render("results.md.j2", total_table=md_table(total_table),
                  direction_table=md_table(direction_table.map(lambda x: Md(f"{x:,.1f}"))),
                  by_product=by_product(results, names, cfs), gdp_table=gdp_table, last_year=last_year,
                  scenario_table=md_table(scenario_table.map(_money)))


def mirror_page(flows: pd.DataFrame) -> str:
    modelled = set(flows["country"].unique()) if len(flows) else set()
    pairs = mirror_pairs(flows, modelled) if len(flows) else pd.DataFrame()
    if not len(pairs):
        return render("mirror.md.j2", pairs_table=None, n_pairs=0)
    shown = pd.DataFrame({
        "flow (seller resident → buyer resident)": pairs["inward_country"] + " sells to " + pairs["outward_country"],
        "market": pairs["market"], "product": pairs["product"], "year": pairs["year"],
        "seller's inward IFF (US$ m)": pairs["value_usd_inward_side"].map(_money),
        "buyer's outward IFF (US$ m)": pairs["value_usd_outward_side"].map(_money),
        "gap (% of mean)": (100 * pairs["discrepancy_share"]).map(lambda x: Md(f"{x:.0f}")),
        "main reason": pairs["reason"],
    })
    n = len(pairs.groupby(["inward_country", "outward_country", "market", "product"]))
    return render("mirror.md.j2", pairs_table=md_table(shown, include_index=False), n_pairs=n)
