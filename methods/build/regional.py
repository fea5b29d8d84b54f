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

from ..model.chapter.tables import DIRECTION_NAMES, product_label
from ..model.i18n import N_, Translator
from ..model.network import discrepancy_reason, joint_total_draws, reconciled_totals, summarise_draws
from ..model.params.partners import partner_name
from ..model.params import MARKET_LABELS, CountryFile
from .export import load_draws, load_partners, load_summaries, network_pairs, not_estimated_rows, results_table, write_table
from .files import write_if_changed, write_with
from .project import Project
from .render import Md, md_text, render, role_text

DOWNLOADS = (("csv", "iff-results.csv"), ("sdmx-csv", "iff-results.sdmx.csv"), ("xlsx", "iff-results.xlsx"))


def md_table(df: pd.DataFrame, include_index: bool = True) -> Md:
    """A table as Markdown: text cells are escaped (they may come from a parameter file); cells
    the program composed (:class:`Md`) and numbers formatted by it are written as they are."""
    frame = df.reset_index() if include_index else df
    frame = frame.map(lambda x: "" if x is None or (isinstance(x, float) and x != x) else md_text(x))
    frame.columns = [md_text(c) for c in frame.columns]
    return Md(frame.to_markdown(index=False, tablefmt="pipe", disable_numparse=True))


def _money(x, tr: Translator | None = None) -> Md:
    """US dollars as millions, for readers of the edition's language."""
    return Md("—" if pd.isna(x) else (tr or EN).number(x / 1e6, 1))


EN = Translator("en")


_RESULTS: dict[tuple, tuple] = {}


def _chapter_results(project: Project, include_fictional: bool = False) -> tuple:
    """(summaries, partners, draws, pairs) of the chapters' results files, read once per process
    while the files are unchanged (both editions are generated from the same files)."""
    files = []
    base = Project(project.root).book_dir / "countries"
    for f in sorted(base.glob("*/.*.manifest.json")) + sorted(base.glob("*/*.summary.csv")) + \
            sorted(base.glob("*/*.partners.csv")) + sorted(base.glob("*/*.draws.npz")):
        info = f.stat()
        files.append((str(f), info.st_mtime_ns, info.st_size))
    key = (str(project.root), include_fictional, tuple(files))
    if key not in _RESULTS:
        english = Project(project.root)
        summaries = load_summaries(english, include_fictional)
        partners = load_partners(english, include_fictional)
        draws = load_draws(english, include_fictional)
        if len(_RESULTS) > 3:
            _RESULTS.clear()
        _RESULTS[key] = (summaries, partners, draws, {})
    return _RESULTS[key]


def read_results(project: Project) -> None:
    """Read the chapters' results files and reconcile the network once, so that the editions'
    pages, written side by side in two processes, both start from them."""
    cached = _chapter_results(project)
    if not cached[0].empty:
        _pairs(cached, cached[1], cached[2])
    _chapter_results(project, include_fictional=True)


def _pairs(cached: tuple, partners: pd.DataFrame, draws: dict, which: str = "all") -> pd.DataFrame:
    """The reconciled network of cached results (computed once for both editions)."""
    memo = cached[3]
    if which not in memo:
        memo[which] = network_pairs(partners, draws)
    return memo[which]


def _chart(path: Path, *args, **kwargs) -> None:
    """Write the chart ``grouped_bars(*args, **kwargs)`` to ``path`` unless it was drawn from the same
    data and words before (drawing it takes a fifth of a second; its fingerprint sits beside it)."""
    import hashlib

    stamp = path.with_name(f".{path.name}.sha256")
    words = kwargs.get("tr").lang if kwargs.get("tr") is not None else "en"
    digest = hashlib.sha256(repr((args, words, sorted((k, repr(v)) for k, v in kwargs.items() if k != "tr"))).encode()
                            ).hexdigest()
    if path.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return
    from .charts import grouped_bars  # matplotlib is imported only when a chart must be drawn

    write_if_changed(path, grouped_bars(*args, **kwargs))
    write_if_changed(stamp, digest)


def write_results_pages(project: Project, cfs: dict[str, CountryFile]) -> bool:
    """Write book/results/ (two pages, their figures and the exports). False if there is no result
    yet: the two pages then say so (hand-written chapters link to them), and nothing else is kept."""
    out = project.book_dir / "results"
    tr = Translator(project.lang)
    cached = _chapter_results(project)
    summaries, partners, draws = cached[:3]
    if summaries.empty:
        write_landing(project, pd.DataFrame(), {}, {})
        out.mkdir(parents=True, exist_ok=True)
        for f in out.iterdir():
            if f.name not in ("summary.md", "mirror.md") and not f.is_dir():
                f.unlink()
        write_if_changed(out / "summary.md", render("results-waiting.md.j2", project.lang, label="results-summary",
                                                   title=tr("Results by country: SDG indicator 16.4.1")))
        write_if_changed(out / "mirror.md", render("results-waiting.md.j2", project.lang, label="mirror-flows",
                                                  title=tr("Mirror flows between countries")))
        return False
    pairs = _pairs(cached, partners, draws)
    results = results_table(summaries, not_estimated_rows(cfs.values()), partners, pairs)
    names = {iso: cfs[iso].name_in(project.lang) if iso in cfs else iso for iso in results["country"].unique()}
    if project.lang == "en":
        # the xlsx file carries a timestamp: it is rewritten only when the data (the csv) changed
        csv_changed = True
        for fmt, name in DOWNLOADS:
            if fmt == "xlsx" and not csv_changed and (out / name).exists():
                continue
            changed = write_with(out / name, lambda tmp, fmt=fmt: write_table(results, fmt, tmp))
            if fmt == "csv":
                csv_changed = changed
    else:  # the other edition offers the same files
        from .editions import _link

        english = Project(project.root).book_dir / "results"
        for _fmt, name in DOWNLOADS:
            _link(out / name, english / name)
    write_if_changed(out / "summary.md", summary_page(results, names, cfs, out, draws, tr))
    write_landing(project, results, names, draws)
    write_if_changed(out / "mirror.md", network_page(pairs, summaries, names, tr))
    return True


def _product_name(market: str, product: str, cf: CountryFile | None, tr: Translator = EN) -> str:
    if market == "smuggling" and cf is not None and cf.markets.smuggling is not None:
        corridor = cf.markets.smuggling.corridors.get(product)
        if corridor is not None:
            return Translator(tr.lang, cf.country).text(corridor.label)
    return product_label(product, tr)


def _market(market: str, tr: Translator) -> str:
    return tr(MARKET_LABELS[market])


def _interval_cells(df: pd.DataFrame, tr: Translator = EN) -> list[Md]:
    return [Md(tr("not estimated") if pd.isna(v) else f"{_money(v, tr)} ({_money(lo, tr)}–{_money(hi, tr)})")
            for v, lo, hi in zip(df["value_usd"], df["mc_p05_usd"], df["mc_p95_usd"])]


def _labels(frame: pd.DataFrame, tr: Translator) -> pd.DataFrame:
    """A table's markets and directions in readers' words, and its index named in the edition's language."""
    frame = frame.copy()
    for column, words in (("market", MARKET_LABELS), ("direction", DIRECTION_NAMES)):
        if column in frame.index.names:
            level = frame.index.names.index(column)
            frame.index = frame.index.set_levels(
                [tr(words.get(v, v)) for v in frame.index.levels[level]], level=level) \
                if isinstance(frame.index, pd.MultiIndex) else frame.index.map(lambda v: tr(words.get(v, v)))
    frame.index = frame.index.set_names([tr(n) if isinstance(n, str) else n for n in frame.index.names])
    return frame


def by_product(results: pd.DataFrame, names: dict[str, str], cfs: dict[str, CountryFile],
               tr: Translator = EN) -> list[dict]:
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
        c = c.assign(cell=_interval_cells(c, tr),
                     product=[_product_name(m, p, cfs.get(iso), tr) for m, p in zip(c["market"], c["product"])],
                     direction=pd.Categorical(c["direction"], ["inward", "outward", "total"], ordered=True))
        table = c.pivot_table(index=["market", "product", "direction"], columns="year", values="cell", aggfunc="first",
                              observed=True)
        out.append({"name": names.get(iso, iso), "table": md_table(_labels(table, tr))})
    return out


def summary_page(results: pd.DataFrame, names: dict[str, str], cfs: dict[str, CountryFile], out: Path,
                 draws: dict | None = None, tr: Translator = EN) -> str:
    results = results[(results["partner"] == "all") & (results["basis"] == "own")] if "basis" in results else results
    countries = sorted(results["country"].unique())
    central = results[(results["scenario"] == "central") & (results["product"] == "all")]
    years = sorted(central["year"].unique())
    total = central[central["direction"] == "total"]
    total_table = (total.assign(cell=_interval_cells(total, tr), name=total["country"].map(names))
                   .pivot_table(index=["name", "market"], columns="year", values="cell", aggfunc="first"))
    total_table.index = total_table.index.set_names([N_("country"), N_("market")])
    flows = central[central["direction"].isin(["inward", "outward"])]
    direction_table = (flows.assign(name=flows["country"].map(names))
                       .pivot_table(index=["name", "market", "direction"], columns="year", values="value_usd",
                                    aggfunc=_sum_or_none, dropna=False) / 1e6)
    # a market not estimated keeps its rows (as "not estimated"); combinations that do not occur do not appear
    present = pd.MultiIndex.from_frame(flows.assign(name=flows["country"].map(names))[["name", "market", "direction"]]
                                       .drop_duplicates())
    direction_table = direction_table.loc[direction_table.index.isin(present)]
    direction_table.index = direction_table.index.set_names([N_("country"), N_("market"), N_("direction")])
    totals = total.groupby(["country", "year"], as_index=False)["value_usd"].sum(min_count=1)  # not estimated stays so
    # the totals over markets, over countries and over years, and the GDP shares, from joint draws
    joint = joint_total_draws(draws or {}, countries=set(countries))
    joint_rows, gdp_rows = [], []
    for iso in [c for c in countries if c in joint] + (["all"] if len(joint) > 2 else []):
        pct = summarise_draws(joint[iso])
        value = (totals[totals["country"] == iso].set_index("year")["value_usd"] if iso != "all"
                 else totals.groupby("year")["value_usd"].sum())
        cells = {str(y): Md(f"{_money(value.get(y), tr)} ({_money(pct[0, i], tr)}–{_money(pct[2, i], tr)})")
                 for i, y in enumerate(years)}
        cumulative = summarise_draws(joint[iso].sum(axis=1, keepdims=True))[:, 0]
        cells[f"{years[0]}–{years[-1]}"] = Md(f"{_money(value.sum(), tr)} ({_money(cumulative[0], tr)}–"
                                              f"{_money(cumulative[2], tr)})")
        joint_rows.append({tr("country"): tr("all countries above") if iso == "all" else names.get(iso, iso), **cells})
        if iso != "all" and iso in cfs and cfs[iso].macro.gdp_usd is not None:
            gdp = np.array([cfs[iso].macro.gdp_usd.at_year(y)[0] for y in years], dtype=float)
            share = summarise_draws(joint[iso] / gdp)
            pc = lambda x: tr.number(100 * x, 2)  # noqa: E731
            gdp_rows.append({tr("country"): names.get(iso, iso), **{str(y): Md(
                f"{pc(value.get(y) / gdp[i])} ({pc(share[0, i])}–{pc(share[2, i])})") for i, y in enumerate(years)}})
    joint_table = md_table(pd.DataFrame(joint_rows), include_index=False) if joint_rows else None
    gdp_table = md_table(pd.DataFrame(gdp_rows), include_index=False) if gdp_rows else None
    _chart(out / "totals.svg",
        [str(y) for y in years],
        {names[iso]: [float(totals[(totals["country"] == iso) & (totals["year"] == y)]["value_usd"].sum(min_count=1)) / 1e6
                      for y in years] for iso in countries},
        tr("Total IFFs (inward + outward), drug trafficking and smuggling of migrants"),
        tr("millions of current US dollars"), tr=tr)
    cats, inward, outward = [], [], []
    for iso in countries:
        c = central[(central["country"] == iso) & central["direction"].isin(["inward", "outward"])]
        last = c["year"].max()
        for market in sorted(c["market"].unique()):
            m = c[(c["year"] == last) & (c["market"] == market)]
            if m["value_usd"].isna().all():
                continue  # a market not estimated has no bar (never a bar of zero)
            cats.append(f"{names[iso]}: {_market(market, tr)}")
            inward.append(float(m[m["direction"] == "inward"]["value_usd"].sum(min_count=1)) / 1e6)
            outward.append(float(m[m["direction"] == "outward"]["value_usd"].sum(min_count=1)) / 1e6)
    _chart(out / "markets.svg",
           cats, {tr("inward"): inward, tr("outward"): outward}, tr("Inward and outward IFFs by country and market, last year"),
           tr("millions of current US dollars"), roles={tr("inward"): "inward", tr("outward"): "outward"}, tr=tr)
    last_year = results["year"].max()
    scen = results[(results["product"] == "all") & (results["direction"] == "total") & (results["year"] == last_year)]
    scenario_table = (scen.assign(country=scen["country"].map(names))
                      .pivot_table(index=["country", "market"], columns="scenario", values="value_usd",
                                   aggfunc=_sum_or_none)
                      .reindex(columns=["low", "central", "high"]))
    scenario_table.columns = [tr(DIRECTION_NAMES[c]) for c in scenario_table.columns]
    return render("results.md.j2", tr.lang, total_table=md_table(_labels(total_table, tr)),
                  direction_table=md_table(_labels(direction_table, tr).map(lambda x: _money_or_gap(x * 1e6, tr))),
                  by_product=by_product(results, names, cfs, tr), gdp_table=gdp_table, joint_table=joint_table,
                  last_year=last_year, scenario_table=md_table(_labels(scenario_table, tr).map(lambda x: _money_or_gap(x, tr))))


def _sum_or_none(values: pd.Series) -> float:
    """A sum in which values that were not estimated stay not estimated (pandas would give 0)."""
    return values.sum(min_count=1)


def _money_or_gap(x, tr: Translator) -> Md:
    return Md(tr("not estimated")) if pd.isna(x) else _money(x, tr)


def _name(code: str, names: dict[str, str], lang: str = "en") -> str:
    return names.get(code) or partner_name(code, lang)


def bilateral_matrix(pairs: pd.DataFrame, year: int, names: dict[str, str], tr: Translator = EN) -> Md:
    """Sellers in rows, buyers in columns: the reconciled flow of all markets and products in one year,
    with each side's own estimate beneath it (millions of US dollars; — where a side has none)."""
    y = pairs[pairs["year"] == year]
    cols = ["value_usd_seller", "value_usd_buyer", "reconciled_usd"]
    g = y.groupby(["seller", "buyer"])[cols].sum(min_count=1)
    countries = sorted(set(y["seller"]) | set(y["buyer"]))
    rows = []
    for s in countries:
        row = {tr("seller ↓ / buyer →"): md_text(_name(s, names, tr.lang))}
        for b in countries:
            if (s, b) in g.index:
                r = g.loc[(s, b)]
                row[_name(b, names, tr.lang)] = Md(f"**{_money(r.reconciled_usd, tr)}** ({_money(r.value_usd_seller, tr)} / "
                                                   f"{_money(r.value_usd_buyer, tr)})")
            else:
                row[_name(b, names, tr.lang)] = Md("")
        rows.append(row)
    return md_table(pd.DataFrame(rows), include_index=False)


def network_page(pairs: pd.DataFrame, summaries: pd.DataFrame, names: dict[str, str], tr: Translator = EN) -> str:
    if pairs.empty:
        return render("mirror.md.j2", tr.lang, matrices=[], n_pairs=0)
    years = sorted(pairs["year"].unique())
    matrices = [{"year": int(y), "table": bilateral_matrix(pairs, y, names, tr)} for y in years]
    both = pairs[pairs["rule"].str.startswith("both")]
    disagree = both[both["disagree"]]
    pair_name = lambda r: f"{_name(r.seller, names, tr.lang)} → {_name(r.buyer, names, tr.lang)}"  # noqa: E731
    product = lambda m, p: product_label(p, tr) if m == "drugs" else _market(m, tr)  # noqa: E731
    money = lambda x: _money(x, tr)  # noqa: E731
    detail = pd.DataFrame({
        tr("seller → buyer"): [pair_name(r) for r in pairs.itertuples()],
        tr("product"): [product(m, p) for m, p in zip(pairs["market"], pairs["product"])],
        tr("year"): pairs["year"],
        tr("seller's own"): pairs["value_usd_seller"].map(money), tr("buyer's own"): pairs["value_usd_buyer"].map(money),
        tr("reconciled (90% interval)"): [Md(f"{money(v)} ({money(lo)}–{money(hi)})") for v, lo, hi in
                                          zip(pairs["reconciled_usd"], pairs["reconciled_p05_usd"], pairs["reconciled_p95_usd"])],
        tr("weight of the seller's side"): [Md(tr.number(100 * w, 0) + "%") for w in pairs["seller_weight"]],
        tr("why the own estimates differ"): [discrepancy_reason(r, tr) for r in pairs.itertuples()],
    })
    own = summaries[(summaries["scenario"] == "central") & (summaries["product"] == "all")]
    totals = reconciled_totals(own, pairs)
    totals = totals.assign(country=totals["country"].map(lambda c: _name(c, names, tr.lang)),
                           cell=[Md(f"{money(a)} → {money(b)}") for a, b in zip(totals["own_usd"], totals["reconciled_usd"])])
    total_table = totals.pivot_table(index=["country", "market", "direction"], columns="year", values="cell", aggfunc="first")
    imputed = pairs[~pairs["rule"].str.startswith("both")]
    imputed_list = sorted({Md(f"{md_text(pair_name(r))} ({md_text(product(r.market, r.product))}): "
                              f"{md_text(discrepancy_reason(r, tr))}") for r in imputed.itertuples()})
    return render("mirror.md.j2", tr.lang, matrices=matrices, n_pairs=len(pairs.groupby(["seller", "buyer"])),
                  n_both=len(both.groupby(["seller", "buyer", "market", "product"])),
                  disagree=[{"pair": pair_name(r), "product": product(r.market, r.product),
                             "year": int(r.year), "seller": money(r.value_usd_seller), "seller_low": money(r.mc_p05_usd_seller),
                             "seller_high": money(r.mc_p95_usd_seller), "buyer": money(r.value_usd_buyer),
                             "buyer_low": money(r.mc_p05_usd_buyer), "buyer_high": money(r.mc_p95_usd_buyer),
                             "reason": discrepancy_reason(r, tr)}
                            for r in disagree.itertuples()],
                  imputed=imputed_list, detail_table=md_table(detail, include_index=False),
                  total_table=md_table(_labels(total_table, tr)))


def write_network_example(project: Project) -> bool:
    """The training page that works the reconciliation through by hand on the fictional countries
    (``book/countries/network-example.md``); until two of them have results, it says what is missing."""
    from ..model.network import Z90, log_sigma, precision_weight

    page = project.book_dir / "countries" / "network-example.md"
    tr = Translator(project.lang)
    cached = _chapter_results(project, include_fictional=True)
    partners, draws = cached[1], cached[2]
    fictional = partners[partners["country"].str.startswith("X")] if not partners.empty else partners
    pairs = _pairs(cached, fictional, {k: v for k, v in draws.items() if k[0].startswith("X")}, "fictional")
    both = pairs[pairs["rule"].str.startswith("both") & (pairs["market"] == "drugs")] if not pairs.empty else pairs
    page.parent.mkdir(parents=True, exist_ok=True)
    if both.empty or both["quantity_kg_seller"].isna().all():
        write_if_changed(page, render("results-waiting.md.j2", tr.lang, label="network-example",
                                      title=tr("Worked example: two neighbours, one reconciled flow"),
                                      message=tr("This example needs the chapters of two fictional neighbours that trade "
                                                 "with each other, Ruritania and Borduria (parameters/XRU.yml and "
                                                 "parameters/XBO.yml): run make book.")))
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
    product = lambda m, p: product_label(p, tr) if m == "drugs" else _market(m, tr)  # noqa: E731
    write_if_changed(page, render(
        "network-example.md.j2", tr.lang, year=last, product=product_label(ex["product"], tr), seller=s, buyer=b,
        share=s["weight"] / (s["weight"] + b["weight"]), reconciled=ex["reconciled_usd"] / 1e6,
        reconciled_low=ex["reconciled_p05_usd"] / 1e6, reconciled_high=ex["reconciled_p95_usd"] / 1e6,
        reconciled_t=ex["reconciled_kg"] / 1e3, z90=Z90, reason=discrepancy_reason(ex, tr), disagree=bool(ex["disagree"]),
        matrix=bilateral_matrix(pairs, last, names, tr),
        imputed=sorted({f"{_name(r.seller, names, tr.lang)} → {_name(r.buyer, names, tr.lang)} ({product(r.market, r.product)}): "
                        f"{discrepancy_reason(r, tr)}" for r in pairs[~pairs["rule"].str.startswith("both")].itertuples()})))
    return True


def write_landing(project: Project, results: pd.DataFrame, names: dict[str, str], draws: dict) -> None:
    """The fragment the landing page includes (``book/_generated/landing.md``): the edition, and each
    country's total IFFs in the last year with its interval (from joint draws) and scenario span."""
    from .project import edition

    tr = Translator(project.lang)
    version, date = edition(project.root, project.lang)
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
            rows.append({tr("country"): Md(f"{{doc}}`{role_text(names.get(iso, iso))} </countries/{iso}/index>`"),
                         tr("total {year}").format(year=last_year): _money(by["central"], tr),
                         tr("90% interval"): Md(f"{_money(lo, tr)}–{_money(hi, tr)}"),
                         tr("scenarios"): Md(f"{_money(by['low'], tr)}–{_money(by['high'], tr)}")})
        table = md_table(pd.DataFrame(rows), include_index=False)
    path = project.book_dir / "_generated" / "landing.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    # the landing page links to the PDF edition only once `make pdf` has printed it (publish puts it beside the page)
    pdf = project.pdf_file.is_file()
    write_if_changed(path, render("landing.md.j2", tr.lang, version=version, date=date, rows=rows, last_year=last_year,
                                  table=table, pdf=pdf))
