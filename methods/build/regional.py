"""The cross-country chapters: results by country (SDG 16.4.1) and the regional network.

They are generated at every build from the results the country chapters wrote (their
``<market>.summary.csv`` and ``<market>.partners.csv``) and from the parameter files' GDP, with the
downloadable exports. No kernel is needed: the tables are arithmetic on the country results, the
reconciled network comes from :mod:`methods.model.network`, and the prose is in the page templates.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..model.chapter.tables import product_label
from ..model.network import joint_total_draws, reconciled_totals, summarise_draws
from ..model.params.partners import partner_name
from ..model.params import MARKET_LABELS, CountryFile
from .charts import grouped_bars
from .export import load_draws, load_partners, load_summaries, network_pairs, not_estimated_rows, results_table, write_table
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
        write_landing(project, pd.DataFrame(), {}, {})
        out.mkdir(parents=True, exist_ok=True)
        for f in out.iterdir():
            if f.name not in ("summary.md", "mirror.md"):
                f.unlink()
        write_if_changed(out / "summary.md", render("results-waiting.md.j2", label="results-summary",
                                                   title="Results by country: SDG indicator 16.4.1"))
        write_if_changed(out / "mirror.md", render("results-waiting.md.j2", label="mirror-flows",
                                                  title="Mirror flows between countries"))
        return False
    partners = load_partners(project)
    draws = load_draws(project)
    pairs = network_pairs(partners, draws)
    results = results_table(summaries, not_estimated_rows(cfs.values()), partners, pairs)
    names = {iso: cfs[iso].name if iso in cfs else iso for iso in results["country"].unique()}
    # the xlsx file carries a timestamp: it is rewritten only when the data (the csv) changed
    csv_changed = True
    for fmt, name in DOWNLOADS:
        if fmt == "xlsx" and not csv_changed and (out / name).exists():
            continue
        changed = write_with(out / name, lambda tmp, fmt=fmt: write_table(results, fmt, tmp))
        if fmt == "csv":
            csv_changed = changed
    write_if_changed(out / "summary.md", summary_page(results, names, cfs, out, draws))
    write_landing(project, results, names, draws)
    write_if_changed(out / "mirror.md", network_page(pairs, summaries, names))
    return True


def _product_name(market: str, product: str, cf: CountryFile | None) -> str:
    if market == "smuggling" and cf is not None and cf.markets.smuggling is not None:
        corridor = cf.markets.smuggling.corridors.get(product)
        if corridor is not None:
            return corridor.label
    return product_label(product)


def _interval_cells(df: pd.DataFrame) -> list[Md]:
    return [Md("not estimated" if pd.isna(v) else f"{_money(v)} ({_money(lo)}–{_money(hi)})")
            for v, lo, hi in zip(df["value_usd"], df["mc_p05_usd"], df["mc_p95_usd"])]


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


def summary_page(results: pd.DataFrame, names: dict[str, str], cfs: dict[str, CountryFile], out: Path,
                 draws: dict | None = None) -> str:
    results = results[(results["partner"] == "all") & (results["basis"] == "own")] if "basis" in results else results
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
    totals = total.groupby(["country", "year"], as_index=False)["value_usd"].sum()
    # the totals over markets, over countries and over years, and the GDP shares, from joint draws
    joint = joint_total_draws(draws or {}, countries=set(countries))
    joint_rows, gdp_rows = [], []
    for iso in [c for c in countries if c in joint] + (["all"] if len(joint) > 2 else []):
        pct = summarise_draws(joint[iso])
        value = (totals[totals["country"] == iso].set_index("year")["value_usd"] if iso != "all"
                 else totals.groupby("year")["value_usd"].sum())
        cells = {str(y): Md(f"{_money(value.get(y))} ({_money(pct[0, i])}–{_money(pct[2, i])})") for i, y in enumerate(years)}
        cumulative = summarise_draws(joint[iso].sum(axis=1, keepdims=True))[:, 0]
        cells[f"{years[0]}–{years[-1]}"] = Md(f"{_money(value.sum())} ({_money(cumulative[0])}–{_money(cumulative[2])})")
        joint_rows.append({"country": "all countries above" if iso == "all" else names.get(iso, iso), **cells})
        if iso != "all" and iso in cfs and cfs[iso].macro.gdp_usd is not None:
            gdp = np.array([cfs[iso].macro.gdp_usd.at_year(y)[0] for y in years], dtype=float)
            share = summarise_draws(joint[iso] / gdp)
            gdp_rows.append({"country": names.get(iso, iso), **{str(y): Md(
                f"{100 * value.get(y) / gdp[i]:.2f} ({100 * share[0, i]:.2f}–{100 * share[2, i]:.2f})")
                for i, y in enumerate(years)}})
    joint_table = md_table(pd.DataFrame(joint_rows), include_index=False) if joint_rows else None
    gdp_table = md_table(pd.DataFrame(gdp_rows), include_index=False) if gdp_rows else None
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
            cats.append(f"{names[iso]}: {MARKET_LABELS[market]}")
            inward.append(float(m[m["direction"] == "inward"]["value_usd"].sum()) / 1e6)
            outward.append(float(m[m["direction"] == "outward"]["value_usd"].sum()) / 1e6)
    write_if_changed(out / "markets.svg", grouped_bars(cats, {"inward": inward, "outward": outward},
                                                       "Inward and outward IFFs by country and market, last year",
                                                       "millions of current US dollars"))
    last_year = results["year"].max()
    scen = results[(results["product"] == "all") & (results["direction"] == "total") & (results["year"] == last_year)]
    scenario_table = (scen.assign(country=scen["country"].map(names))
                      .pivot_table(index=["country", "market"], columns="scenario", values="value_usd", aggfunc="sum")
                      .reindex(columns=["low", "central", "high"]))
    return render("results.md.j2", total_table=md_table(total_table),
                  direction_table=md_table(direction_table.map(lambda x: Md(f"{x:,.1f}"))),
                  by_product=by_product(results, names, cfs), gdp_table=gdp_table, joint_table=joint_table,
                  last_year=last_year, scenario_table=md_table(scenario_table.map(_money)))


def _name(code: str, names: dict[str, str]) -> str:
    return names.get(code) or partner_name(code)


def bilateral_matrix(pairs: pd.DataFrame, year: int, names: dict[str, str]) -> Md:
    """Sellers in rows, buyers in columns: the reconciled flow of all markets and products in one year,
    with each side's own estimate beneath it (millions of US dollars; — where a side has none)."""
    y = pairs[pairs["year"] == year]
    cols = ["value_usd_seller", "value_usd_buyer", "reconciled_usd"]
    g = y.groupby(["seller", "buyer"])[cols].sum(min_count=1)
    countries = sorted(set(y["seller"]) | set(y["buyer"]))
    rows = []
    for s in countries:
        row = {"seller ↓ / buyer →": md_text(_name(s, names))}
        for b in countries:
            if (s, b) in g.index:
                r = g.loc[(s, b)]
                row[_name(b, names)] = Md(f"**{_money(r.reconciled_usd)}** ({_money(r.value_usd_seller)} / "
                                          f"{_money(r.value_usd_buyer)})")
            else:
                row[_name(b, names)] = Md("")
        rows.append(row)
    return md_table(pd.DataFrame(rows), include_index=False)


def network_page(pairs: pd.DataFrame, summaries: pd.DataFrame, names: dict[str, str]) -> str:
    if pairs.empty:
        return render("mirror.md.j2", matrices=[], n_pairs=0)
    years = sorted(pairs["year"].unique())
    matrices = [{"year": int(y), "table": bilateral_matrix(pairs, y, names)} for y in years]
    both = pairs[pairs["rule"].str.startswith("both")]
    disagree = both[both["disagree"]]
    pair_name = lambda r: f"{_name(r.seller, names)} → {_name(r.buyer, names)}"  # noqa: E731
    detail = pd.DataFrame({
        "seller → buyer": [pair_name(r) for r in pairs.itertuples()],
        "product": [product_label(p) if m == "drugs" else MARKET_LABELS[m] for m, p in zip(pairs["market"], pairs["product"])],
        "year": pairs["year"],
        "seller's own": pairs["value_usd_seller"].map(_money), "buyer's own": pairs["value_usd_buyer"].map(_money),
        "reconciled (90% interval)": [Md(f"{_money(v)} ({_money(lo)}–{_money(hi)})") for v, lo, hi in
                                      zip(pairs["reconciled_usd"], pairs["reconciled_p05_usd"], pairs["reconciled_p95_usd"])],
        "weight of the seller's side": [Md(f"{w:.0%}") for w in pairs["seller_weight"]],
        "why the own estimates differ": pairs["reason"],
    })
    own = summaries[(summaries["scenario"] == "central") & (summaries["product"] == "all")]
    totals = reconciled_totals(own, pairs)
    totals = totals.assign(country=totals["country"].map(lambda c: _name(c, names)), market=totals["market"].map(MARKET_LABELS),
                           cell=[Md(f"{_money(a)} → {_money(b)}") for a, b in zip(totals["own_usd"], totals["reconciled_usd"])])
    total_table = totals.pivot_table(index=["country", "market", "direction"], columns="year", values="cell", aggfunc="first")
    imputed = pairs[~pairs["rule"].str.startswith("both")]
    imputed_list = sorted({f"{pair_name(r)} ({product_label(r.product) if r.market == 'drugs' else MARKET_LABELS[r.market]}): "
                           f"{r.reason}" for r in imputed.itertuples()})
    return render("mirror.md.j2", matrices=matrices, n_pairs=len(pairs.groupby(["seller", "buyer"])),
                  n_both=len(both.groupby(["seller", "buyer", "market", "product"])),
                  disagree=[{"pair": pair_name(r), "product": product_label(r.product) if r.market == "drugs" else MARKET_LABELS[r.market],
                             "year": int(r.year), "seller": _money(r.value_usd_seller), "seller_low": _money(r.mc_p05_usd_seller),
                             "seller_high": _money(r.mc_p95_usd_seller), "buyer": _money(r.value_usd_buyer),
                             "buyer_low": _money(r.mc_p05_usd_buyer), "buyer_high": _money(r.mc_p95_usd_buyer), "reason": r.reason}
                            for r in disagree.itertuples()],
                  imputed=imputed_list, detail_table=md_table(detail, include_index=False),
                  total_table=md_table(total_table))


def write_network_example(project: Project) -> bool:
    """The training page that works the reconciliation through by hand on the fictional countries
    (``book/countries/network-example.md``); until two of them have results, it says what is missing."""
    from ..model.network import Z90, log_sigma, precision_weight

    page = project.book_dir / "countries" / "network-example.md"
    partners = load_partners(project, include_fictional=True)
    fictional = partners[partners["country"].str.startswith("X")] if not partners.empty else partners
    pairs = network_pairs(fictional, {k: v for k, v in load_draws(project, include_fictional=True).items()
                                      if k[0].startswith("X")})
    both = pairs[pairs["rule"].str.startswith("both") & (pairs["market"] == "drugs")] if not pairs.empty else pairs
    page.parent.mkdir(parents=True, exist_ok=True)
    if both.empty or both["quantity_kg_seller"].isna().all():
        write_if_changed(page, render("results-waiting.md.j2", label="network-example",
                                      title="Worked example: two neighbours, one reconciled flow",
                                      message="This example needs the chapters of two fictional neighbours that trade "
                                              "with each other, Ruritania and Borduria (parameters/XRU.yml and "
                                              "parameters/XBO.yml): run make book."))
        return False
    last = int(both["year"].max())
    ex = both[(both["year"] == last)].sort_values("value_usd_seller", ascending=False).iloc[0]
    names = {"XRU": "Ruritania", "XBO": "Borduria"}

    def side(prefix: str, who: str) -> dict:
        v, lo, hi = ex[f"value_usd_{prefix}"], ex[f"mc_p05_usd_{prefix}"], ex[f"mc_p95_usd_{prefix}"]
        sigma = float(log_sigma(v, lo, hi))
        return {"country": names.get(ex[who], ex[who]), "value": v / 1e6, "low": lo / 1e6, "high": hi / 1e6,
                "quantity": ex[f"quantity_kg_{prefix}"] / 1e3, "sigma": sigma, "weight": float(precision_weight(sigma))}

    s, b = side("seller", "seller"), side("buyer", "buyer")
    write_if_changed(page, render(
        "network-example.md.j2", year=last, product=product_label(ex["product"]), seller=s, buyer=b,
        share=s["weight"] / (s["weight"] + b["weight"]), reconciled=ex["reconciled_usd"] / 1e6,
        reconciled_low=ex["reconciled_p05_usd"] / 1e6, reconciled_high=ex["reconciled_p95_usd"] / 1e6,
        reconciled_t=ex["reconciled_kg"] / 1e3, z90=Z90, reason=ex["reason"], disagree=bool(ex["disagree"]),
        matrix=bilateral_matrix(pairs, last, names),
        imputed=sorted({f"{_name(r.seller, names)} → {_name(r.buyer, names)} ({product_label(r.product) if r.market == 'drugs' else MARKET_LABELS[r.market]}): {r.reason}"
                        for r in pairs[~pairs["rule"].str.startswith("both")].itertuples()})))
    return True


def write_landing(project: Project, results: pd.DataFrame, names: dict[str, str], draws: dict) -> None:
    """The fragment the landing page includes (``book/_generated/landing.md``): the edition, and each
    country's total IFFs in the last year with its interval (from joint draws) and scenario span."""
    from .project import edition

    version, date = edition(project.root)
    rows, last_year, table = [], None, None
    if not results.empty:
        own = results[(results["partner"] == "all") & (results["basis"] == "own") & (results["product"] == "all")
                      & (results["direction"] == "total")]
        last_year = int(own["year"].max())
        joint = joint_total_draws(draws, countries=set(own["country"]))
        for iso in sorted(own["country"].unique()):
            o = own[(own["country"] == iso) & (own["year"] == last_year)]
            by = {sc: o[o["scenario"] == sc]["value_usd"].sum(min_count=1) for sc in ("low", "central", "high")}
            if iso in joint:
                years = sorted(own[own["country"] == iso]["year"].unique())
                lo, hi = np.percentile(joint[iso][:, years.index(last_year)], [5, 95])
            else:
                lo = hi = float("nan")
            rows.append({"country": Md(f"{{doc}}`{md_text(names.get(iso, iso))} </countries/{iso}/index>`"),
                         f"total {last_year}": _money(by["central"]), "90% interval": Md(f"{_money(lo)}–{_money(hi)}"),
                         "scenarios": Md(f"{_money(by['low'])}–{_money(by['high'])}")})
        table = md_table(pd.DataFrame(rows), include_index=False)
    path = project.book_dir / "_generated" / "landing.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(path, render("landing.md.j2", version=version, date=date, rows=rows, last_year=last_year,
                                  table=table))
